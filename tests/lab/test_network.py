"""The lab's private Tor network: torrc per role, ports, keys, stopping by pid (unit), and the real
network brought up and down (``lab`` marker): readiness, onion fetch, key reuse, failures, no leftovers."""

from __future__ import annotations

import contextlib
import functools
import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
import stem

from onionwatch.errors import LabError
from onionwatch.lab import lab as lab_module
from onionwatch.lab.lab import PIDS_FILE, STATE_FILE, Lab, LabState, MarketEndpoint, controller
from onionwatch.lab.market import MARKET_NAMES
from onionwatch.lab.network import (
    PROBE_SOURCE,
    Deadline,
    Kind,
    OnionFetchError,
    PortReservations,
    Processes,
    TorNode,
    _cert_needs_renewal,
    fetch_until_ok,
    forget_onion_failures,
    owned_by,
    pid_alive,
    plan_nodes,
    port_accepts,
    render_torrc,
    socks_http_get,
    stop_pids,
    voting_schedule,
    wait_for,
)

# Ports of this module's labs (27100-27999 is the lab developer's range; others use 27000-27099, 28000+).
BASE_PORT = 27400


def leftovers(directory: Path) -> str:
    """Every process whose command line mentions the lab directory (pgrep -f), as text."""
    found = subprocess.run(["pgrep", "-af", f"{directory}/"], capture_output=True, text=True, check=False)
    return found.stdout.strip()


def assert_all_gone(directory: Path, pids: dict[str, int]) -> None:
    alive = {role: pid for role, pid in pids.items() if pid_alive(pid)}
    assert alive == {}, f"still running: {alive}"
    assert leftovers(directory) == ""


# --- torrc, ports, keys (no tor needed) -----------------------------------------------------------


def _render(node: TorNode, **kwargs: object) -> list[str]:
    text = render_torrc(
        node, data_dir=Path("/lab/tor/x/data"), key_dir=None, authorities=["DirAuthority a"], **kwargs
    )  # type: ignore[arg-type]
    return text.splitlines()


def test_exit_torrc_accepts_loopback_then_everything() -> None:
    lines = _render(TorNode("exit0", "exit0", Kind.EXIT, or_port=1))
    policies = [line for line in lines if line.startswith("ExitPolicy ")]
    # Order matters: a loopback-only policy is summarized as "reject all" and clients find no exit.
    assert policies == ["ExitPolicy accept 127.0.0.0/8:*", "ExitPolicy accept *:*", "ExitPolicy reject *:*"]
    assert "ExitPolicyRejectPrivate 0" in lines and "ORPort 1" in lines
    # Only authorities are directory caches: no client ever asks a relay that lags behind them.
    assert "DirCache 0" in lines and not any(line.startswith("DirPort") for line in lines)
    assert "TestingTorNetwork 1" in lines and "DirAuthority a" in lines


def test_onion_torrc_starts_offline_with_one_service_per_market() -> None:
    node = TorNode("onion", "onion", Kind.ONION, control_port=9)
    lines = _render(node, services={Path("/k/hs/a"): 1001, Path("/k/hs/b"): 1002})
    assert "DisableNetwork 1" in lines and "ControlPort 127.0.0.1:9" in lines
    assert "VanguardsLiteEnabled 0" in lines and "CookieAuthentication 1" in lines
    assert lines.count("HiddenServiceVersion 3") == 2
    assert lines.index("HiddenServiceDir /k/hs/a") < lines.index("HiddenServicePort 80 127.0.0.1:1001")
    assert "HiddenServicePort 80 127.0.0.1:1002" in lines
    assert not any(line.startswith(("ORPort", "DirPort")) for line in lines)


def test_client_torrc_listens_on_loopback_only() -> None:
    lines = _render(TorNode("client", "client", Kind.CLIENT, control_port=7, socks_port=8))
    assert "SocksPort 127.0.0.1:8" in lines and "ControlPort 127.0.0.1:7" in lines
    assert "DisableNetwork 1" not in lines


def test_authority_torrc_votes_fast_and_never_exits() -> None:
    lines = _render(TorNode("auth0", "auth0", Kind.AUTHORITY, or_port=1, dir_port=2), hsdirs=["AB", "CD"])
    assert {"V3AuthoritativeDirectory 1", "ExitRelay 0", "V3AuthVotingInterval 10"} <= set(lines)
    assert {"DirPort 2", "TestingDirAuthVoteHSDir $AB,$CD", "AuthDirTestReachability 0"} <= set(lines)
    assert "DirCache 0" not in lines


