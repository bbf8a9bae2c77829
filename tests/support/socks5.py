"""A small SOCKS5 server on loopback that records what clients ask it for.

It stands in for Tor only in fast crawler tests, to observe the SOCKS handshake itself (address
type, the hostname as sent, the isolation credentials). Everything that claims "through Tor" is
tested against the lab's real Tor network instead.
"""

from __future__ import annotations

import contextlib
import socket
import socketserver
import struct
import threading
from dataclasses import dataclass, field


@dataclass
class Connect:
    atype: int  # 1 IPv4, 3 domain name, 4 IPv6
    host: str
    port: int
    username: str | None
    password: str | None


@dataclass
class Recorder:
    #: hostname -> (ip, port) the server really connects to ("fake.onion" -> a local backend)
    routes: dict[str, tuple[str, int]] = field(default_factory=dict)
    connects: list[Connect] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)


def _read(sock: socket.socket, n: int) -> bytes:
    data = b""
    while len(data) < n:
        chunk = sock.recv(n - len(data))
        if not chunk:
            raise ConnectionError("client went away")
        data += chunk
    return data


class _Handler(socketserver.BaseRequestHandler):
    server: _Server

    def handle(self) -> None:
        # Clients that only probe the port, or hang up mid-handshake, are not errors here.
        with contextlib.suppress(OSError):
            self._handle()

    def _handle(self) -> None:
        sock: socket.socket = self.request
        _version, nmethods = _read(sock, 2)
        methods = _read(sock, nmethods)
        username = password = None
        if 2 in methods:
            sock.sendall(b"\x05\x02")
            _read(sock, 1)
            username = _read(sock, _read(sock, 1)[0]).decode()
            password = _read(sock, _read(sock, 1)[0]).decode()
            sock.sendall(b"\x01\x00")
        else:
            sock.sendall(b"\x05\x00")
        _, cmd, _, atype = _read(sock, 4)
        if atype == 1:
            host = socket.inet_ntoa(_read(sock, 4))
        elif atype == 3:
            host = _read(sock, _read(sock, 1)[0]).decode()
        else:
            host = socket.inet_ntop(socket.AF_INET6, _read(sock, 16))
        (port,) = struct.unpack("!H", _read(sock, 2))
        recorder = self.server.recorder
        with recorder.lock:
            recorder.connects.append(Connect(atype, host, port, username, password))
        target = recorder.routes.get(host)
        if cmd != 1 or target is None:
            sock.sendall(b"\x05\x04\x00\x01" + b"\x00" * 6)  # host unreachable
            return
        upstream = socket.create_connection(target, timeout=10)
        sock.sendall(b"\x05\x00\x00\x01" + b"\x00" * 6)
        _relay(sock, upstream)


def _relay(a: socket.socket, b: socket.socket) -> None:
    def pump(src: socket.socket, dst: socket.socket) -> None:
        try:
            while data := src.recv(65536):
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                with contextlib.suppress(OSError):
                    s.shutdown(socket.SHUT_RDWR)

    t = threading.Thread(target=pump, args=(b, a), daemon=True)
    t.start()
    pump(a, b)
    t.join(timeout=10)
    b.close()


class _Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, recorder: Recorder) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.recorder = recorder


class Socks5Server:
    def __init__(self, routes: dict[str, tuple[str, int]] | None = None) -> None:
        self.recorder = Recorder(routes=dict(routes or {}))
        self._server = _Server(self.recorder)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def address(self) -> str:
        host, port = self._server.server_address[:2]
        return f"{host}:{port}"

    def __enter__(self) -> Socks5Server:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=10)
