"""Access control in front of a simulated market: DDoS queue, login wall with a captcha, session expiry.

Real markets put an EndGame-style queue in front ("you are in the queue, wait N seconds", a meta
refresh, then a cookie), ask for a login with a captcha, and expire sessions. The gate does the same
in front of any engine so the crawler's page-state handling is tested against real HTTP behaviour.

Everything is keyed by cookies and guarded by one lock (the server is threaded):

* ``queue`` cookie: issued on the first visit with a wait time; pages pass once the wait is over.
* ``cid`` cookie: the login form's captcha belongs to it (so an operator can answer the image that
  the crawler saved, from another process, with the same cookie jar).
* ``sid`` cookie: the logged-in session; it stops working after a TTL or a number of requests, and
  pages then redirect to ``/login?next=<page>``.
* ``trust`` cookie: set by a login that solved a captcha; later logins with it need only the
  password ("remember this device"), so an expired session can be renewed without an operator.

For tests and the demo the gate writes the test account to ``<state dir>/account.json`` and the
answer of the latest captcha it issued to ``<state dir>/captcha_answer`` (mode 0600): a test reads
them like an operator who looks at the image.
"""

from __future__ import annotations

import hmac
import json
import os
import secrets
import struct
import threading
import time
import zlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from html import escape
from http import HTTPStatus
from http.cookies import CookieError, SimpleCookie
from pathlib import Path
from urllib.parse import parse_qs, quote, urlencode

ACCOUNT_FILE = "account.json"
CAPTCHA_ANSWER_FILE = "captcha_answer"
GATE_PARTS = frozenset({"ddos", "login", "captcha", "ban"})
CAPTCHA_DIGITS = 5


@dataclass(frozen=True)
class GateConfig:
    ddos: bool = False
    login: bool = False
    captcha: bool = False
    queue_wait_s: float = 3.0
    #: a session stops working this long after login (None: never)
    session_ttl_s: float | None = None
    #: ... or after this many page requests (None: no limit)
    session_requests: int | None = None
    username: str = "labbuyer"
    #: "ban": the page request with this number gets a ban notice, once (as a circuit flagged by an
    #: anti-bot system would); the market's own pages come back after that
    ban: bool = False
    ban_at: int = 5

    @classmethod
    def parse(
        cls,
        spec: str,
        *,
        queue_wait_s: float = 3.0,
        session_ttl_s: float | None = None,
        session_requests: int | None = None,
        ban_at: int = 5,
    ) -> GateConfig:
        """``"ddos,login,captcha"`` -> a config; the captcha lives on the login form, so it implies login."""
        parts = {p.strip() for p in spec.split(",") if p.strip()}
        unknown = parts - GATE_PARTS
        if unknown:
            raise ValueError(f"unknown gate part(s) {sorted(unknown)}; known: {sorted(GATE_PARTS)}")
        captcha = "captcha" in parts
        return cls(
            ddos="ddos" in parts,
            login="login" in parts or captcha,
            captcha=captcha,
            queue_wait_s=queue_wait_s,
            session_ttl_s=session_ttl_s,
            session_requests=session_requests,
            ban="ban" in parts,
            ban_at=ban_at,
        )

    @property
    def enabled(self) -> bool:
        return self.ddos or self.login or self.ban


@dataclass(frozen=True)
class Reply:
    status: HTTPStatus
    body: bytes
    content_type: str = "text/html; charset=utf-8"
    headers: tuple[tuple[str, str], ...] = ()


@dataclass
class _Session:
    expires_at: float | None
    requests_left: int | None


@dataclass
class _State:
    queue: dict[str, float] = field(default_factory=dict)  # token -> monotonic time it may pass
    sessions: dict[str, _Session] = field(default_factory=dict)
    captchas: dict[str, str] = field(default_factory=dict)  # cid -> answer
    trusted: set[str] = field(default_factory=set)
    pages: int = 0  # page requests seen (for the one-time ban)