def test_first_consensus_is_scheduled_on_the_voting_grid() -> None:
    # Valid-after times sit every 10 s from midnight UTC, shifted by the offset: 12:00:07 -> 7.
    noon = datetime(2026, 11, 28, 12, 0, 7, tzinfo=UTC).timestamp()
    assert voting_schedule(noon) == [
        "TestingV3AuthInitialVotingInterval 10",
        "TestingV3AuthVotingStartOffset 7",
    ]
    assert voting_schedule(noon + 0.2) == [
        "TestingV3AuthInitialVotingInterval 10",
        "TestingV3AuthVotingStartOffset 8",  # never earlier than asked
    ]


def test_ports_skip_busy_ones_and_stay_held_until_released() -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        base = busy.getsockname()[1]
        ports = PortReservations(base)
        try:
            taken = ports.take()
            assert taken > base  # the busy base port was skipped
            with socket.socket() as other, pytest.raises(OSError):
                other.bind(("127.0.0.1", taken))  # another lab cannot grab it meanwhile
            ports.release([taken])
            with socket.socket() as other:
                other.bind(("127.0.0.1", taken))
        finally:
            ports.close()


def test_probes_never_come_from_the_address_they_probe() -> None:
    # From 127.0.0.1 a probe of a not-yet-listening port in the ephemeral range can connect to itself
    # and steal the port from the server about to bind it; probes come from another address.
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        port = server.getsockname()[1]
        assert port_accepts(port)
        peer, address = server.accept()
        peer.close()
    assert address[0] == PROBE_SOURCE != "127.0.0.1"
    assert not port_accepts(port)


def test_plan_has_every_role_with_distinct_ports() -> None:
    ports = PortReservations(BASE_PORT + 500)
    try:
        nodes = plan_nodes(ports)
    finally:
        ports.close()
    roles = [n.role for n in nodes]
    assert roles == ["auth0", "auth1", "auth2", "relay-middle0", "exit0", "exit1", "onion", "client"]
    used = [p for n in nodes for p in (n.or_port, n.dir_port, n.control_port, n.socks_port) if p]
    # OR ports for 6 relays, DirPorts for the 3 authorities, onion control, client control + SOCKS.
    assert len(used) == len(set(used)) == 6 + 3 + 1 + 2


def test_authority_certificate_with_a_dir_address_is_renewed(tmp_path: Path) -> None:
    # tor prefers a certificate's address over the DirAuthority line, and lab ports change per run.
    cert = tmp_path / "authority_certificate"
    body = "dir-key-certificate-version 3\nfingerprint AB\ndir-key-expires 2099-01-01 00:00:00\n"
    cert.write_text(body)
    assert not _cert_needs_renewal(cert)
    cert.write_text(body + "dir-address 127.0.0.1:7000\n")
    assert _cert_needs_renewal(cert)
    cert.write_text(body.replace("2099", "2000"))
    assert _cert_needs_renewal(cert)
    assert _cert_needs_renewal(tmp_path / "missing")


def test_wait_for_times_out_with_what_it_waited_for() -> None:
    with pytest.raises(LabError, match="timed out after 0s waiting for the moon"):
        wait_for("the moon", lambda: None, Deadline(0.2), interval=0.05)


def test_wait_for_stops_when_a_watched_process_dies() -> None:
    def watch() -> None:
        raise LabError("exit0 exited with code 1")

    with pytest.raises(LabError, match="exit0 exited"):
        wait_for("anything", lambda: None, Deadline(10), watch=watch)


# --- stopping by pid -------------------------------------------------------------------------------


@pytest.fixture
def stubborn(tmp_path: Path) -> Iterator[subprocess.Popen[bytes]]:
    """A process that ignores SIGTERM and names tmp_path on its command line, like a lab process."""
    code = (
        "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); "
        "print('ready', flush=True); time.sleep(60)"
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", code, f"{tmp_path}/marker"], stdout=subprocess.PIPE, start_new_session=True
    )
    assert proc.stdout is not None
    proc.stdout.readline()  # SIGTERM is ignored from here on
    yield proc
    if proc.poll() is None:
        proc.kill()
    proc.wait()
    proc.stdout.close()


