"""Page state: is a fetched page the page we asked for, or a wall in front of it?

Real markets answer a page request with a DDoS queue, a captcha, a login wall, an anti-phishing
check, a maintenance notice, a ban notice or "not found" as often as with the page. Each response is
classified here before any page object sees it (STYLE 2): the general detector
(:func:`onionwatch.crawler.pages.kind.detect_kind`) decides the wall kind, a few engine-specific
markers short-cut the common case (the engine's own content page), and the states the detector
does not know (anti-phishing, maintenance, ban) are told apart with their own wording.

Pure functions over :class:`Page`: no Scrapy, no network, so the corpus evaluation and the CLI run
the same code as the crawler's middleware (:mod:`onionwatch.crawler.access`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum
from urllib.parse import urljoin

from onionwatch.crawler.pages.base import Page
from onionwatch.crawler.pages.kind import detect_kind
from onionwatch.models import PageKind


class PageState(StrEnum):
    OK = "ok"
    DDOS = "ddos"
    CAPTCHA = "captcha"
    LOGIN = "login"
    ANTI_PHISHING = "anti_phishing"
    MAINTENANCE = "maintenance"
    BANNED = "banned"
    NOT_FOUND = "not_found"


@dataclass(frozen=True)
class Verdict:
    state: PageState
    #: for a DDoS queue or maintenance page: how long the page asks us to wait (seconds)
    wait_s: float | None = None
    #: for a login wall or captcha: the captcha image's absolute URL, if the page shows one
    captcha_image: str | None = None

    @property
    def ok(self) -> bool:
        return self.state is PageState.OK


#: CSS markers of an engine's own content pages (category, listing, home): a page that has one is
#: the market's page, not a wall, and needs no general detection. Engines without an entry get the
#: general detector only.
ENGINE_CONTENT_MARKERS: dict[str, tuple[str, ...]] = {
    "nightshade": ("div.product[data-id]", "div.results", "ul.categories"),
}

_MAINTENANCE = re.compile(
    r"\b(?:under|down for|scheduled|undergoing) maintenance\b|maintenance mode|"
    r"we(?:'|’| wi)ll be back(?: soon| shortly)?|temporarily (?:offline|closed)",
    re.I,
)
_BANNED = re.compile(
    r"security breach|you (?:are|have been) (?:banned|blocked)|account (?:is |has been )?"
    r"(?:temporarily )?suspended|\bstrike\b|access denied",
    re.I,
)
_PHISHING = re.compile(
    r"anti[- ]?phishing|phishing (?:protection|check)|missing \S* ?characters|url bar|address bar|"
    r"link (?:in|on) the image",
    re.I,
)
_META_REFRESH = re.compile(
    r"<meta[^>]+http-equiv\s*=\s*[\"']?refresh[\"']?[^>]*content\s*=\s*[\"']?\s*(\d+(?:\.\d+)?)"
    r"|<meta[^>]+content\s*=\s*[\"']?\s*(\d+(?:\.\d+)?)[^>]*http-equiv\s*=\s*[\"']?refresh",
    re.I,
)
_WAIT_TEXT = re.compile(r"wait(?: for)?(?: about)? (\d{1,4}) ?(?:s\b|sec|seconds?)", re.I)
_CAPTCHA_IMG = re.compile(r"captcha|challenge", re.I)
_SHORT_WORDS = 250


def classify(page: Page, *, status: int = 200, engine: str | None = None) -> Verdict:
    """The state of one fetched page (see the module docstring)."""
    if status in (404, 410):
        return Verdict(PageState.NOT_FOUND)
    markers = ENGINE_CONTENT_MARKERS.get(engine or "", ())
    if markers and status < 400 and any(page.selector.css(m) for m in markers):
        return Verdict(PageState.OK)
    text = _visible_text(page)
    short = len(text.split()) < _SHORT_WORDS
    if short and _MAINTENANCE.search(text):
        return Verdict(PageState.MAINTENANCE, wait_s=_wait_seconds(page, text))
    kind = detect_kind(page)
    if kind is PageKind.DDOS:
        return Verdict(PageState.DDOS, wait_s=_wait_seconds(page, text))
    if kind is PageKind.LOGIN:
        return Verdict(PageState.LOGIN, captcha_image=captcha_image(page))
    if kind is PageKind.CAPTCHA:
        # The detector files anti-phishing checks under captcha; they need a different answer.
        state = PageState.ANTI_PHISHING if _PHISHING.search(text) else PageState.CAPTCHA
        return Verdict(state, captcha_image=captcha_image(page))
    if kind is PageKind.NOT_FOUND:
        return Verdict(PageState.NOT_FOUND)
    if kind is PageKind.OTHER and short and _BANNED.search(text):
        return Verdict(PageState.BANNED)
    return Verdict(PageState.OK)


def captcha_image(page: Page) -> str | None:
    for img in page.selector.css("img"):
        attrs = " ".join(img.attrib.get(a, "") for a in ("src", "alt", "id", "class", "name"))
        src = img.attrib.get("src", "")
        if src and not src.startswith("data:") and _CAPTCHA_IMG.search(attrs):
            return urljoin(page.url, src)
    return None


def _visible_text(page: Page) -> str:
    parts = page.selector.xpath("//title//text() | //body//text()[not(ancestor::script or ancestor::style)]")
    return " ".join(" ".join(parts.getall()).split())


def _wait_seconds(page: Page, text: str) -> float | None:
    match = _META_REFRESH.search(page.text[:20000])
    if match:
        return float(match.group(1) or match.group(2))
    said = _WAIT_TEXT.search(text)
    return float(said.group(1)) if said else None
