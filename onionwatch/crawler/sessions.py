"""Market sessions: the cookie jar kept between crawls, the login form, and the operator's captcha.

A market session is worth keeping: a DDoS-queue pass, a login and a solved captcha all live in
cookies. Each market's jar is saved to ``<data dir>/sessions/<market>.json`` (mode 0600, directory
0700) when a crawl ends and after every login, and loaded when the next crawl starts. The file also
records where the login wall is and whether an operator is needed; the captcha image the crawler
saved for the operator sits next to it (``<market>.captcha.png``).

Cookie values are secrets: they are never logged (Scrapy's ``COOKIES_DEBUG`` logging is switched
off here), never archived (the WARC archive keeps no request records and no response headers but
Content-Type) and never put into stats.
"""

from __future__ import annotations

import json
import logging
import os
import re
from dataclasses import dataclass, field
from datetime import datetime
from http.cookiejar import Cookie, CookieJar
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urljoin, urlsplit

from pydantic import BaseModel, ConfigDict, SecretStr, ValidationError
from scrapy.downloadermiddlewares.cookies import CookiesMiddleware
from tldextract import TLDExtract

from onionwatch.crawler.pages.base import Page
from onionwatch.errors import ConfigError, PageError
from onionwatch.models import utcnow

if TYPE_CHECKING:
    from collections.abc import Iterable

    from scrapy import Request, Spider
    from scrapy.crawler import Crawler
    from scrapy.http import Response

logger = logging.getLogger(__name__)

#: sent by the access-control middleware after a login, so the jar is saved at once
session_established = object()


class Account(BaseModel):
    """A market account; the password never prints (``SecretStr``)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    username: str
    password: SecretStr


class StoredCookie(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str
    value: str
    domain: str
    path: str = "/"
    secure: bool = False
    expires: int | None = None
    host_only: bool = True


class SessionRecord(BaseModel):
    """What ``<market>.json`` holds."""

    model_config = ConfigDict(extra="forbid")

    market: str
    cookies: list[StoredCookie] = []
    #: the login wall's URL as last seen (the operator's login starts there)
    login_url: str | None = None
    #: why the last crawl stopped for an operator ("captcha", "anti_phishing", "banned"), if it did
    operator_needed: str | None = None
    updated_at: datetime | None = None


class SessionStore:
    """The sessions directory: one JSON file and at most one captcha image per market."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def path(self, market: str) -> Path:
        return self.directory / f"{_safe_name(market)}.json"

    def captcha_path(self, market: str) -> Path:
        return self.directory / f"{_safe_name(market)}.captcha.png"

    def load(self, market: str) -> SessionRecord:
        try:
            return SessionRecord.model_validate_json(self.path(market).read_text(encoding="utf-8"))
        except FileNotFoundError:
            return SessionRecord(market=market)
        except (OSError, ValidationError) as exc:
            # Not the cookie values: the message names the file and the problem only.
            raise ConfigError(f"unreadable session file {self.path(market)}: {type(exc).__name__}") from None

    def save(self, record: SessionRecord) -> Path:
        record.updated_at = utcnow()
        path = self.path(record.market)
        _write_private(path, record.model_dump_json(indent=1).encode("utf-8"))
        return path

    def update(self, market: str, **fields: Any) -> SessionRecord:
        record = self.load(market).model_copy(update=fields)
        self.save(record)
        return record

    def save_captcha(self, market: str, image: bytes) -> Path:
        path = self.captcha_path(market)
        _write_private(path, image)
        return path

    def clear_captcha(self, market: str) -> None:
        self.captcha_path(market).unlink(missing_ok=True)


def _safe_name(market: str) -> str:
    if not market or "/" in market or market.startswith("."):
        raise ConfigError(f"invalid market name {market!r}")
    return market