def test_stop_kills_what_ignores_sigterm(stubborn: subprocess.Popen[bytes], tmp_path: Path) -> None:
    assert owned_by(stubborn.pid, f"{tmp_path}/")
    started = time.monotonic()
    stopped = stop_pids({"stubborn": stubborn.pid}, f"{tmp_path}/", grace=0.5)
    assert stopped == ["stubborn"]
    assert stubborn.wait(timeout=5) == -signal.SIGKILL
    assert time.monotonic() - started < 5


def test_stop_leaves_a_reused_pid_alone(stubborn: subprocess.Popen[bytes], tmp_path: Path) -> None:
    # The pid does not name this lab's directory (e.g. the system reused it): not ours to stop.
    assert stop_pids({"auth0": stubborn.pid}, f"{tmp_path}-other/", grace=0.2) == []
    assert stubborn.poll() is None


def test_stop_of_gone_pids_is_a_no_op(tmp_path: Path) -> None:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    assert stop_pids({"client": proc.pid}, f"{tmp_path}/") == []


# --- the real network ------------------------------------------------------------------------------


def fetch_healthz(state: LabState, market: str) -> httpx.Response:
    url = f"{state.markets[market].url}healthz"
    with httpx.Client(
        proxy=f"socks5h://{state.socks_host}:{state.socks_port}", trust_env=False, timeout=60
    ) as http:
        return http.get(url)


@pytest.mark.lab
def test_up_fetch_down_and_up_again_with_the_same_onion(tmp_path: Path) -> None:
    directory = tmp_path / "lab"
    messages: list[str] = []
    lab = Lab(directory, base_port=BASE_PORT, progress=messages.append)
    try:
        state = lab.up(timeout=120)

        # The state file says what runs and where.
        recorded = LabState.model_validate_json((directory / STATE_FILE).read_text())
        assert recorded == state
        assert not (directory / PIDS_FILE).exists()
        assert "alive" not in json.loads((directory / STATE_FILE).read_text())
        assert set(state.markets) == set(MARKET_NAMES)
        for market in state.markets.values():
            assert re.fullmatch(r"[a-z2-7]{56}\.onion", market.onion)
            assert market.url == f"http://{market.onion}/"
        onions = {name: market.onion for name, market in state.markets.items()}
        assert len(set(onions.values())) == len(MARKET_NAMES)
        assert state.control_cookie.is_file() and state.started_at.utcoffset() is not None
        tors = {"auth0", "auth1", "auth2", "relay-middle0", "exit0", "exit1", "onion", "client"}
        assert set(state.pids) == tors | {f"market-{name}" for name in MARKET_NAMES}
        assert all(pid_alive(pid) for pid in state.pids.values())
        assert 0 < state.ready_seconds < 120
        assert "consensus: 6/6 relays running" in messages
        n = len(MARKET_NAMES)
        assert "client bootstrapped 100%" in messages and f"onion descriptors uploaded {n}/{n}" in messages

        # A real fetch through the client's SOCKS port for every market, and the control port answers.
        for name in MARKET_NAMES:
            assert fetch_healthz(state, name).status_code == 200
        with controller(state) as ctl:
            assert "PROGRESS=100" in ctl.get_info("status/bootstrap-phase")

        status = Lab.status(directory)
        assert status is not None and status.running

        with pytest.raises(LabError, match="already running"):
            Lab(directory, base_port=BASE_PORT).up(timeout=30)
        assert all(pid_alive(pid) for pid in state.pids.values())  # the refused `up` touched nothing
    finally:
        stopped = lab.down()
    assert sorted(stopped) == sorted(state.pids)
    assert_all_gone(directory, state.pids)
    assert Lab.status(directory) is None
    assert lab.down() == []  # idempotent

    # Keys are reused: same onion addresses, same authority identities.
    with Lab(directory, base_port=BASE_PORT) as again:
        assert {name: market.onion for name, market in again.markets.items()} == onions
        assert fetch_healthz(again, MARKET_NAMES[0]).status_code == 200
    assert_all_gone(directory, again.pids)


