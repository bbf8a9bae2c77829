"""The lab's private Tor network on 127.0.0.1: keys, one torrc per role, the two-stage launch,
readiness checks and stopping processes by pid.

Layout under the lab directory (see notes/tornet.md for why each torrc setting is there)::

    keys/<role>/        KeyDirectory of each authority/relay (reused: stable fingerprints)
    keys/hs/<market>/   HiddenServiceDir of each market (reused: stable onion addresses)
    tor/<role>/         torrc + DataDirectory, wiped before every start (a cold start)
    logs/<role>.log     stdout/stderr of every process the lab starts

This module knows nothing about markets beyond "a name and a backend port"; :mod:`onionwatch.lab.lab`
composes it with the market backends and the state file.
"""

from __future__ import annotations

import contextlib
import functools
import json
import logging
import math
import os
import re
import shutil
import signal
import socket
import subprocess
import threading
import time
import urllib.parse
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from pathlib import Path
from typing import TypeVar

import httpx
import stem
import stem.connection
import stem.control

from onionwatch.errors import LabError

log = logging.getLogger(__name__)

Progress = Callable[[str], None]
T = TypeVar("T")

#: how often readiness is polled; short, so startup is never padded by a fixed sleep
POLL_INTERVAL = 0.1
#: how long a process gets between SIGTERM and SIGKILL
STOP_GRACE = 5.0
#: seconds between consensuses (tor's minimum with 2 s vote and distribution delays); also the
#: first interval, so that exactly one first consensus can be scheduled (see voting_schedule)
VOTING_INTERVAL = 10
#: the first consensus is scheduled this long after the authorities and relays start: relays
#: publish their descriptors about 1.5 s after they start and authorities vote 4 s before a
#: consensus, so earlier consensuses miss relays (and the next comes only 10 s later)
FIRST_CONSENSUS_LEAD = 7.0
#: source address of readiness probes. When the lab's ports lie in the kernel's ephemeral range
#: (a base port set above 32767), a probe from 127.0.0.1 to a port nobody listens on yet can be
#: given that very port as its source and connect to itself (TCP simultaneous open), which then
#: keeps the real server from binding.
PROBE_SOURCE = "127.0.0.2"
#: lifetime of an authority's signing certificate; renewed a month before it ends
CERT_MONTHS = 12

# Settings every tor of the network shares (notes/tornet.md, "torrc settings by role").
_COMMON_TORRC = (
    "TestingTorNetwork 1",
    "AssumeReachable 1",
    "PathsNeededToBuildCircuits 0.25",
    "V3AuthNIntervalsValid 2",
    "TestingDirAuthVoteExit *",
    "TestingDirAuthVoteGuard *",
    "TestingMinExitFlagThreshold 0",
    "ShutdownWaitLength 0",
    "RunAsDaemon 0",
    "Log notice stdout",
)
_RELAY_TORRC = ("Address 127.0.0.1", "SocksPort 0", "ContactInfo onionwatch-lab@localhost")
# Only the authorities are directory caches (and so HSDirs). In the network's first minute every
# relay republishes its descriptor as it self-tests, the consensus changes every 5 s, and a relay
# cache lags its authorities by a second or two; a client or onion service that asks a lagging
# cache for microdescriptors retries only 10 s later. Authorities always serve what they voted.
_NON_CACHE_TORRC = ("DirCache 0",)
_AUTHORITY_TORRC = (
    "AuthoritativeDirectory 1",
    "V3AuthoritativeDirectory 1",
    "ExitRelay 0",
    "ExitPolicy reject *:*",
    f"V3AuthVotingInterval {VOTING_INTERVAL}",
    "TestingV3AuthInitialVoteDelay 2",
    "V3AuthVoteDelay 2",
    "TestingV3AuthInitialDistDelay 2",
    "V3AuthDistDelay 2",
    # Vote Running for every relay with a descriptor instead of waiting for reachability tests (run
    # every 10 s on a subset of relays): on loopback every relay is reachable, and the first
    # consensus then lists every relay that published in time. The lab watches its pids itself.
    "AuthDirTestReachability 0",
)
_MIDDLE_TORRC = (*_NON_CACHE_TORRC, "ExitRelay 0", "ExitPolicy reject *:*")
# A loopback-only exit policy is summarized as "reject all" in microdescriptors and clients then
# find no exit; accepting *:* keeps the summary honest (notes/tornet.md).
_EXIT_TORRC = (
    *_NON_CACHE_TORRC,
    "ExitRelay 1",
    "ExitPolicyRejectPrivate 0",
    "ExitPolicyRejectLocalInterfaces 0",
    "ExitPolicy accept 127.0.0.0/8:*",
    "ExitPolicy accept *:*",
    "ExitPolicy reject *:*",
)
# Vanguards-lite on a young, partial consensus keeps intro circuits stuck for over a minute.
_EDGE_TORRC = ("CookieAuthentication 1", "VanguardsLiteEnabled 0")


