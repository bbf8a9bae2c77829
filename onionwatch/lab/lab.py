"""The lab orchestrator: one call brings up the market backends and the private Tor network in front
of them, proves an onion fetch works, and records what runs in ``<lab dir>/state.json``.

What runs is detached (own sessions, pids in the state file), so ``onionwatch lab up`` returns and a
later ``lab down`` from another process stops it. While a launch is in progress its pids are kept in
``pids.json``: a launch that fails (or is interrupted) stops everything it started, and one that is
killed outright can still be cleaned up by ``lab down``.
"""

from __future__ import annotations

import contextlib
import fcntl
import functools
import json
import logging
import os
import sys
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import Annotated

import httpx
import stem
import stem.connection
import stem.control
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError

from onionwatch.errors import LabError
from onionwatch.lab.market import MARKET_NAMES
from onionwatch.lab.network import (
    Deadline,
    PortReservations,
    Processes,
    TorNetwork,
    connect_controller,
    fetch_until_ok,
    forget_onion_failures,
    lab_process_alive,
    port_accepts,
    probe_client,
    socks_http_get,
    stop_pids,
    wait_for,
    write_json_atomic,
)

log = logging.getLogger(__name__)

STATE_FILE = "state.json"
PIDS_FILE = "pids.json"
LOCK_FILE = "lab.lock"


def _utc(value: datetime) -> datetime:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError("datetime must be timezone-aware")
    return value.astimezone(UTC)