class Gate:
    """Decides, per request, whether the engine answers or the gate does (``handle`` -> None or a reply)."""

    def __init__(
        self,
        config: GateConfig,
        state_dir: Path,
        *,
        market: str = "market",
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.config = config
        self.state_dir = state_dir
        self.market = market
        self.clock = clock
        self._password = secrets.token_urlsafe(12)
        self._state = _State()
        self._lock = threading.Lock()
        if config.login:
            _write_private(
                state_dir / ACCOUNT_FILE,
                json.dumps({"username": config.username, "password": self._password}),
            )

    def handle(
        self, method: str, path: str, query: str, cookies: Mapping[str, str], form: Mapping[str, str]
    ) -> Reply | None:
        with self._lock:
            if self.config.ban:
                self._state.pages += 1
                if self._state.pages == self.config.ban_at:
                    return _ban_notice()
            if self.config.ddos:
                queued = self._queue(cookies)
                if queued is not None:
                    return queued
            if not self.config.login:
                return None
            if path == "/login":
                return self._login(method, query, cookies, form)
            if path == "/captcha.png":
                return self._captcha_image(cookies)
            if self._session_ok(cookies.get("sid")):
                return None
            target = path + (f"?{query}" if query else "")
            return _redirect(f"/login?{urlencode({'next': target})}")

    # -- DDoS queue --------------------------------------------------------------------------------

    def _queue(self, cookies: Mapping[str, str]) -> Reply | None:
        now = self.clock()
        token = cookies.get("queue", "")
        ready_at = self._state.queue.get(token)
        if ready_at is not None and now >= ready_at:
            return None
        headers: tuple[tuple[str, str], ...] = ()
        if ready_at is None:
            token = secrets.token_hex(16)
            ready_at = now + self.config.queue_wait_s
            self._state.queue[token] = ready_at
            headers = (_cookie("queue", token),)
        wait = max(1, round(ready_at - now + 0.49))
        body = f"""<!DOCTYPE html>
<html><head><meta charset="utf-8"><meta http-equiv="refresh" content="{wait}">
<title>DDoS protection - please wait</title></head>
<body><div class="queue"><h1>You are in the queue</h1>
<p>High traffic: this market is protected against DDoS attacks. Please wait {wait} seconds;
this page will refresh automatically and you will be redirected shortly.</p>
<p class="position">Queue position: {len(self._state.queue)}</p></div></body></html>"""
        return Reply(HTTPStatus.OK, body.encode(), headers=headers)

    # -- login wall --------------------------------------------------------------------------------

    def _session_ok(self, sid: str | None) -> bool:
        session = self._state.sessions.get(sid or "")
        if session is None:
            return False
        expired = (session.expires_at is not None and self.clock() >= session.expires_at) or (
            session.requests_left is not None and session.requests_left <= 0
        )
        if expired:
            del self._state.sessions[sid or ""]
            return False
        if session.requests_left is not None:
            session.requests_left -= 1
        return True

    def _needs_captcha(self, cookies: Mapping[str, str]) -> bool:
        return self.config.captcha and cookies.get("trust", "") not in self._state.trusted

    def _login(self, method: str, query: str, cookies: Mapping[str, str], form: Mapping[str, str]) -> Reply:
        headers: list[tuple[str, str]] = []
        cid = cookies.get("cid", "")
        if not cid:
            cid = secrets.token_hex(16)
            headers.append(_cookie("cid", cid))
        needs_captcha = self._needs_captcha(cookies)
        next_url = _safe_next(form.get("next") or _query_value(query, "next"))
        error = ""
        if method == "POST":
            good_user = hmac.compare_digest(form.get("username", "").encode(), self.config.username.encode())
            good_pass = hmac.compare_digest(form.get("password", "").encode(), self._password.encode())
            expected = self._state.captchas.get(cid)
            good_captcha = not needs_captcha or (
                expected is not None and hmac.compare_digest(form.get("captcha", "").strip(), expected)
            )
            if good_user and good_pass and good_captcha:
                return self._logged_in(cid, needs_captcha, next_url, headers)
            error = "Wrong captcha." if not good_captcha else "Wrong username or password."
            if needs_captcha:
                self._state.captchas.pop(cid, None)  # one guess per image, as real markets do
        if needs_captcha:
            self._issue_captcha(cid)
        return Reply(
            HTTPStatus.OK, self._login_page(next_url, needs_captcha, error).encode(), headers=tuple(headers)
        )

    def _logged_in(
        self, cid: str, used_captcha: bool, next_url: str, headers: list[tuple[str, str]]
    ) -> Reply:
        sid = secrets.token_hex(16)
        ttl = self.config.session_ttl_s
        self._state.sessions[sid] = _Session(
            expires_at=None if ttl is None else self.clock() + ttl,
            requests_left=self.config.session_requests,
        )
        headers.append(_cookie("sid", sid))
        if used_captcha:
            self._state.captchas.pop(cid, None)
            trust = secrets.token_hex(16)
            self._state.trusted.add(trust)
            headers.append(_cookie("trust", trust))
        return _redirect(next_url, tuple(headers))

    def _issue_captcha(self, cid: str) -> None:
        answer = self._state.captchas.get(cid)
        if answer is None:
            answer = "".join(secrets.choice("0123456789") for _ in range(CAPTCHA_DIGITS))
            self._state.captchas[cid] = answer
        _write_private(self.state_dir / CAPTCHA_ANSWER_FILE, answer + "\n")

    def _captcha_image(self, cookies: Mapping[str, str]) -> Reply:
        answer = self._state.captchas.get(cookies.get("cid", ""))
        if answer is None:
            return Reply(HTTPStatus.NOT_FOUND, b"no captcha for this session", "text/plain; charset=utf-8")
        return Reply(HTTPStatus.OK, captcha_png(answer), "image/png", (("Cache-Control", "no-store"),))

    def _login_page(self, next_url: str, captcha: bool, error: str) -> str:
        challenge = (
            '<div class="captcha"><img src="/captcha.png" alt="captcha" width="100" height="36">'
            '<label>Enter the code shown in the image <input type="text" name="captcha" '
            'autocomplete="off"></label></div>'
            if captcha
            else ""
        )
        message = f'<p class="error">{escape(error)}</p>' if error else ""
        return f"""<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>Login | {escape(self.market.title())} Market</title></head>
<body><div class="login-box"><h1>Login</h1>{message}
<form method="post" action="/login">
<input type="hidden" name="next" value="{escape(next_url)}">
<label>Username <input type="text" name="username"></label>
<label>Password <input type="password" name="password"></label>
{challenge}
<button type="submit">Login</button></form>
<p>No account? Registration is closed.</p></div></body></html>"""


def _redirect(location: str, headers: tuple[tuple[str, str], ...] = ()) -> Reply:
    return Reply(HTTPStatus.FOUND, b"", headers=(("Location", location), *headers))


def _cookie(name: str, value: str) -> tuple[str, str]:
    return ("Set-Cookie", f"{name}={value}; Path=/; HttpOnly; SameSite=Lax")


def _query_value(query: str, key: str) -> str:
    values = parse_qs(query).get(key)
    return values[0] if values else ""


def _safe_next(target: str) -> str:
    # Only same-site paths: an open redirect would be a bug even in a test market.
    if not target.startswith("/") or target.startswith("//") or target.startswith("/login"):
        return "/"
    return quote(target, safe="/?=&-_.~%")


def parse_cookies(header: str | None) -> dict[str, str]:
    jar: SimpleCookie = SimpleCookie()
    try:
        jar.load(header or "")
    except CookieError:
        return {}
    return {name: morsel.value for name, morsel in jar.items()}


def _write_private(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(text)
    tmp.replace(path)


# -- the captcha image: a real PNG written with zlib + struct ----------------------------------------

_GLYPHS = {
    "0": ("111", "101", "101", "101", "111"),
    "1": ("010", "110", "010", "010", "111"),
    "2": ("111", "001", "111", "100", "111"),
    "3": ("111", "001", "111", "001", "111"),
    "4": ("101", "101", "111", "001", "001"),
    "5": ("111", "100", "111", "001", "111"),
    "6": ("111", "100", "111", "101", "111"),
    "7": ("111", "001", "010", "010", "010"),
    "8": ("111", "101", "111", "101", "111"),
    "9": ("111", "101", "111", "001", "111"),
}


def captcha_png(digits: str, *, scale: int = 4, seed: int | None = None) -> bytes:
    """A grayscale PNG of ``digits`` in a 3x5 block font, each digit jittered, with speckle noise."""
    import random

    rng = random.Random(seed if seed is not None else digits)
    cell_w, pad = 3 * scale + scale, 2 * scale
    width, height = pad * 2 + cell_w * len(digits), 5 * scale + pad * 2 + scale
    pixels = [[235] * width for _ in range(height)]
    for i, digit in enumerate(digits):
        dx, dy = pad + i * cell_w, pad + rng.randint(0, scale)
        for row, bits in enumerate(_GLYPHS[digit]):
            for col, bit in enumerate(bits):
                if bit == "1":
                    for y in range(row * scale, (row + 1) * scale):
                        for x in range(col * scale, (col + 1) * scale):
                            pixels[dy + y][dx + x] = 20
    for _ in range(width * height // 25):
        pixels[rng.randrange(height)][rng.randrange(width)] = rng.choice((90, 170))
    raw = b"".join(b"\x00" + bytes(row) for row in pixels)  # filter type 0 per scanline

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)  # 8-bit grayscale
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(raw, 9))
        + chunk(b"IEND", b"")
    )


def _ban_notice() -> Reply:
    body = b"""<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>Access denied</title></head>
<body><h1>Access denied</h1><p>You have been banned. Strike 3 of 3: this connection was flagged
by our guard. Security breach attempt logged.</p></body></html>"""
    return Reply(HTTPStatus.FORBIDDEN, body)