class Kind(StrEnum):
    AUTHORITY = "authority"
    MIDDLE = "middle"
    EXIT = "exit"
    ONION = "onion"
    CLIENT = "client"


@dataclass(frozen=True)
class TorNode:
    """One tor process of the network and the ports it listens on."""

    role: str
    nickname: str
    kind: Kind
    or_port: int | None = None
    dir_port: int | None = None
    control_port: int | None = None
    socks_port: int | None = None

    @property
    def is_relay(self) -> bool:
        return self.kind in (Kind.AUTHORITY, Kind.MIDDLE, Kind.EXIT)


@dataclass(frozen=True)
class AuthorityIdentity:
    v3ident: str
    fingerprint: str


# --- deadlines and polling ---------------------------------------------------------------------


class Deadline:
    """One overall timeout shared by every wait of a launch."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self._end = time.monotonic() + seconds

    def remaining(self) -> float:
        return max(0.0, self._end - time.monotonic())

    @property
    def expired(self) -> bool:
        return time.monotonic() >= self._end


def wait_for(
    what: str,
    check: Callable[[], T | None],
    deadline: Deadline,
    *,
    watch: Callable[[], None] = lambda: None,
    interval: float = POLL_INTERVAL,
) -> T:
    """Poll ``check`` until it returns a value; ``watch`` raises if a process died meanwhile."""
    while True:
        watch()
        result = check()
        if result is not None:
            return result
        if deadline.expired:
            raise LabError(f"timed out after {deadline.seconds:.0f}s waiting for {what}")
        time.sleep(min(interval, deadline.remaining()) or interval)


# --- ports -------------------------------------------------------------------------------------


class PortReservations:
    """Free loopback ports from a base upward, each held bound until the process that uses it starts.

    Holding the socket (rather than testing and closing it) keeps another lab starting at the same
    moment from picking the same port during our multi-second launch.
    """

    def __init__(self, base_port: int) -> None:
        self._next = base_port
        self._held: dict[int, socket.socket] = {}

    def take(self) -> int:
        while self._next < 65536:
            port = self._next
            self._next += 1
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                sock.close()
                continue
            self._held[port] = sock
            return port
        raise LabError("no free loopback port left above the lab's base port")

    def release(self, ports: Iterable[int | None]) -> None:
        for port in ports:
            if port is not None and port in self._held:
                self._held.pop(port).close()

    def close(self) -> None:
        self.release(list(self._held))


def plan_nodes(
    ports: PortReservations, *, authorities: int = 3, middles: int = 1, exits: int = 2
) -> list[TorNode]:
    """Roles and ports of every tor: authorities and relays first, then the onion service and client."""
    nodes: list[TorNode] = []
    relays = (
        [(f"auth{i}", f"auth{i}", Kind.AUTHORITY) for i in range(authorities)]
        + [(f"relay-middle{i}", f"middle{i}", Kind.MIDDLE) for i in range(middles)]
        + [(f"exit{i}", f"exit{i}", Kind.EXIT) for i in range(exits)]
    )
    for role, nickname, kind in relays:
        dir_port = ports.take() if kind is Kind.AUTHORITY else None
        nodes.append(TorNode(role, nickname, kind, or_port=ports.take(), dir_port=dir_port))
    nodes.append(TorNode("onion", "onion", Kind.ONION, control_port=ports.take()))
    nodes.append(TorNode("client", "client", Kind.CLIENT, control_port=ports.take(), socks_port=ports.take()))
    return nodes


# --- keys --------------------------------------------------------------------------------------


def private_dir(path: Path) -> Path:
    """Create ``path`` (and parents) with the 0700 mode tor insists on for key and data dirs."""
    path.mkdir(parents=True, exist_ok=True)
    path.chmod(0o700)
    return path


def _run(argv: Sequence[str], what: str, *, stdin: str = "") -> str:
    try:
        done = subprocess.run(argv, input=stdin, capture_output=True, text=True, timeout=60, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise LabError(f"cannot run {what} ({argv[0]}): {exc}") from exc
    if done.returncode != 0:
        detail = (done.stderr or done.stdout).strip().splitlines()
        raise LabError(f"{what} failed with code {done.returncode}: {detail[-1] if detail else 'no output'}")
    return done.stdout


def ensure_authority_certificate(gencert: str, key_dir: Path) -> str:
    """Create the authority's v3 identity key once and a signing certificate when needed; return the
    authority's v3ident (the certificate's fingerprint, which only depends on the identity key)."""
    identity, cert = key_dir / "authority_identity_key", key_dir / "authority_certificate"
    if not identity.is_file() or _cert_needs_renewal(cert):
        log.info("generating authority keys in %s", key_dir)
        argv = [gencert, "--passphrase-fd", "0", "-m", str(CERT_MONTHS)]
        if not identity.is_file():
            argv.append("--create-identity-key")
        argv += ["-i", str(identity), "-s", str(key_dir / "authority_signing_key"), "-c", str(cert)]
        _run(argv, "tor-gencert", stdin="\n")  # an empty passphrase
    for line in cert.read_text().splitlines():
        if line.startswith("fingerprint "):
            return line.split()[1]
    raise LabError(f"{cert} has no fingerprint line; delete {key_dir} to regenerate")


def _cert_needs_renewal(cert: Path) -> bool:
    """Missing, expiring within a month, or naming a dir address.

    The certificate is made without ``-a``: tor prefers a certificate's address over the
    DirAuthority line, and the lab's ports change from run to run.
    """
    try:
        text = cert.read_text()
    except FileNotFoundError:
        return True
    if "\ndir-address " in text:
        return True
    match = re.search(r"^dir-key-expires (\S+ \S+)$", text, re.MULTILINE)
    if match is None:
        return True
    expires = datetime.strptime(match.group(1), "%Y-%m-%d %H:%M:%S").replace(tzinfo=UTC)
    return expires - datetime.now(UTC) < timedelta(days=31)


def identity_fingerprints(tor: str, key_dirs: Mapping[str, Path], scratch: Path) -> dict[str, str]:
    """Relay identity fingerprints by role (creating the keys on a first start), listed concurrently."""
    procs: dict[str, subprocess.Popen[str]] = {}
    try:
        for role, key_dir in key_dirs.items():
            data_dir = private_dir(scratch / role)
            argv = [tor, "--ignore-missing-torrc", "-f", os.devnull, "--list-fingerprint", "--orport", "1"]
            argv += ["--datadirectory", str(data_dir), "--keydirectory", str(key_dir)]
            procs[role] = subprocess.Popen(
                argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
            )
    except OSError as exc:
        raise LabError(f"cannot run tor ({tor}): {exc}") from exc
    finally:
        outputs = {role: proc.communicate(timeout=60) for role, proc in procs.items()}
    fingerprints: dict[str, str] = {}
    for role, (out, _) in outputs.items():
        # The last line is "<nickname> <fingerprint in groups of 4>".
        match = re.search(r"^\S+ ((?:[0-9A-F]{4} ?){10})$", out, re.MULTILINE)
        if procs[role].returncode != 0 or match is None:
            lines = out.strip().splitlines()
            raise LabError(f"tor --list-fingerprint failed for {role}: {lines[-1] if lines else 'no output'}")
        fingerprints[role] = match.group(1).replace(" ", "")
    shutil.rmtree(scratch, ignore_errors=True)
    return fingerprints


# --- torrc -------------------------------------------------------------------------------------


def voting_schedule(first_valid_after: float) -> list[str]:
    """Authority torrc lines that put the first consensus' valid-after at ``first_valid_after``.

    Valid-after times sit on a grid of ``VOTING_INTERVAL`` seconds from midnight UTC, shifted by
    TestingV3AuthVotingStartOffset. Left to the wall clock, the first consensus came 4-9 s after
    launch: too early, it misses relays and the complete one follows 10 s later.
    """
    at = math.ceil(first_valid_after)
    return [
        f"TestingV3AuthInitialVotingInterval {VOTING_INTERVAL}",
        f"TestingV3AuthVotingStartOffset {at % VOTING_INTERVAL}",
    ]


def dir_authority_lines(nodes: Sequence[TorNode], identities: Mapping[str, AuthorityIdentity]) -> list[str]:
    return [
        f"DirAuthority {n.nickname} orport={n.or_port} no-v2 v3ident={identities[n.role].v3ident} "
        f"127.0.0.1:{n.dir_port} {identities[n.role].fingerprint}"
        for n in nodes
        if n.kind is Kind.AUTHORITY
    ]


def render_torrc(
    node: TorNode,
    *,
    data_dir: Path,
    key_dir: Path | None,
    authorities: Sequence[str],
    hsdirs: Sequence[str] = (),
    services: Mapping[Path, int] | None = None,
) -> str:
    """The torrc of one role.

    ``authorities`` are the DirAuthority lines, ``hsdirs`` the fingerprints the authorities vote
    HSDir, ``services`` maps each HiddenServiceDir to its backend port.
    """
    lines = [
        *_COMMON_TORRC,
        f"DataDirectory {data_dir}",
        f"Nickname {node.nickname}",
    ]
    if key_dir is not None:
        lines.append(f"KeyDirectory {key_dir}")
    lines += authorities
    if node.is_relay:
        lines += [*_RELAY_TORRC, f"ORPort {node.or_port}"]
    if node.dir_port is not None:
        lines.append(f"DirPort {node.dir_port}")
    if node.kind is Kind.AUTHORITY:
        lines.append(f"TestingDirAuthVoteHSDir {','.join(f'${fp}' for fp in hsdirs) or '*'}")
    lines += {
        Kind.AUTHORITY: _AUTHORITY_TORRC,
        Kind.MIDDLE: _MIDDLE_TORRC,
        Kind.EXIT: _EXIT_TORRC,
        Kind.ONION: _EDGE_TORRC,
        Kind.CLIENT: _EDGE_TORRC,
    }[node.kind]
    if node.kind is Kind.ONION:
        # Start offline: the lab subscribes to HS_DESC first, then enables the network, so no
        # descriptor upload can happen before anyone listens for it.
        lines += ["SocksPort 0", f"ControlPort 127.0.0.1:{node.control_port}", "DisableNetwork 1"]
        for hs_dir, backend_port in (services or {}).items():
            lines += [
                f"HiddenServiceDir {hs_dir}",
                "HiddenServiceVersion 3",
                f"HiddenServicePort 80 127.0.0.1:{backend_port}",
            ]
    if node.kind is Kind.CLIENT:
        lines += [f"SocksPort 127.0.0.1:{node.socks_port}", f"ControlPort 127.0.0.1:{node.control_port}"]
    return "\n".join(lines) + "\n"


# --- processes ---------------------------------------------------------------------------------

# Children this Python process started, by pid, so that a stop by pid (e.g. ``Lab.stop(directory)``
# in a test) also reaps them: no zombies, no "subprocess is still running" ResourceWarnings.
_CHILDREN: dict[int, subprocess.Popen[bytes]] = {}
_CHILDREN_LOCK = threading.Lock()


class Processes:
    """Every process one lab launch started, by role; ``on_change`` persists the pids as they start."""

    def __init__(self, log_dir: Path, on_change: Callable[[dict[str, int]], None]) -> None:
        self._log_dir = log_dir
        self._on_change = on_change
        self._procs: dict[str, subprocess.Popen[bytes]] = {}

    @property
    def pids(self) -> dict[str, int]:
        return {role: proc.pid for role, proc in self._procs.items()}

    def start(self, role: str, argv: Sequence[str]) -> subprocess.Popen[bytes]:
        self._log_dir.mkdir(parents=True, exist_ok=True)
        log_path = self.log_path(role)
        with log_path.open("wb") as out:
            try:
                # A new session: a Ctrl-C in the terminal of `lab up` must not reach the lab, which
                # stays up until `lab down` (or until `up` itself cleans up after a failure).
                proc = subprocess.Popen(
                    list(argv),
                    stdin=subprocess.DEVNULL,
                    stdout=out,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                )
            except OSError as exc:
                raise LabError(f"cannot start {role} ({argv[0]}): {exc.strerror or exc}") from exc
        with _CHILDREN_LOCK:
            _CHILDREN[proc.pid] = proc
        self._procs[role] = proc
        log.debug("started %s pid %d: %s", role, proc.pid, " ".join(argv))
        self._on_change(self.pids)
        return proc

    def log_path(self, role: str) -> Path:
        return self._log_dir / f"{role}.log"

    def check_alive(self) -> None:
        """Raise a clear LabError naming the first process that exited during the launch."""
        for role, proc in self._procs.items():
            code = proc.poll()
            if code is not None:
                raise LabError(
                    f"{role} exited with code {code} while the lab was starting: {self._why(role)}"
                )

    def _why(self, role: str) -> str:
        path = self.log_path(role)
        try:
            lines = [line.strip() for line in path.read_text(errors="replace").splitlines() if line.strip()]
        except OSError:
            return f"(no log at {path})"
        # tor explains itself in its last [err]/[warn] line, Python in the last traceback line.
        important = [line for line in lines if "[err]" in line or "[warn]" in line]
        reason = (important or lines or ["no output"])[-1]
        return f"{reason} (log: {path})"

    def stop_all(self, marker: str) -> None:
        stop_pids(self.pids, marker)


def _proc_state(pid: int) -> str | None:
    """The one-letter state of ``pid`` from /proc, None when there is no such process."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # "pid (comm) S ...": comm may contain spaces and parentheses, so split after the last ")".
    return stat.rsplit(")", 1)[1].split()[0]