class MarketEndpoint(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    #: 56 base32 characters + ".onion"
    onion: str = Field(pattern=r"^[a-z2-7]{56}\.onion$")
    backend_port: int
    url: str


class LabState(BaseModel):
    """What a running lab is: where to reach it and which processes make it up."""

    model_config = ConfigDict(extra="forbid")

    directory: Path
    socks_host: str = "127.0.0.1"
    socks_port: int
    control_port: int
    #: the client tor's control cookie (a path, never its content)
    control_cookie: Path
    markets: dict[str, MarketEndpoint]
    #: role ("auth0", "relay-middle0", "exit0", "onion", "client", "market-<name>") -> pid
    pids: dict[str, int]
    started_at: Annotated[datetime, AfterValidator(_utc)]
    ready_seconds: float
    #: role -> process alive, filled by :meth:`Lab.status` (not stored)
    alive: dict[str, bool] = Field(default_factory=dict, exclude=True)

    @property
    def running(self) -> bool:
        """Every recorded process is alive (as of :meth:`Lab.status`)."""
        return bool(self.alive) and all(self.alive.values())

    @property
    def socks_proxy(self) -> str:
        return f"socks5h://{self.socks_host}:{self.socks_port}"


class Lab:
    """A private Tor network with one onion service per simulated market, in ``directory``."""

    def __init__(
        self,
        directory: Path,
        *,
        base_port: int = 27000,
        markets: Sequence[str] = MARKET_NAMES,
        market_args: Mapping[str, Sequence[str]] | None = None,
        progress: Callable[[str], None] | None = None,
        tor_binary: str = "tor",
        gencert_binary: str = "tor-gencert",
    ) -> None:
        if not markets:
            raise LabError("a lab needs at least one market")
        self.directory = Path(directory).absolute()
        self.base_port = base_port
        self.markets = tuple(markets)
        self.market_args = {name: list(args) for name, args in (market_args or {}).items()}
        self.progress = progress or log.info
        self.tor_binary = tor_binary
        self.gencert_binary = gencert_binary

    # -- up

    def up(self, timeout: float = 180.0) -> LabState:
        """Start everything and return once an onion fetch through the client works.

        Raises :class:`LabError` when the lab is already running, or when anything fails to come up
        within ``timeout`` (after stopping every process this call started).
        """
        self.directory.mkdir(parents=True, exist_ok=True)
        with self._launch_lock():
            self._refuse_if_running()
            return self._launch(timeout)

    @contextlib.contextmanager
    def _launch_lock(self) -> Iterator[None]:
        with (self.directory / LOCK_FILE).open("w") as lock:
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError as exc:
                raise LabError(f"another `lab up` is starting the lab in {self.directory}") from exc
            yield

    def _refuse_if_running(self) -> None:
        marker = _marker(self.directory)
        live = {
            role: pid
            for role, pid in _recorded_pids(self.directory).items()
            if lab_process_alive(pid, marker)
        }
        if live:
            raise LabError(
                f"the lab in {self.directory} is already running ({len(live)} processes); "
                "run `onionwatch lab down` first"
            )
        # Dead leftovers of a crashed or rebooted lab: forget them.
        _remove_records(self.directory)

    def _launch(self, timeout: float) -> LabState:
        started_at, t0 = datetime.now(UTC), time.monotonic()
        deadline = Deadline(timeout)
        ports = PortReservations(self.base_port)
        processes = Processes(self.directory / "logs", self._record_pids)
        try:
            backends = {name: ports.take() for name in self.markets}
            network = TorNetwork(
                self.directory,
                ports,
                processes,
                services=backends,
                tor=self.tor_binary,
                gencert=self.gencert_binary,
                progress=self.progress,
            )
            network.prepare()
            self._start_markets(backends, ports, processes)
            network.start_relays()
            self._wait_markets(backends, processes, deadline)
            network.wait_consensus(deadline)
            network.start_edge()
            onions = network.wait_ready(deadline)
            state = LabState(
                directory=self.directory,
                socks_port=network.client.socks_port or 0,
                control_port=network.client.control_port or 0,
                control_cookie=network.client_cookie,
                markets={
                    name: MarketEndpoint(
                        name=name, onion=onion, backend_port=backends[name], url=f"http://{onion}/"
                    )
                    for name, onion in onions.items()
                },
                pids=processes.pids,
                started_at=started_at,
                ready_seconds=0.0,
            )
            self._verify_fetch(state, processes, deadline)
            state.ready_seconds = round(time.monotonic() - t0, 3)
            write_json_atomic(self.directory / STATE_FILE, state.model_dump(mode="json"))
            (self.directory / PIDS_FILE).unlink(missing_ok=True)
        except OSError as exc:  # unwritable lab directory, full disk, ...
            self._abort(processes)
            raise LabError(f"cannot set up the lab in {self.directory}: {exc}") from exc
        except BaseException:
            # Also on KeyboardInterrupt: the tors are in their own sessions, so nobody else stops them.
            self._abort(processes)
            raise
        finally:
            ports.close()
        self.progress(f"lab ready in {state.ready_seconds:.1f}s")
        return state

    def _abort(self, processes: Processes) -> None:
        self.progress("lab failed to start; stopping what was started")
        processes.stop_all(_marker(self.directory))
        _remove_records(self.directory)

    def _record_pids(self, pids: dict[str, int]) -> None:
        write_json_atomic(self.directory / PIDS_FILE, pids)

    # -- market backends

    def market_dir(self, name: str) -> Path:
        return self.directory / "markets" / name

    def _start_markets(
        self, backends: Mapping[str, int], ports: PortReservations, processes: Processes
    ) -> None:
        for name, port in backends.items():
            state_dir = self.market_dir(name)
            state_dir.mkdir(parents=True, exist_ok=True)
            argv = [sys.executable, "-m", "onionwatch.lab.market", "--name", name, "--port", str(port)]
            argv += ["--state-dir", str(state_dir), *self.market_args.get(name, [])]
            ports.release([port])
            processes.start(f"market-{name}", argv)

    def _wait_markets(self, backends: Mapping[str, int], processes: Processes, deadline: Deadline) -> None:
        with probe_client() as http:
            for name, port in backends.items():

                def healthy(port: int = port) -> bool | None:
                    try:
                        return (
                            True if http.get(f"http://127.0.0.1:{port}/healthz").status_code == 200 else None
                        )
                    except httpx.HTTPError:
                        return None

                wait_for(f"market {name} on port {port}", healthy, deadline, watch=processes.check_alive)
        self.progress(f"market backends healthy ({len(backends)})")

    def _verify_fetch(self, state: LabState, processes: Processes, deadline: Deadline) -> None:
        """Fetch every onion's /healthz through the client's SOCKS port, as the crawler will.

        Retried until the deadline, with NEWNYM between attempts (see :func:`fetch_until_ok`).
        """
        watch = processes.check_alive
        hint = f"; client tor log: {processes.log_path('client')}"
        with connect_controller(state.control_port, deadline, watch) as client_ctl:
            for done, market in enumerate(state.markets.values(), start=1):
                url = f"{market.url}healthz"
                attempts = fetch_until_ok(
                    f"a fetch of {url} through Tor",
                    functools.partial(socks_http_get, state.socks_port, url, socks_host=state.socks_host),
                    deadline,
                    renew=functools.partial(forget_onion_failures, client_ctl),
                    watch=watch,
                    hint=hint,
                )
                retried = f" (after {attempts} attempts)" if attempts > 1 else ""
                self.progress(f"onion fetch through the client works {done}/{len(state.markets)}{retried}")

    # -- status and down

    @staticmethod
    def status(directory: Path) -> LabState | None:
        """The recorded state of the lab in ``directory`` with each process' liveness; None if not up."""
        path = Path(directory).absolute() / STATE_FILE
        try:
            state = LabState.model_validate_json(path.read_text())
        except FileNotFoundError:
            return None
        except (OSError, ValidationError) as exc:
            raise LabError(f"unreadable lab state file {path}: {exc}") from exc
        marker = _marker(state.directory)
        state.alive = {role: lab_process_alive(pid, marker) for role, pid in state.pids.items()}
        return state

    @staticmethod
    def stop(directory: Path) -> list[str]:
        """Stop every process recorded for the lab in ``directory``; return the roles that were running.

        Idempotent: a lab that is not running is left as it is.
        """
        directory = Path(directory).absolute()
        stopped = stop_pids(_recorded_pids(directory), _marker(directory))
        _remove_records(directory)
        return stopped

    def down(self) -> list[str]:
        return self.stop(self.directory)

    def __enter__(self) -> LabState:
        return self.up()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.down()


def _recorded_pids(directory: Path) -> dict[str, int]:
    """Pids from the state file and from an unfinished launch's pids file."""
    pids: dict[str, int] = {}
    with contextlib.suppress(FileNotFoundError):
        text = (directory / PIDS_FILE).read_text()
        try:
            pids.update({str(role): int(pid) for role, pid in json.loads(text).items()})
        except (ValueError, TypeError, AttributeError) as exc:
            raise LabError(f"unreadable lab pids file {directory / PIDS_FILE}: {exc}") from exc
    with contextlib.suppress(FileNotFoundError):
        try:
            pids.update(LabState.model_validate_json((directory / STATE_FILE).read_text()).pids)
        except ValidationError as exc:
            raise LabError(f"unreadable lab state file {directory / STATE_FILE}: {exc}") from exc
    return pids


def _marker(directory: Path) -> str:
    # With the separator, the lab in /tmp/lab1 never claims the processes of /tmp/lab10.
    return f"{directory}{os.sep}"


def _remove_records(directory: Path) -> None:
    for name in (STATE_FILE, PIDS_FILE):
        (directory / name).unlink(missing_ok=True)


def controller(state: LabState) -> stem.control.Controller:
    """An authenticated stem controller of the lab's client tor; the caller closes it."""
    unreachable = f"cannot reach the lab's client tor control port {state.control_port}"
    # stem leaks its socket when the connection is refused, so probe the port ourselves first.
    if not port_accepts(state.control_port, state.socks_host):
        raise LabError(f"{unreachable}: connection refused (is the lab up?)")
    try:
        ctl = stem.control.Controller.from_port(address=state.socks_host, port=state.control_port)
    except stem.SocketError as exc:
        raise LabError(f"{unreachable}: {exc}") from exc
    try:
        ctl.authenticate()
    except stem.connection.AuthenticationFailure as exc:
        ctl.close()
        raise LabError(f"cannot authenticate to the lab's client tor: {exc}") from exc
    return ctl
