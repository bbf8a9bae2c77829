"""Tor control through stem: attach, check bootstrap health, new identity on a ban, see isolation.

One :class:`TorControl` per use, never a module-level controller: the controller holds a socket and
a reader thread, and global controller state is the anti-pattern that made earlier crawlers leak.
Circuits are never rotated by timer; :meth:`TorControl.new_identity` is for a detected ban only
and honours Tor's own rate limit (NEWNYM at most every 10 s; it also drops onion-service state).
"""

from __future__ import annotations

import socket
import time
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

import stem
import stem.connection
import stem.control
from stem import Signal

from onionwatch.errors import TorNotReadyError, TorUnavailableError
from onionwatch.settings import TorSettings


@dataclass(frozen=True)
class TorHealth:
    version: str
    bootstrap_progress: int
    bootstrap_summary: str
    circuits_established: bool
    socks_listeners: tuple[str, ...]

    @property
    def ready(self) -> bool:
        return self.bootstrap_progress >= 100 and self.circuits_established

    def describe(self) -> str:
        state = "ready" if self.ready else "not ready"
        socks = ", ".join(self.socks_listeners) or "none"
        return (
            f"tor {self.version}: {state}, bootstrap {self.bootstrap_progress}% ({self.bootstrap_summary}), "
            f"SOCKS {socks}"
        )


def _parse_bootstrap(line: str) -> tuple[int, str]:
    """``NOTICE BOOTSTRAP PROGRESS=100 TAG=done SUMMARY="Done"`` -> (100, "Done")."""
    progress, summary = 0, ""
    for token in line.split(" "):
        if token.startswith("PROGRESS="):
            progress = int(token.removeprefix("PROGRESS="))
    if 'SUMMARY="' in line:
        summary = line.split('SUMMARY="', 1)[1].split('"', 1)[0]
    return progress, summary


class TorControl:
    """An authenticated connection to one Tor's control port."""

    def __init__(
        self,
        port: int,
        *,
        host: str = "127.0.0.1",
        password: str | None = None,
        cookie_path: Path | None = None,
    ) -> None:
        self.address = f"{host}:{port}"
        # Probe first: stem leaks its socket when the connect itself fails.
        try:
            with socket.create_connection((host, port), timeout=5):
                pass
        except OSError as exc:
            raise TorUnavailableError(f"Tor control port {self.address} is not reachable: {exc}") from exc
        try:
            self._controller = stem.control.Controller.from_port(address=host, port=port)
        except stem.SocketError as exc:
            raise TorUnavailableError(f"Tor control port {self.address} is not reachable: {exc}") from exc
        try:
            if cookie_path is not None:
                stem.connection.authenticate_cookie(self._controller, str(cookie_path))
            else:
                # Lets stem pick: no auth, cookie (path from PROTOCOLINFO) or the password.
                self._controller.authenticate(password=password)
        except (stem.connection.AuthenticationFailure, OSError) as exc:
            self._controller.close()
            # The message names the method, never the secret.
            raise TorUnavailableError(
                f"cannot authenticate to Tor control port {self.address}: {exc}"
            ) from exc

    def __enter__(self) -> TorControl:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def close(self) -> None:
        self._controller.close()

    @property
    def controller(self) -> stem.control.Controller:
        return self._controller

    def _info(self, key: str, default: str = "") -> str:
        try:
            return str(self._controller.get_info(key))
        except (stem.ControllerError, stem.SocketClosed) as exc:
            if isinstance(exc, stem.SocketClosed):
                raise TorUnavailableError(f"Tor control connection {self.address} closed") from exc
            return default

    def health(self) -> TorHealth:
        progress, summary = _parse_bootstrap(self._info("status/bootstrap-phase"))
        listeners = tuple(self._info("net/listeners/socks").replace('"', "").split())
        return TorHealth(
            version=str(self._controller.get_version()).split(" ", 1)[0],
            bootstrap_progress=progress,
            bootstrap_summary=summary,
            circuits_established=self._info("status/circuit-established") == "1",
            socks_listeners=listeners,
        )

    def wait_ready(self, timeout: float = 60.0, poll: float = 0.25) -> TorHealth:
        """Block until Tor is bootstrapped; :class:`TorNotReadyError` with its last state otherwise."""
        deadline = time.monotonic() + timeout
        while True:
            health = self.health()
            if health.ready:
                return health
            if time.monotonic() >= deadline:
                raise TorNotReadyError(f"Tor is not ready after {timeout:.0f} s: {health.describe()}")
            time.sleep(poll)

    def new_identity(self) -> float:
        """Send NEWNYM if Tor allows it now; return 0.0 when sent, else the seconds still to wait.

        Callers decide to wait or not; we never sleep here so a ban handler cannot stall a crawl.
        """
        wait = float(self._controller.get_newnym_wait())
        if wait > 0:
            return wait
        self._controller.signal(Signal.NEWNYM)
        return 0.0

    def circuits_by_isolation(self) -> dict[str, int]:
        """Built circuits per SOCKS username (isolation key). stem's parsed events drop the
        username, the raw ``circuit-status`` lines keep it."""
        counts: dict[str, int] = {}
        for line in self._info("circuit-status").splitlines():
            fields = line.split(" ")
            if len(fields) < 2 or fields[1] != "BUILT":
                continue
            for field in fields:
                if field.startswith("SOCKS_USERNAME="):
                    key = field.removeprefix("SOCKS_USERNAME=").strip('"')
                    counts[key] = counts.get(key, 0) + 1
        return counts

    def add_stream_listener(self, listener: Any) -> None:
        self._controller.add_event_listener(listener, stem.control.EventType.STREAM)


def control_for(settings: TorSettings, lab_control: tuple[int, Path] | None = None) -> TorControl | None:
    """The control connection the settings name, else the lab's (port, cookie), else ``None``."""
    if settings.control_port is not None:
        password = settings.control_password
        return TorControl(
            settings.control_port,
            host=settings.socks_host,
            password=password.get_secret_value() if password else None,
            cookie_path=settings.cookie_path,
        )
    if lab_control is not None:
        return TorControl(lab_control[0], cookie_path=lab_control[1])
    return None


def request_new_identity(settings: TorSettings, *, max_wait: float = 10.0) -> bool:
    """Blocking: NEWNYM now, or after Tor's rate-limit wait if that is at most ``max_wait`` seconds.

    For a detected ban only (never on a timer). Run it off the reactor (``deferToThread``).
    """
    control = control_for(settings)
    if control is None:
        return False
    with control:
        wait = control.new_identity()
        if wait == 0.0:
            return True
        if wait > max_wait:
            return False
        time.sleep(wait)
        return control.new_identity() == 0.0