def _reap(pid: int) -> None:
    with _CHILDREN_LOCK:
        proc = _CHILDREN.get(pid)
    if proc is not None and proc.poll() is not None:
        with _CHILDREN_LOCK:
            _CHILDREN.pop(pid, None)


def pid_alive(pid: int) -> bool:
    """True when ``pid`` runs (a zombie is dead; our own dead children are reaped on the way)."""
    _reap(pid)
    state = _proc_state(pid)
    return state is not None and state not in ("Z", "X")


def owned_by(pid: int, marker: str) -> bool:
    """True when the process' command line names ``marker`` (the lab directory).

    Every lab process has its lab directory on its command line (torrc path, --state-dir), so a
    pid recorded in a state file that the system has since reused for something else is left alone.
    """
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ")
    except OSError:
        return False
    return marker.encode() in cmdline


def lab_process_alive(pid: int, marker: str) -> bool:
    """True when ``pid`` runs and is still the lab's process (see :func:`owned_by`)."""
    return pid_alive(pid) and owned_by(pid, marker)


def _signal(pid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.kill(pid, sig)


def stop_pids(pids: Mapping[str, int], marker: str, grace: float = STOP_GRACE) -> list[str]:
    """Stop the lab's processes by pid: SIGTERM, wait up to ``grace``, then SIGKILL; return the roles
    that were running. Pids that are gone or now belong to someone else are skipped."""
    running = {role: pid for role, pid in pids.items() if lab_process_alive(pid, marker)}
    for pid in running.values():
        _signal(pid, signal.SIGTERM)
    end = time.monotonic() + grace
    while any(pid_alive(pid) for pid in running.values()) and time.monotonic() < end:
        time.sleep(0.05)
    for role, pid in running.items():
        if pid_alive(pid):
            log.warning("%s (pid %d) ignored SIGTERM for %.0fs; killing it", role, pid, grace)
            _signal(pid, signal.SIGKILL)
    end = time.monotonic() + grace
    while any(pid_alive(pid) for pid in running.values()) and time.monotonic() < end:
        time.sleep(0.05)
    for pid in running.values():
        with _CHILDREN_LOCK:
            proc = _CHILDREN.pop(pid, None)
        if proc is not None:
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=grace)
    return list(running)


