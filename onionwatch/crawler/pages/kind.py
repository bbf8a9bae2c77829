"""Page-kind detection: is this the page we wanted (a listing) or a wall (captcha, DDoS queue, login,
anti-phishing check, not found)?

General signals only, no per-market rules: it is measured on markets it has never seen. Walls are
recognised first (they are short pages built around one form or one message); content pages are then
told apart by what they offer: one item with a buy form (listing), many item links with prices
(search/category), a member's record (vendor profile).
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass

from onionwatch.crawler.pages.base import Page
from onionwatch.crawler.pages.generic import content_tree, element_text, labelled, normalize_space, page_title
from onionwatch.errors import PageError
from onionwatch.extractors.prices import find_prices
from onionwatch.models import PageKind

_DDOS = re.compile(
    r"ddos|d\.d\.o\.s|checking your browser|browser check|please wait|you are in (?:the )?queue|"
    r"queue position|waiting room|estimated wait|will be redirected|redirect(?:ed)? (?:you )?shortly|"
    r"this process is automatic|too many requests|rate limit(?:ed)?|under (?:heavy )?load|endgame|"
    r"verifying (?:your )?(?:connection|browser)|access queue|high traffic",
    re.I,
)
_PHISHING = re.compile(
    r"anti[- ]?phishing|phishing (?:protection|check|captcha)|missing (?:\* )?characters|url bar|address bar|"
    r"(?:confirm|complete|enter|select|pick)\b[\w ]{0,40}\b(?:onion (?:address|url|link)|(?:correct|real) "
    r"(?:onion|address|url|link|mirror))",
    re.I,
)
_CAPTCHA = re.compile(
    r"captcha|solve the|enter the (?:code|characters|text)|select the (?:three|\w+) characters|"
    r"what is literally|i am (?:not a robot|human)|prove you are",
    re.I,
)
_NOT_FOUND = re.compile(
    r"\b404\b|not found|page (?:does not|doesn't) exist|no longer (?:available|exists)|has been removed|"
    r"listing (?:was )?(?:deleted|removed)|item (?:does not|doesn't) exist|nothing (?:was )?found here",
    re.I,
)
_BLOCKED = re.compile(
    r"security breach|you (?:are|have been) banned|account (?:is |has been )?(?:temporarily )?suspended|"
    r"\bstrike\b|access denied|forbidden|blocked",
    re.I,
)
_LOGIN_WORDS = re.compile(r"\b(?:log ?in|sign ?in|password|username|register)\b", re.I)
_BUY = re.compile(
    r"\b(?:buy(?: now)?|add to (?:cart|basket|bag|order)|purchase|order now|place order|checkout"
    # the same on markets in other languages (de, es/pt, fr, pl, nl, ru)
    r"|kaufen|jetzt bestellen|in den warenkorb|comprar|ajouter au panier|acheter|kup teraz|do koszyka"
    r"|bestel nu|in winkelwagen|купить|в корзину|оформить заказ)\b",
    re.I,
)
# each pattern is one kind of evidence of a member profile; two different ones are needed
_VENDOR_EVIDENCE = tuple(
    re.compile(p, re.I)
    for p in (
        r"member since|vendor since|joined (?:on |in )?\w|registered (?:on|since)|vendor for \d"
        r"|\bsince\s+(?:\d{4}|[a-z]+\.? \d{4}|\d{1,2}[/.-]\d)"
        # the same on markets in other languages (de, es, fr, ru)
        r"|mitglied seit|registriert seit|miembro desde|membre depuis|на сайте с|зарегистрирован",
        r"last (?:seen|online|active|login)\b|zuletzt online|última conexión|dernière connexion|был в сети",
        r"\b(?:total )?(?:sales|transactions|orders completed)\s*:?\s*\d"
        r"|\d+\s+(?:sales|transactions)\b|(?:verkäufe|ventas|ventes|продаж[иа]?)\s*:?\s*\d|\d+\s+продаж",
        r"(?:avg\.?|average) rating|positive feedback|feedback (?:score|rating)|[★⭐]\s*\d(?:[.,]\d+)?\b"
        r"|\d+(?:\.\d+)?\s*/\s*5(?:\.0)?\b",
        r"about (?:the |this )?vendor|vendor (?:profile|stats|information)|profile of|user profile|"
        r"(?:vendor|trust) level \d",
        r"disputes?\s*(?:won|lost|:|\d)|refund policy|terms and conditions of",
        r"BEGIN PGP PUBLIC KEY BLOCK",
    )
)
_ITEM_HREF = re.compile(
    r"/(?:product|products|listing|listings|item|items|offer|viewproduct|p)/|[?&](?:offer|product|listing|item|"
    r"id|pid)=",
    re.I,
)
_PROFILE_HREF = re.compile(
    r"/(?:u|user|users|vendor|vendors|seller|profile|store|shop)/|/@|member=|vendor=", re.I
)
# the member a profile link points to ("/u/NAME", "?member=NAME&page=2", "/@NAME")
_PROFILE_HANDLE = re.compile(
    r"(?:/(?:u|user|users|vendor|vendors|seller|profile|store|shop)/|/@|[?&](?:member|vendor|seller|user)=)"
    r"(?P<h>[A-Za-z0-9_.\-]{3,40})",
    re.I,
)
#: this many links to one member's pages (tabs, paging) make the page that member's own
_SUBJECT_LINKS = 5


@dataclass(frozen=True)
class Signals:
    title: str
    text: str
    words: int
    password_inputs: int
    captcha_inputs: int
    forms: int
    item_links: int
    profile_links: int
    prices: int
    buy_controls: int
    qty_inputs: int
    vendor_evidence: int
    labelled_price: bool
    labelled_vendor: bool
    headings: int
    meta_refresh: bool
    #: a member whose profile links recur on the page and whose handle is in the page title
    title_member: bool = False


def _signals(page: Page) -> Signals:
    root = content_tree(page)
    title = page_title(page)
    body = root.find("body")
    # text nodes joined with spaces: table cells ("Spain" | "49,31 €") must not run together
    text = normalize_space(" ".join((body if body is not None else root).itertext()))
    raw = page.text.lower()
    inputs = list(root.iter("input"))
    password = sum(1 for i in inputs if (i.get("type") or "").lower() == "password")
    captcha = sum(
        1
        for el in [*inputs, *root.iter("img")]
        if re.search(
            r"captcha|(?:^|_)cap\d?$|challenge",
            " ".join(
                filter(None, (el.get("name"), el.get("id"), el.get("src"), el.get("alt"), el.get("class")))
            ),
            re.I,
        )
    )
    hrefs = [a.get("href") or "" for a in root.iter("a")]
    items = {h for h in hrefs if _ITEM_HREF.search(h)}
    profiles = {h for h in hrefs if _PROFILE_HREF.search(h)}
    handles = Counter(m.group("h").lower() for h in hrefs if (m := _PROFILE_HANDLE.search(h)))
    subject = next((h for h, n in handles.most_common(1) if n >= _SUBJECT_LINKS), None)
    buy = 0
    qty = 0
    for el in [*inputs, *root.iter("button"), *root.iter("a")]:
        name = el.get("name") or ""
        label = " ".join(filter(None, (el.get("value"), name, element_text(el), el.get("title"))))
        if re.search(r"^(?:qty|quantity)$", name, re.I) and el.tag == "input":
            qty += 1
        if _BUY.search(label):
            buy += 1
    return Signals(
        title=title,
        text=text,
        words=len(text.split()),
        password_inputs=password,
        captcha_inputs=captcha,
        forms=sum(1 for _ in root.iter("form")),
        item_links=len(items),
        profile_links=len(profiles),
        prices=len(find_prices(text)),
        buy_controls=buy,
        qty_inputs=qty,
        vendor_evidence=sum(1 for rx in _VENDOR_EVIDENCE if rx.search(text)),
        labelled_price=any(find_prices(f.value) for f in labelled(root, "price")),
        labelled_vendor=any(f.value for f in labelled(root, "vendor")),
        headings=sum(1 for _ in root.iter("h1", "h2")),
        title_member=subject is not None and subject in title.lower(),
        meta_refresh='http-equiv="refresh"' in raw
        or "http-equiv='refresh'" in raw
        or "http-equiv=refresh" in raw,
    )


def detect_kind(page: Page) -> PageKind:
    """The kind of one fetched page (see the module docstring for the order of decisions)."""
    try:
        s = _signals(page)
    except PageError:
        return PageKind.OTHER
    head = f"{s.title} {normalize_space(s.text[:1500])}"
    short = s.words < 250
    offers = s.labelled_price or s.prices > 0
    content = (s.buy_controls > 0 or s.qty_inputs > 0) and offers
    # walls first: they are short and built around one message or one challenge
    if _DDOS.search(s.title) or (short and _DDOS.search(head)):
        return PageKind.DDOS
    if not s.password_inputs and (
        _PHISHING.search(s.title) or (s.forms and not content and _PHISHING.search(head))
    ):
        return PageKind.CAPTCHA
    if s.password_inputs and not content and (short or _LOGIN_WORDS.search(s.title)):
        return PageKind.LOGIN
    if s.captcha_inputs and short and not content:
        return PageKind.CAPTCHA
    if _NOT_FOUND.search(s.title) or (short and s.words and _NOT_FOUND.search(head) and not content):
        return PageKind.NOT_FOUND
    if short and _BLOCKED.search(head) and not content:
        return PageKind.OTHER
    if s.words < 5:
        return PageKind.OTHER  # empty, redirect-only or not HTML
    # content pages: one item with its price and seller, or with a quantity to buy
    if s.labelled_price and (s.labelled_vendor or content):
        return PageKind.LISTING
    if content and s.labelled_vendor and s.item_links < 5:
        return PageKind.LISTING  # a buy button, a price and one "Sold by" block
    if s.qty_inputs and offers:
        return PageKind.LISTING
    if s.vendor_evidence >= 2 and s.qty_inputs == 0:
        return PageKind.VENDOR
    if s.title_member and s.qty_inputs == 0 and not content:
        return PageKind.VENDOR  # "Contact PinkQueen" with PinkQueen's tabs and listing table
    if s.item_links >= 5 and s.prices >= 3:
        return PageKind.SEARCH
    if content:
        return PageKind.LISTING
    if s.item_links >= 1 and s.prices >= 2:
        return PageKind.SEARCH  # a short result list (a category with one or two items)
    return PageKind.OTHER