def _write_private(path: Path, data: bytes) -> None:
    """Atomic write, created 0600 (never world-readable, not even for a moment)."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
    os.chmod(tmp, 0o600)  # an older tmp file may have had other bits
    tmp.replace(path)


# -- cookie jar <-> stored cookies -------------------------------------------------------------------


def dump_cookies(jar: CookieJar) -> list[StoredCookie]:
    return [
        StoredCookie(
            name=c.name,
            value=c.value or "",
            domain=c.domain,
            path=c.path,
            secure=c.secure,
            expires=c.expires,
            host_only=not c.domain_specified,
        )
        for c in jar
    ]


def load_cookies(jar: CookieJar, cookies: list[StoredCookie]) -> None:
    for c in cookies:
        jar.set_cookie(
            Cookie(
                version=0,
                name=c.name,
                value=c.value,
                port=None,
                port_specified=False,
                domain=c.domain,
                domain_specified=not c.host_only,
                domain_initial_dot=c.domain.startswith("."),
                path=c.path,
                path_specified=True,
                secure=c.secure,
                expires=c.expires,
                discard=c.expires is None,
                comment=None,
                comment_url=None,
                rest={},
            )
        )


def cookie_from_text(text: str, host: str) -> StoredCookie:
    """``"name=value"`` pasted by an operator (from a browser) -> a host-only cookie for ``host``."""
    name, sep, value = text.strip().partition("=")
    if not sep or not name.strip() or any(ch in name for ch in " ;,\t"):
        raise ConfigError("a cookie is NAME=VALUE (as a browser shows it)")
    return StoredCookie(name=name.strip(), value=value.strip().split(";", 1)[0], domain=host)


# -- the login form ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class LoginForm:
    action: str
    method: str
    #: hidden fields to send back unchanged (CSRF tokens, "next")
    hidden: dict[str, str] = field(default_factory=dict)
    username_field: str = "username"
    password_field: str = "password"
    captcha_field: str | None = None

    def fill(self, account: Account, captcha: str | None = None) -> dict[str, str]:
        data = dict(self.hidden)
        data[self.username_field] = account.username
        data[self.password_field] = account.password.get_secret_value()
        if self.captcha_field is not None:
            if not captcha:
                raise PageError("this login form needs a captcha answer")
            data[self.captcha_field] = captcha
        return data


_TEXT_TYPES = frozenset({"text", "email", "tel", "search", ""})
_BUTTON_TYPES = frozenset({"submit", "button", "image", "reset"})
_CAPTCHA_FIELD = re.compile(r"captcha|\bcap\b|challenge|\bcode\b|security (?:code|check)", re.I)
_USER_FIELD = re.compile(r"user|login|nick|handle|account|\bname\b|e-?mail", re.I)


def login_form(page: Page) -> LoginForm:
    """The first form with a password field; raises :class:`PageError` when the page has none.

    Markets booby-trap their login forms (Dream Market: a dozen text and password inputs with
    random names, pre-filled decoys among them, hidden by CSS classes). The fields we fill are the
    empty ones; every pre-filled or hidden field goes back exactly as the market sent it, so the
    account's password is never put into a decoy. Fields are recognised by all their attributes
    (name, id, placeholder, title, aria-label), since names are often random.
    """
    for form in page.selector.css("form"):
        inputs = [i for i in form.css("input") if i.attrib.get("name")]
        if not any((i.attrib.get("type") or "").lower() == "password" for i in inputs):
            continue
        hidden: dict[str, str] = {}
        password_field = captcha_field = None
        candidates: list[tuple[str, str]] = []  # (name, label) of empty visible text inputs
        submitted = False
        for field_ in inputs:
            name = field_.attrib["name"]
            kind = (field_.attrib.get("type") or "text").lower()
            value = field_.attrib.get("value", "")
            label = " ".join(
                field_.attrib.get(a, "") for a in ("name", "id", "placeholder", "title", "aria-label")
            )
            if kind in _BUTTON_TYPES:
                if kind == "submit" and not submitted:  # the button a browser would send
                    hidden[name] = value
                    submitted = True
            elif kind == "hidden" or _hidden_by_style(field_.attrib.get("style", "")) or value:
                hidden[name] = value
            elif kind == "password":
                if password_field is None:
                    password_field = name
                else:
                    hidden[name] = value
            elif kind in _TEXT_TYPES:
                if captcha_field is None and _CAPTCHA_FIELD.search(label):
                    captcha_field = name
                else:
                    candidates.append((name, label))
        users = [n for n, label in candidates if _USER_FIELD.search(label)] or [n for n, _ in candidates]
        if not users or password_field is None:
            continue
        for name, _ in candidates:
            if name != users[0]:
                hidden[name] = ""
        return LoginForm(
            action=urljoin(page.url, form.attrib.get("action") or page.url),
            method=(form.attrib.get("method") or "get").upper(),
            hidden=hidden,
            username_field=users[0],
            password_field=password_field,
            captcha_field=captcha_field,
        )
    raise PageError(f"{page.url}: no login form (a form with a password field)")


def _hidden_by_style(style: str) -> bool:
    return bool(re.search(r"display\s*:\s*none|visibility\s*:\s*hidden", style, re.I))


# -- the persistent cookie jar, the Scrapy way ------------------------------------------------------


#: public-suffix rules from the list bundled with tldextract: never fetched over the network
_OFFLINE_SUFFIXES = TLDExtract(suffix_list_urls=(), include_psl_private_domains=True, cache_dir=None)


class PersistentCookiesMiddleware(CookiesMiddleware):
    """Scrapy's CookiesMiddleware with the market's jar loaded at start and saved at the end.

    One crawler crawls one market, so its default jar is that market's session. Replaces Scrapy's
    CookiesMiddleware (same priority); without ``ONIONWATCH_SESSIONS_DIR`` the jar lives only as
    long as the crawl.
    """

    def __init__(self, store: SessionStore | None) -> None:
        super().__init__(debug=False)  # never log cookie values, whatever COOKIES_DEBUG says
        self.store = store
        self.market: str | None = None

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> PersistentCookiesMiddleware:
        from scrapy import signals
        from scrapy.exceptions import NotConfigured

        if not crawler.settings.getbool("COOKIES_ENABLED"):
            raise NotConfigured("cookies disabled")
        directory = crawler.settings.get("ONIONWATCH_SESSIONS_DIR")
        mw = cls(SessionStore(Path(directory)) if directory else None)
        mw.crawler = crawler
        crawler.signals.connect(mw.spider_opened, signal=signals.spider_opened)
        crawler.signals.connect(mw.spider_closed, signal=signals.spider_closed)
        crawler.signals.connect(mw.save, signal=session_established)
        return mw

    def spider_opened(self, spider: Spider) -> None:
        self.market = str(getattr(spider, "market", spider.name))
        if self.store is None:
            return
        record = self.store.load(self.market)
        load_cookies(self.jars[None].jar, record.cookies)
        if record.cookies:
            logger.info("%s: resumed the saved session (%d cookies)", self.market, len(record.cookies))

    def save(self) -> None:
        if self.store is not None and self.market is not None:
            self.store.update(self.market, cookies=dump_cookies(self.jars[None].jar))

    def spider_closed(self) -> None:
        self.save()

    def _process_cookies(self, cookies: Iterable[Cookie], *, jar: Any, request: Request) -> None:
        # Scrapy's version asks tldextract whether a cookie's domain is a public suffix, and
        # tldextract's default fetches the suffix list from the Internet on first use: a direct,
        # non-Tor request from the crawler's host. Same rule here with the bundled list only.
        hostname = urlsplit(request.url).hostname
        if hostname is None:
            return
        request_domain = hostname.lower()
        for cookie in cookies:
            cookie_domain = cookie.domain.removeprefix(".")
            if cookie_domain and not _OFFLINE_SUFFIXES(cookie_domain).domain:
                if cookie_domain != request_domain:
                    continue
                cookie.domain = request_domain
            jar.set_cookie_if_ok(cookie, request)

    def _debug_cookie(self, request: Request) -> None:
        pass

    def _debug_set_cookie(self, response: Response) -> None:
        pass


def read_account_file(path: Path) -> Account:
    """An account from a JSON file ``{"username": ..., "password": ...}`` (e.g. the lab's account.json)."""
    try:
        return Account.model_validate(json.loads(path.read_text(encoding="utf-8")))
    except (OSError, ValueError) as exc:
        raise ConfigError(f"cannot read the account file {path}: {type(exc).__name__}") from None