# --- readiness ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Consensus:
    """The parts of a microdescriptor consensus the launch waits on."""

    valid_after: str
    #: nicknames listed ``Running Valid``
    running: frozenset[str]

    @classmethod
    def parse(cls, text: str) -> Consensus:
        valid_after, nickname = "", None
        running: set[str] = set()
        for line in text.splitlines():
            key, _, rest = line.partition(" ")
            if key == "valid-after":
                valid_after = rest
            elif key == "r":
                nickname = rest.split()[0]
            elif key == "s" and nickname is not None and {"Running", "Valid"} <= set(rest.split()):
                running.add(nickname)
        return cls(valid_after, frozenset(running))


def _dir_get(http: httpx.Client, dir_port: int, path: str) -> str | None:
    try:
        response = http.get(f"http://127.0.0.1:{dir_port}{path}")
    except httpx.HTTPError:
        return None
    return response.text if response.status_code == 200 else None


def fetch_consensus(http: httpx.Client, dir_port: int) -> Consensus | None:
    """The microdescriptor consensus a directory serves (None: it has none yet)."""
    text = _dir_get(http, dir_port, "/tor/status-vote/current/consensus-microdesc")
    return Consensus.parse(text) if text else None


def probe_client(timeout: float = 2.0) -> httpx.Client:
    """An HTTP client for polling the lab's own loopback services (never through a proxy)."""
    transport = httpx.HTTPTransport(local_address=PROBE_SOURCE)
    return httpx.Client(transport=transport, trust_env=False, timeout=timeout)