@pytest.mark.lab
def test_a_market_that_cannot_bind_fails_the_launch_cleanly(tmp_path: Path) -> None:
    directory = tmp_path / "lab"
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        taken = busy.getsockname()[1]
        # argparse keeps the last --port: the backend tries the busy port and exits.
        lab = Lab(directory, base_port=BASE_PORT + 100, market_args={"nightshade": ["--port", str(taken)]})
        with pytest.raises(LabError, match=r"market-nightshade exited with code \d+ .*log: "):
            lab.up(timeout=60)
    assert leftovers(directory) == ""
    assert not (directory / STATE_FILE).exists() and not (directory / PIDS_FILE).exists()


@pytest.mark.lab
def test_an_invalid_tor_binary_is_a_clear_error(tmp_path: Path) -> None:
    directory = tmp_path / "lab"
    lab = Lab(directory, base_port=BASE_PORT + 200, tor_binary=str(tmp_path / "no-such-tor"))
    with pytest.raises(LabError, match="no-such-tor"):
        lab.up(timeout=30)
    assert leftovers(directory) == ""
    assert Lab.status(directory) is None


@pytest.mark.lab
def test_timeout_and_interrupt_stop_everything_started(tmp_path: Path) -> None:
    directory = tmp_path / "lab"
    # A consensus takes more than 3 s on any machine.
    with pytest.raises(LabError, match=r"timed out after 3s waiting for (market|a consensus)"):
        Lab(directory, base_port=BASE_PORT + 300).up(timeout=3.0)
    assert leftovers(directory) == ""

    def interrupt(message: str) -> None:
        if message.startswith("consensus:"):
            raise KeyboardInterrupt  # as a Ctrl-C in the terminal of `lab up` would

    with pytest.raises(KeyboardInterrupt):
        Lab(directory, base_port=BASE_PORT + 300, progress=interrupt).up(timeout=60)
    assert leftovers(directory) == ""
    assert not (directory / PIDS_FILE).exists()


@pytest.mark.lab
def test_down_from_another_process_stops_a_launch_that_was_killed(tmp_path: Path) -> None:
    """A `lab up` killed outright leaves pids.json; `lab down` still finds and stops its processes."""
    directory = tmp_path / "lab"
    code = (
        "import os, signal, sys\n"
        "from pathlib import Path\n"
        "from onionwatch.lab.lab import Lab\n"
        "def die(message):\n"
        "    if message.startswith('consensus:'):\n"
        "        os.kill(os.getpid(), signal.SIGKILL)\n"
        f"Lab(Path({str(directory)!r}), base_port={BASE_PORT + 400}, progress=die).up(timeout=60)\n"
    )
    killed = subprocess.run([sys.executable, "-c", code], capture_output=True, timeout=120, check=False)
    assert killed.returncode == -signal.SIGKILL
    pids = json.loads((directory / PIDS_FILE).read_text())
    assert len(pids) >= 7 and any(pid_alive(pid) for pid in pids.values())
    with pytest.raises(LabError, match="already running"):
        Lab(directory, base_port=BASE_PORT + 400).up(timeout=30)
    assert sorted(Lab.stop(directory)) == sorted(pids)
    assert_all_gone(directory, pids)


def test_status_of_a_lab_that_never_ran(tmp_path: Path) -> None:
    assert Lab.status(tmp_path) is None
    assert Lab.stop(tmp_path) == []


def test_status_marks_dead_processes(tmp_path: Path) -> None:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    state = {
        "directory": str(tmp_path),
        "socks_port": 1,
        "control_port": 2,
        "control_cookie": str(tmp_path / "cookie"),
        "markets": {},
        "pids": {"client": proc.pid, "me": os.getpid()},
        "started_at": "2026-01-01T00:00:00Z",
        "ready_seconds": 1.0,
    }
    (tmp_path / STATE_FILE).write_text(json.dumps(state))
    status = Lab.status(tmp_path)
    assert status is not None
    # Our own pid runs but does not name the lab directory (a reused pid): not the lab's, not alive.
    assert status.alive == {"client": False, "me": False} and not status.running
    assert Lab.stop(tmp_path) == []
    assert Lab.status(tmp_path) is None


def test_corrupt_records_are_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / PIDS_FILE).write_text("[not, json")
    with pytest.raises(LabError, match="unreadable lab pids file"):
        Lab.stop(tmp_path)
    (tmp_path / PIDS_FILE).unlink()
    (tmp_path / STATE_FILE).write_text('{"directory": 1}')
    with pytest.raises(LabError, match="unreadable lab state file"):
        Lab.status(tmp_path)
    with pytest.raises(LabError, match="unreadable lab state file"):
        Lab(tmp_path, base_port=BASE_PORT).up(timeout=5)