def port_accepts(port: int, host: str = "127.0.0.1") -> bool:
    try:
        with socket.create_connection((host, port), timeout=1.0, source_address=(PROBE_SOURCE, 0)):
            return True
    except OSError:
        return False


def connect_controller(port: int, deadline: Deadline, watch: Callable[[], None]) -> stem.control.Controller:
    """An authenticated controller once the tor's control port accepts connections."""

    def attempt() -> stem.control.Controller | None:
        # stem leaks its socket when the connection is refused, so probe the port ourselves first.
        if not port_accepts(port):
            return None
        try:
            controller = stem.control.Controller.from_port(address="127.0.0.1", port=port)
        except stem.SocketError:
            return None
        try:
            controller.authenticate()
        except stem.connection.AuthenticationFailure as exc:
            controller.close()
            raise LabError(f"cannot authenticate to tor's control port {port}: {exc}") from exc
        return controller

    return wait_for(f"tor control port {port}", attempt, deadline, watch=watch)


def bootstrap_progress(controller: stem.control.Controller) -> int:
    try:
        phase = controller.get_info("status/bootstrap-phase")
    except stem.ControllerError as exc:
        raise LabError(f"client tor stopped answering: {exc}") from exc
    match = re.search(r"PROGRESS=(\d+)", phase)
    return int(match.group(1)) if match else 0


class DescriptorUploads:
    """Collects ``HS_DESC UPLOADED`` events of an onion-service tor (called on stem's event thread)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._uploaded: set[str] = set()

    def __call__(self, event: stem.response.events.HSDescEvent) -> None:
        if event.action == "UPLOADED":
            with self._lock:
                self._uploaded.add(f"{event.address}.onion")

    def uploaded(self) -> set[str]:
        with self._lock:
            return set(self._uploaded)


def read_onion_address(hs_dir: Path) -> str | None:
    try:
        hostname = (hs_dir / "hostname").read_text().strip()
    except OSError:
        return None
    return hostname or None


def write_json_atomic(path: Path, data: object) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(data, indent=2, default=str) + "\n")
    os.replace(tmp, path)


# --- the first onion fetch ---------------------------------------------------------------------

#: longest one fetch through the client may take: descriptor fetch, introduction and rendezvous
#: take well under a second on loopback, a few seconds on a loaded machine
FETCH_ATTEMPT_TIMEOUT = 30.0
#: pause between two fetch attempts
FETCH_RETRY_PAUSE = 0.5

#: SOCKS5 reply codes (RFC 1928)
_SOCKS5_REPLIES = {
    1: "general SOCKS server failure",
    2: "connection not allowed by ruleset",
    3: "network unreachable",
    4: "host unreachable",
    5: "connection refused",
    6: "TTL expired",
    7: "command not supported",
    8: "address type not supported",
}


class OnionFetchError(LabError):
    """One fetch through the client tor failed; the message says where and how."""


def socks_http_get(socks_port: int, url: str, timeout: float, *, socks_host: str = "127.0.0.1") -> int:
    """GET ``url`` (plain http) through a SOCKS5 proxy that resolves the host name itself, as
    ``socks5h://`` does, and return the HTTP status; raise :class:`OnionFetchError`.

    Not httpx: httpcore applies no timeout to the SOCKS handshake, and Tor holds that handshake
    until the onion service answers (up to its 2-minute SocksTimeout); httpcore also leaves its
    socket open when the handshake fails. Here ``timeout`` bounds the whole exchange and the socket
    is closed on every path.
    """
    parts = urllib.parse.urlsplit(url)
    host, port = parts.hostname or "", parts.port or 80
    end = time.monotonic() + timeout
    where = f"{url} through SOCKS port {socks_port}"
    try:
        with socket.create_connection((socks_host, socks_port), timeout=timeout) as sock:
            sock.sendall(b"\x05\x01\x00")  # SOCKS 5, one authentication method: none
            if _recv_exact(sock, 2, end) != b"\x05\x00":
                raise OnionFetchError(f"{where}: the SOCKS server wants authentication")
            name = host.encode("idna")
            # CONNECT to a domain name (address type 3): the proxy resolves it.
            sock.sendall(b"\x05\x01\x00\x03" + bytes([len(name)]) + name + port.to_bytes(2, "big"))
            _version, reply, _reserved, address_type = _recv_exact(sock, 4, end)
            if reply != 0:
                raise OnionFetchError(f"{where}: {_SOCKS5_REPLIES.get(reply, f'SOCKS reply {reply:#x}')}")
            length = _recv_exact(sock, 1, end)[0] if address_type == 3 else {1: 4, 4: 16}.get(address_type, 0)
            _recv_exact(sock, length + 2, end)  # the bound address and port, unused
            target = parts.path or "/"
            sock.sendall(f"GET {target} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n".encode())
            status_line = _recv_line(sock, end)
    except TimeoutError as exc:
        raise OnionFetchError(f"{where}: no answer within {timeout:g}s") from exc
    except OSError as exc:
        raise OnionFetchError(f"{where}: {exc}") from exc
    match = re.match(rb"HTTP/1\.[01] (\d{3}) ", status_line)
    if match is None:
        raise OnionFetchError(f"{where}: not an HTTP status line: {status_line[:80]!r}")
    return int(match.group(1))


def _recv_exact(sock: socket.socket, count: int, end: float) -> bytes:
    data = b""
    while len(data) < count:
        data += _recv_some(sock, count - len(data), end)
    return data


def _recv_line(sock: socket.socket, end: float, limit: int = 4096) -> bytes:
    data = b""
    while b"\r\n" not in data and len(data) < limit:
        data += _recv_some(sock, limit - len(data), end)
    return data.partition(b"\r\n")[0]


def _recv_some(sock: socket.socket, most: int, end: float) -> bytes:
    remaining = end - time.monotonic()
    if remaining <= 0:
        raise TimeoutError
    sock.settimeout(remaining)
    chunk = sock.recv(most)
    if not chunk:
        raise ConnectionError("the connection was closed early")
    return chunk


def forget_onion_failures(controller: stem.control.Controller) -> bool:
    """Send NEWNYM if Tor takes it right now; return whether it was sent.

    NEWNYM purges the client's onion-service state (cached descriptors, the introduction points it
    saw fail, which it otherwise avoids for 2 minutes, the HSDirs it already asked) and keeps new
    streams off circuits already used. Tor defers a NEWNYM sent within 10 s of the previous one,
    and a deferred purge could cancel the next attempt half-way, so it is only sent when Tor acts
    on it at once.
    """
    try:
        if float(controller.get_newnym_wait()) > 0:
            return False
        controller.signal(stem.Signal.NEWNYM)
    except stem.ControllerError as exc:
        raise LabError(f"client tor stopped answering: {exc}") from exc
    return True


def fetch_until_ok(
    what: str,
    attempt: Callable[[float], int],
    deadline: Deadline,
    *,
    renew: Callable[[], object],
    watch: Callable[[], None] = lambda: None,
    attempt_timeout: float = FETCH_ATTEMPT_TIMEOUT,
    pause: float = FETCH_RETRY_PAUSE,
    hint: str = "",
) -> int:
    """Call ``attempt(timeout)`` until it returns HTTP 200 and return how many attempts that took.

    Between attempts ``renew`` makes Tor start afresh (:func:`forget_onion_failures`): early in the
    network's life a first fetch can fail on a state that Tor keeps for minutes, so retrying the
    same request alone may fail until the deadline. Each attempt gets at most ``attempt_timeout``
    seconds (at least 1 s, even when the deadline is nearer).
    """
    attempts, first, last = 0, "", ""
    while True:
        watch()
        attempts += 1
        try:
            status = attempt(min(attempt_timeout, max(deadline.remaining(), 1.0)))
        except OnionFetchError as exc:
            last = str(exc)
        else:
            if status == 200:
                return attempts
            last = f"HTTP status {status}"
        first = first or last
        log.info("%s: attempt %d failed: %s", what, attempts, last)
        if deadline.expired:
            earlier = f"; the first failed with: {first}" if attempts > 1 and first != last else ""
            raise LabError(
                f"timed out after {deadline.seconds:.0f}s waiting for {what} ({attempts} attempts; "
                f"the last failed with: {last}{earlier}){hint}"
            )
        renew()
        time.sleep(min(pause, deadline.remaining()))


# --- the network -------------------------------------------------------------------------------


class TorNetwork:
    """The tors of one lab launch: 3 authorities, relays, one onion-service tor, one client tor.

    ``services`` maps each market name to its backend port; each gets its own HiddenServiceDir under
    ``keys/hs/<name>`` so its onion address survives restarts.
    """

    def __init__(
        self,
        directory: Path,
        ports: PortReservations,
        processes: Processes,
        *,
        services: Mapping[str, int],
        tor: str = "tor",
        gencert: str = "tor-gencert",
        progress: Progress = log.info,
    ) -> None:
        self.directory = directory
        self._ports = ports
        self._processes = processes
        self._services = dict(services)
        self._tor = tor
        self._gencert = gencert
        self._progress = progress
        self.nodes = plan_nodes(ports)
        self._torrcs: dict[str, Path] = {}

    @property
    def client(self) -> TorNode:
        return self._node(Kind.CLIENT)

    @property
    def onion(self) -> TorNode:
        return self._node(Kind.ONION)

    @property
    def relays(self) -> list[TorNode]:
        return [n for n in self.nodes if n.is_relay]

    def _node(self, kind: Kind) -> TorNode:
        return next(n for n in self.nodes if n.kind is kind)

    def data_dir(self, node: TorNode) -> Path:
        return self.directory / "tor" / node.role / "data"

    def key_dir(self, node: TorNode) -> Path:
        return self.directory / "keys" / node.role

    def hs_dir(self, market: str) -> Path:
        return self.directory / "keys" / "hs" / market

    @property
    def client_cookie(self) -> Path:
        return self.data_dir(self.client) / "control_auth_cookie"

    # -- stage 0: keys and torrcs

    def prepare(self) -> None:
        """Wipe the tor data directories (a cold start), make or reuse keys, write every torrc."""
        shutil.rmtree(self.directory / "tor", ignore_errors=True)
        authorities = [n for n in self.nodes if n.kind is Kind.AUTHORITY]
        for node in self.relays:
            private_dir(self.key_dir(node))
        v3idents = {n.role: ensure_authority_certificate(self._gencert, self.key_dir(n)) for n in authorities}
        fingerprints = identity_fingerprints(
            self._tor,
            {n.role: self.key_dir(n) for n in authorities},
            self.directory / "tor" / ".fingerprints",
        )
        identities = {role: AuthorityIdentity(v3idents[role], fingerprints[role]) for role in v3idents}
        dir_authorities = dir_authority_lines(self.nodes, identities)
        services = {private_dir(self.hs_dir(name)): port for name, port in self._services.items()}
        for node in self.nodes:
            text = render_torrc(
                node,
                data_dir=private_dir(self.data_dir(node)),
                key_dir=self.key_dir(node) if node.is_relay else None,
                authorities=dir_authorities,
                hsdirs=list(fingerprints.values()),
                services=services if node.kind is Kind.ONION else None,
            )
            torrc = self.directory / "tor" / node.role / "torrc"
            torrc.write_text(text)
            self._torrcs[node.role] = torrc

    def _start(self, node: TorNode) -> None:
        self._ports.release([node.or_port, node.dir_port, node.control_port, node.socks_port])
        self._processes.start(node.role, [self._tor, "-f", str(self._torrcs[node.role])])

    # -- stage 1: authorities and relays until the consensus lists them all

    def start_relays(self) -> None:
        schedule = voting_schedule(time.time() + FIRST_CONSENSUS_LEAD)
        for node in self.relays:
            if node.kind is Kind.AUTHORITY:
                torrc = self._torrcs[node.role]
                torrc.write_text(torrc.read_text() + "\n".join(schedule) + "\n")
        for node in self.relays:
            self._start(node)
        self._progress(f"authorities and relays started ({len(self.relays)} tors)")

    def wait_consensus(self, deadline: Deadline) -> None:
        """Poll an authority's consensus until every relay is listed ``Running Valid``."""
        expected = {n.nickname for n in self.relays}
        watch = self._processes.check_alive
        seen = -1
        with probe_client() as http:

            def complete() -> Consensus | None:
                nonlocal seen
                consensus = fetch_consensus(http, self.relays[0].dir_port or 0)
                count = len(expected & consensus.running) if consensus else 0
                if count != seen:
                    seen = count
                    self._progress(f"consensus: {count}/{len(expected)} relays running")
                return consensus if count == len(expected) else None

            wait_for("a consensus listing every relay as Running Valid", complete, deadline, watch=watch)

    # -- stage 2: the onion-service and client tors until both are usable

    def start_edge(self) -> None:
        self._start(self.onion)
        self._start(self.client)
        self._progress("onion-service and client tors started")

    def wait_ready(self, deadline: Deadline) -> dict[str, str]:
        """Wait for the client's bootstrap and every descriptor upload; return market -> onion address."""
        watch = self._processes.check_alive
        with contextlib.ExitStack() as stack:
            onion_ctl = stack.enter_context(connect_controller(self.onion.control_port or 0, deadline, watch))
            uploads = DescriptorUploads()
            onion_ctl.add_event_listener(uploads, stem.control.EventType.HS_DESC)
            onion_ctl.set_conf("DisableNetwork", "0")
            addresses = {
                name: wait_for(
                    f"the onion address of {name}",
                    functools.partial(read_onion_address, self.hs_dir(name)),
                    deadline,
                )
                for name in self._services
            }
            client_ctl = stack.enter_context(
                connect_controller(self.client.control_port or 0, deadline, watch)
            )
            self._wait_usable(client_ctl, uploads, set(addresses.values()), deadline)
        return addresses

    def _wait_usable(
        self,
        client_ctl: stem.control.Controller,
        uploads: DescriptorUploads,
        onions: set[str],
        deadline: Deadline,
    ) -> None:
        last = (-1, -1)

        def check() -> bool | None:
            nonlocal last
            progress, uploaded = bootstrap_progress(client_ctl), len(uploads.uploaded() & onions)
            if progress != last[0]:
                self._progress(f"client bootstrapped {progress}%")
            if uploaded != last[1]:
                self._progress(f"onion descriptors uploaded {uploaded}/{len(onions)}")
            last = (progress, uploaded)
            return True if progress == 100 and uploaded == len(onions) else None

        wait_for(
            "client bootstrap and onion descriptor uploads",
            check,
            deadline,
            watch=self._processes.check_alive,
        )