@pytest.mark.lab
def test_two_labs_with_the_same_base_port_at_once(tmp_path: Path) -> None:
    """Several labs share this machine (tests, developers): ports are checked and held, never assumed."""
    labs = [Lab(tmp_path / name, base_port=BASE_PORT + 500, markets=MARKET_NAMES[:1]) for name in ("a", "b")]
    with ThreadPoolExecutor(max_workers=2) as pool:
        launches = [pool.submit(lab.up, 120.0) for lab in labs]
        outcomes = [launch.exception() or launch.result() for launch in launches]
    try:
        states = [outcome for outcome in outcomes if isinstance(outcome, LabState)]
        assert len(states) == 2, outcomes
        ports = [
            {s.socks_port, s.control_port, *(m.backend_port for m in s.markets.values())} for s in states
        ]
        assert not ports[0] & ports[1]
        for state in states:
            assert fetch_healthz(state, MARKET_NAMES[0]).status_code == 200
    finally:
        for lab in labs:
            lab.down()
    for lab in labs:
        assert leftovers(lab.directory) == ""


# --- the first onion fetch (fakes: the launch-time races of a real network cannot be forced) ------


ONION = "a" * 56 + ".onion"


class FakeTorClient:
    """A SOCKS5 server and a controller that stand in for the client tor.

    Like a client tor that is stuck on a failed onion-service state (a lost introduction, a
    descriptor it missed), it fails every request for the onion until NEWNYM, then serves HTTP 200.
    ``stall`` holds the SOCKS handshake open without an answer instead of failing it.
    """

    def __init__(self, *, stuck: bool = True, stall: bool = False) -> None:
        self.stuck, self.stall = stuck, stall
        self.newnyms = 0
        self.requests: list[bytes] = []
        #: per connection: True when the client closed it (EOF) after the answer
        self.closed_by_client: list[bool] = []
        self._server = socket.create_server(("127.0.0.1", 0))
        self.port = self._server.getsockname()[1]
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self._server.accept()
            except OSError:
                return
            with conn:
                conn.settimeout(5)
                with contextlib.suppress(OSError):  # the client went away: nothing to record
                    self._answer(conn)

    def _answer(self, conn: socket.socket) -> None:
        assert conn.recv(3) == b"\x05\x01\x00"
        conn.sendall(b"\x05\x00")
        request = conn.recv(512)
        self.requests.append(request)
        if self.stall:
            self.closed_by_client.append(_closed_by_peer(conn))
            return
        if self.stuck:
            conn.sendall(b"\x05\x01\x00\x01" + bytes(6))  # general failure
        else:
            conn.sendall(b"\x05\x00\x00\x01\x7f\x00\x00\x01\x00\x50")
            conn.recv(4096)
            conn.sendall(b"HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok")
        self.closed_by_client.append(_closed_by_peer(conn))

    # the stem Controller calls the lab makes
    def get_newnym_wait(self) -> float:
        return 0.0

    def signal(self, sig: object) -> None:
        assert sig == stem.Signal.NEWNYM
        self.newnyms += 1
        self.stuck = False

    def close(self) -> None:
        # Closing alone does not wake an accept() blocked in another thread; shutting down does.
        with contextlib.suppress(OSError):
            self._server.shutdown(socket.SHUT_RDWR)
        self._server.close()
        self._thread.join(timeout=5)


def _closed_by_peer(conn: socket.socket) -> bool:
    try:
        return conn.recv(1) == b""
    except ConnectionResetError:  # closed with our answer unread
        return True


@pytest.fixture
def fake_tor() -> Iterator[FakeTorClient]:
    tor = FakeTorClient()
    yield tor
    tor.close()


def test_socks_get_asks_the_proxy_to_resolve_the_onion(fake_tor: FakeTorClient) -> None:
    fake_tor.stuck = False
    assert socks_http_get(fake_tor.port, f"http://{ONION}/healthz", 5.0) == 200
    # CONNECT (1) to a domain name (3) on port 80, the name left to the proxy as socks5h:// does.
    assert fake_tor.requests == [b"\x05\x01\x00\x03" + bytes([62]) + ONION.encode() + b"\x00\x50"]


def test_socks_get_closes_its_socket_when_tor_refuses(fake_tor: FakeTorClient) -> None:
    # httpx left this socket to the garbage collector: a ResourceWarning, an error in CI.
    with pytest.raises(OnionFetchError, match="general SOCKS server failure") as failed:
        socks_http_get(fake_tor.port, f"http://{ONION}/healthz", 5.0)
    fake_tor.close()  # joins the server thread: it has seen the end of the connection
    assert failed.value is not None and fake_tor.closed_by_client == [True]


def test_socks_get_gives_up_on_a_handshake_tor_holds() -> None:
    # Tor holds the SOCKS reply until the onion service answers: up to 2 minutes for a lost
    # introduction, and httpx waits all of it whatever its timeout.
    tor = FakeTorClient(stall=True)
    try:
        started = time.monotonic()
        with pytest.raises(OnionFetchError, match=r"no answer within 0\.5s"):
            socks_http_get(tor.port, f"http://{ONION}/healthz", 0.5)
        assert time.monotonic() - started < 3
    finally:
        tor.close()
    assert tor.closed_by_client == [True]


def test_first_fetch_sends_newnym_between_attempts(fake_tor: FakeTorClient) -> None:
    url = f"http://{ONION}/healthz"
    attempts = fetch_until_ok(
        "the fake onion",
        functools.partial(socks_http_get, fake_tor.port, url),
        Deadline(10),
        renew=functools.partial(forget_onion_failures, fake_tor),
        pause=0.01,
    )
    assert (attempts, fake_tor.newnyms) == (2, 1)


def test_first_fetch_that_never_works_says_why(fake_tor: FakeTorClient) -> None:
    # Retrying the same request without NEWNYM, as the lab used to, never gets past the stuck state.
    with pytest.raises(LabError) as failed:
        fetch_until_ok(
            "the fake onion",
            functools.partial(socks_http_get, fake_tor.port, f"http://{ONION}/healthz"),
            Deadline(0.3),
            renew=lambda: None,
            pause=0.05,
            hint="; see the log",
        )
    message = str(failed.value)
    assert message.startswith("timed out after 0s waiting for the fake onion (")
    assert re.search(
        r"\((\d+) attempts; the last failed with: .*general SOCKS server failure\); see the log$", message
    )
    assert all(fake_tor.closed_by_client)


def test_newnym_waits_for_tors_rate_limit() -> None:
    class Controller:
        def __init__(self) -> None:
            self.wait = 4.0
            self.signals: list[object] = []

        def get_newnym_wait(self) -> float:
            return self.wait

        def signal(self, sig: object) -> None:
            self.signals.append(sig)

    ctl = Controller()
    # A NEWNYM within 10 s of the last is deferred by Tor, and could land in the middle of the next attempt.
    assert not forget_onion_failures(ctl)  # type: ignore[arg-type]
    ctl.wait = 0.0
    assert forget_onion_failures(ctl)  # type: ignore[arg-type]
    assert ctl.signals == [stem.Signal.NEWNYM]


def test_lab_verify_fetch_recovers_from_a_stuck_client(
    fake_tor: FakeTorClient, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The launch's own first fetch: NEWNYM between attempts, every socket closed, progress said."""

    @contextlib.contextmanager
    def connect(port: int, deadline: Deadline, watch: object) -> Iterator[FakeTorClient]:
        assert port == 9
        yield fake_tor

    monkeypatch.setattr(lab_module, "connect_controller", connect)
    messages: list[str] = []
    lab = Lab(tmp_path, progress=messages.append)
    url = f"http://{ONION}/"
    state = LabState(
        directory=tmp_path,
        socks_port=fake_tor.port,
        control_port=9,
        control_cookie=tmp_path / "cookie",
        markets={"m": MarketEndpoint(name="m", onion=ONION, backend_port=1, url=url)},
        pids={},
        started_at=datetime.now(UTC),
        ready_seconds=0.0,
    )
    lab._verify_fetch(state, Processes(tmp_path / "logs", lambda pids: None), Deadline(10))
    assert fake_tor.newnyms == 1
    assert messages == ["onion fetch through the client works 1/1 (after 2 attempts)"]
    fake_tor.close()
    assert fake_tor.closed_by_client == [True, True]
