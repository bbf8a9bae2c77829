"""Generic listing extraction: title, price, vendor, description, ships from/to from any market page.

No per-market code: it reads the signals every market page carries: the <title> and headings, label
cells ("Vendor", "Sold by", "Price", "Ships from", "Origin country", "Ships to") with the value in the
next cell or after the label, links to profiles, money notation. Used for markets without a page
object and as a fallback. parsel/lxml only (no Scrapy), so a re-parse runs the same code.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal

from lxml import html as lxml_html

from onionwatch.crawler.pages.base import Page
from onionwatch.crawler.pages.fields import page_rates
from onionwatch.errors import PageError
from onionwatch.extractors.prices import find_prices
from onionwatch.extractors.vendors import clean_handle
from onionwatch.models import Listing, Money

_DROP_TAGS = ("script", "style", "noscript", "template", "svg", "select", "option", "textarea", "head")
_BLOCK_TAGS = frozenset(
    {
        "div",
        "p",
        "td",
        "th",
        "li",
        "tr",
        "table",
        "section",
        "article",
        "dd",
        "dt",
        "h1",
        "h2",
        "h3",
        "h4",
        "h5",
        "h6",
        "br",
        "ul",
        "ol",
        "form",
        "header",
        "footer",
        "nav",
        "aside",
        "main",
        "label",
        "pre",
    }
)
_TITLE_SEPARATORS = re.compile(r"\s+(?:-|\||–|—|::|»|·)\s+")
_SITE_WORDS = re.compile(r"\b(?:market|marketplace|shop|store|bazaar|mall|emporium|drugmarket)\b", re.I)
_GENERIC_HEADINGS = re.compile(
    r"^(?:listing options|browse categories|search(?: options)?|exchange rates?|profile actions|description"
    r"|product description|reviews?|feedbacks?|related products|bulk prices|my account.*|open conversation"
    r"|marketplace|terms(?: &| and) conditions|shipping(?: options)?|payment|categories|menu|login|wallet"
    r"|refund policy|news|links|help|support|account|cart|checkout|features|details|item info:?"
    r"|bitcoin.*|litecoin.*|monero.*|vendor|seller|home|messages|orders)$",
    re.I,
)
_LABELS: dict[str, re.Pattern[str]] = {
    "vendor": re.compile(
        r"^(?:sold\s+by|seller|vendor|vendor\s+name|merchant|offered\s+by|listed\s+by|"
        r"verkäufer|vendeur|vendedor|venditore|продавец|магазин)\s*:?$",
        re.I,
    ),
    "price": re.compile(
        r"^(?:purchase\s+price|unit\s+price|price|price\s+per\s+unit|cost|preis|prix|precio|prezzo|cena|"
        r"цена|стоимость|amount)\s*:?$",
        re.I,
    ),
    "ships_from": re.compile(
        r"^(?:ships?\s+from|shipping\s+from|origin(?:\s+country)?|country\s+of\s+origin|from\s+country|"
        r"ship\s+from|sent\s+from|location|versand\s+aus|env[ií]o\s+desde|enviado\s+desde|exp[ée]di[ée]\s+de|"
        r"exp[ée]dition\s+depuis|spedito\s+da|отправка\s+из|доставка\s+из)\s*:?$",
        re.I,
    ),
    "ships_to": re.compile(
        r"^(?:ships?\s+to|shipping\s+to|destinations?|ship\s+to|delivers?\s+to|shipping\s+destinations?|"
        r"versand\s+nach|env[ií]os?\s+a|exp[ée]dition\s+vers|livraison\s+vers|spedizione\s+in|"
        r"доставка\s+в)\s*:?$",
        re.I,
    ),
    "description": re.compile(
        r"^(?:description|product\s+description|item\s+description|listing\s+description|details|"
        r"about\s+(?:this\s+)?(?:item|product))\s*:?$",
        re.I,
    ),
}
_HANDLE = re.compile(r"^[\w.\-@]{2,40}$", re.UNICODE)
# a <title> that names the page type, not the item: "Listing #8812", "Product", "View item 12"
_GENERIC_TITLE = re.compile(
    r"^(?:view\s+)?(?:listing|product|item|offer|article)(?:\s+(?:details?|page|view))?[\s#:.\d-]*$", re.I
)
# elements that hold the price or the description on shop themes without labels
_PRICE_CLASS = re.compile(r"price|cost", re.I)
_OLD_PRICE_CLASS = re.compile(r"old|was|before|strike|regular|compare", re.I)
_DESCRIPTION_CLASS = re.compile(r"desc|about|product-?info|item-?info|details|tab-?content|tab-?pane", re.I)
_PLACE = re.compile(r"^[^\d<>{}=@#$€£₿]{2,60}$")
_PROFILE_HREF = re.compile(
    r"(?:/u/|/@|/user/|/users/|/vendor/|/vendors/|/seller/|/store/|/shop/|member=|vendor=|seller=)", re.I
)


def normalize_space(text: str) -> str:
    return " ".join(text.split())


def content_tree(page: Page) -> lxml_html.HtmlElement:
    """The page's DOM without scripts, styles and form option lists (their text is not content)."""
    try:
        root = lxml_html.document_fromstring(page.text or "<html></html>")
    except (ValueError, lxml_html.etree.ParserError) as exc:
        raise PageError(f"{page.url}: not an HTML document ({exc})") from exc
    for el in list(root.iter(*_DROP_TAGS)):
        if el.tag == "head":
            continue
        el.drop_tree()
    return root


def element_text(el: lxml_html.HtmlElement) -> str:
    return normalize_space(el.text_content())


def page_title(page: Page) -> str:
    values = page.selector.xpath("//title//text()").getall()
    return normalize_space(" ".join(values))


@dataclass(frozen=True)
class Field:
    value: str
    #: the element holding the value (None when the value is text after the label)
    element: lxml_html.HtmlElement | None
    #: the label sits in a table/definition cell: an empty value there means "not shown"
    in_cell: bool = False


_PURCHASE_INPUT = re.compile(r"qty|quantity|buy|purchase|cart|checkout", re.I)


def _inside(el: lxml_html.HtmlElement, tags: tuple[str, ...]) -> bool:
    return any(a.tag in tags for a in el.iterancestors())


def _is_filter_form(form: lxml_html.HtmlElement) -> bool:
    """A form that filters or searches (sidebar "Origin country:" selects), not a purchase form."""
    if re.search(r"search|filter|find|browse|category", form.get("action") or "", re.I):
        return True
    for inp in form.iter("input", "button"):
        name = " ".join(filter(None, (inp.get("name"), inp.get("value"), inp.get("id"), inp.text)))
        if _PURCHASE_INPUT.search(name):
            return False
    return True


def _in_filter_form(el: lxml_html.HtmlElement) -> bool:
    return any(a.tag == "form" and _is_filter_form(a) for a in el.iterancestors())


def _next_element(el: lxml_html.HtmlElement) -> lxml_html.HtmlElement | None:
    sib = el.getnext()
    while sib is not None and not isinstance(sib.tag, str):
        sib = sib.getnext()
    return sib


def _value_after(label: lxml_html.HtmlElement) -> Field | None:
    """The value a whole-element label introduces: its tail text, or the next sibling element,
    climbing at most two levels when the label is the last thing in its container."""
    el = label
    in_cell = label.tag in ("td", "th", "dt") or any(
        a.tag in ("td", "th", "dt") for a in label.iterancestors()
    )
    for _ in range(3):
        tail = normalize_space(el.tail or "")
        if tail and tail not in (":", "-"):
            return Field(tail.lstrip(":- "), None, in_cell)
        sib = _next_element(el)
        if sib is not None:
            value = element_text(sib)
            # "Order By:" or a column header ("Vendor | Ships from | Price") is another label, not a value
            if value.endswith(":") or any(p.match(value) for p in _LABELS.values()):
                value = ""
            return Field(value, sib, in_cell)
        parent = el.getparent()
        if parent is None or parent.tag in ("body", "html"):
            return None
        el = parent
    return None


def _candidates(root: lxml_html.HtmlElement, pattern: re.Pattern[str]) -> Iterator[tuple[int, Field]]:
    """(order, value) for every label matching ``pattern``: whole-element labels ("<td>Vendor</td>"),
    and labels written as text before an element ("Sold by <a>foo</a>")."""
    for order, el in enumerate(root.iter()):
        if not isinstance(el.tag, str) or el.tag in ("html", "body"):
            continue
        text = element_text(el)
        if text and len(text) <= 40 and pattern.match(text):
            parent = el.getparent()
            if parent is None or element_text(parent) != text:
                value = _value_after(el)
                if value is not None:
                    yield order, value
            continue
        own = normalize_space(el.text or "")
        if own and len(own) <= 40 and pattern.match(own) and len(el):
            first = el[0]
            if isinstance(first.tag, str):
                yield order, Field(element_text(first), first)
        for child in el:
            tail = normalize_space(child.tail or "")
            if tail and len(tail) <= 40 and pattern.match(tail):
                nxt = _next_element(child)
                if nxt is not None:
                    yield order, Field(element_text(nxt), nxt)


def labelled(root: lxml_html.HtmlElement, field: str) -> Iterator[Field]:
    """Values of ``field``: labels outside search/filter forms and navigation first, then document order."""
    found = list(_candidates(root, _LABELS[field]))

    def rank(item: tuple[int, Field]) -> tuple[bool, int]:
        order, f = item
        anchor = f.element if f.element is not None else None
        hidden = anchor is not None and (_in_filter_form(anchor) or _inside(anchor, ("nav", "header")))
        return hidden, order

    for _, f in sorted(found, key=rank):
        yield f
    inline = re.compile(
        _LABELS[field].pattern.removesuffix("$").removesuffix(r"\s*:?") + r"\s*:\s*(?P<v>\S.*)$", re.I
    )
    for el in root.iter():
        if isinstance(el.tag, str) and el.tag in _BLOCK_TAGS:
            own = normalize_space(el.text or "")
            m = inline.match(own) if own else None
            if m:
                yield Field(m.group("v"), None)


# --- fields ------------------------------------------------------------------------------------


def extract_title(page: Page, root: lxml_html.HtmlElement) -> str | None:
    """A heading that the <title> repeats; else the main heading; else the <title> without the
    market's name; else a minor heading."""
    title = page_title(page)
    title_l = title.lower()
    best: tuple[int, str] | None = None
    for level in ("h1", "h2", "h3", "h4"):
        for el in root.iter(level):
            text = element_text(el)
            if len(text) < 3 or len(text) > 300 or _GENERIC_HEADINGS.match(text):
                continue
            if _SITE_WORDS.search(text) and len(text.split()) <= 4:
                continue  # the market's logo or name
            score = {"h1": 4, "h2": 3, "h3": 2, "h4": 1}[level]
            if title_l and text.lower() in title_l:
                score += 10
            if _inside(el, ("nav", "header", "footer", "aside")):
                score -= 5
            if best is None or score > best[0]:
                best = (score, text)
    if best is not None and best[0] >= 3:
        return best[1]
    from_title = _title_from_title_tag(title)
    if from_title:
        return from_title
    return best[1] if best is not None and best[0] >= 1 else None


def _title_from_title_tag(title: str) -> str | None:
    if not title or _GENERIC_TITLE.match(title):
        return None
    parts = [p for p in _TITLE_SEPARATORS.split(title) if p]
    if len(parts) > 1:
        # the market's own name sits at one end: drop an end segment that names a site
        if _SITE_WORDS.search(parts[0]):
            parts = parts[1:]
        elif _SITE_WORDS.search(parts[-1]):
            parts = parts[:-1]
        return " - ".join(parts) or None
    if _SITE_WORDS.search(title) and len(title.split()) <= 4:
        return None  # the title is only the market's name
    return title


_NOT_HANDLES = frozenset(
    {
        "sales",
        "new",
        "items",
        "reviews",
        "feedback",
        "profile",
        "contact",
        "message",
        "orders",
        "vendor",
        "seller",
        "level",
        "trust",
        "verified",
        "unknown",
        "none",
        "n/a",
        "-",
    }
)


def _handle(text: str | None) -> str | None:
    handle = clean_handle(text)
    if handle and _HANDLE.match(handle) and handle.lower() not in _NOT_HANDLES:
        return handle
    return None


def extract_vendor(root: lxml_html.HtmlElement, title: str | None = None) -> str | None:
    for field in labelled(root, "vendor"):
        if field.element is not None:
            for a in field.element.iter("a"):
                handle = _handle(element_text(a))
                if handle:
                    return handle
            first = field.element.text or ""
            handle = _handle(first) if first.strip() else None
            if handle:
                return handle
        handle = _handle(field.value)
        if handle:
            return handle
        if field.value:
            # "PHARMORA (1000) (4.97)": the handle is the first word when the rest is decoration
            handle = _handle(field.value.split()[0])
            if (
                handle
                and len(field.value.split()) > 1
                and not re.search(r"[a-z]{3,}\s+[a-z]{3,}", field.value)
            ):
                return handle
    return _vendor_from_profile_link(root, title) if title else None


def _vendor_from_profile_link(root: lxml_html.HtmlElement, title: str) -> str | None:
    """No vendor label: the first profile link after the title heading (header links name the
    logged-in user, so nothing before the title counts)."""
    seen_title = False
    for el in root.iter():
        if not isinstance(el.tag, str):
            continue
        if not seen_title:
            seen_title = el.tag in ("h1", "h2", "h3") and element_text(el) == title
            continue
        if el.tag == "a" and _PROFILE_HREF.search(el.get("href") or ""):
            handle = _handle(element_text(el))
            if handle:
                return handle
    return None


def extract_price(root: lxml_html.HtmlElement) -> tuple[Money | None, str | None]:
    for field in labelled(root, "price"):
        text = field.value
        if field.element is not None and not find_prices(text):
            # "30.00" then "USD" in the next cell
            nxt = field.element.getnext()
            if nxt is not None and isinstance(nxt.tag, str):
                text = f"{text} {element_text(nxt)}"
        prices = find_prices(text)
        if prices:
            p = prices[0]
            raw = text[p.start : p.end]
            return Money(amount=p.amount, currency=p.currency, raw=raw), normalize_space(text)[:200]
    return None, None


def extract_price_near_title(root: lxml_html.HtmlElement, title: str) -> tuple[Money | None, str | None]:
    """Markets without a price label (shop themes): the first amount after the title heading."""
    seen_title = False
    for el in root.iter():
        if not isinstance(el.tag, str):
            continue
        if not seen_title:
            if el.tag in ("h1", "h2", "h3", "h4", "h5") and element_text(el) == title:
                seen_title = True
            continue
        found = _short_price(el)
        if found is not None:
            return found
    return None, None


def _short_price(el: lxml_html.HtmlElement) -> tuple[Money, str] | None:
    """The first positive amount in an element of at most 60 characters (a price tag, not prose)."""
    text = element_text(el)
    if not text or len(text) > 60:
        return None
    prices = [p for p in find_prices(text) if p.amount > Decimal(0)]
    if not prices:
        return None
    p = prices[0]
    return Money(amount=p.amount, currency=p.currency, raw=text[p.start : p.end]), text


def _hint(el: lxml_html.HtmlElement) -> str:
    return f"{el.get('class') or ''} {el.get('id') or ''}"


def extract_price_by_class(root: lxml_html.HtmlElement) -> tuple[Money | None, str | None]:
    """Shop themes without a price label: a short element whose class names the price
    ("price", "product-price"), not a struck-out old price."""
    for el in root.iter():
        if not isinstance(el.tag, str) or el.tag in ("del", "s", "strike", "option"):
            continue
        hint = _hint(el)
        if not _PRICE_CLASS.search(hint) or _OLD_PRICE_CLASS.search(hint):
            continue
        if _inside(el, ("nav", "header", "footer", "del", "s")):
            continue
        found = _short_price(el)
        if found is not None:
            return found
    return None, None


def extract_place(root: lxml_html.HtmlElement, field: str) -> str | None:
    for f in labelled(root, field):
        value = f.value.strip(" :")
        if value and _PLACE.match(value) and not any(p.match(value) for p in _LABELS.values()):
            return value
        if f.in_cell and not value:
            return None  # a labelled empty cell: the market shows no value
    return None


def extract_ships_to(root: lxml_html.HtmlElement) -> tuple[str, ...]:
    value = extract_place(root, "ships_to")
    if not value:
        return ()
    return tuple(p.strip() for p in re.split(r"\s*[,;/]\s*", value) if p.strip())


def extract_description(root: lxml_html.HtmlElement, title: str) -> str | None:
    for f in labelled(root, "description"):
        if f.element is not None and len(f.value) >= 20:
            return f.value[:20000]
    # no label: the element with the most own text (text directly inside it, not in children);
    # a short one only where its container's class says description ("desc", "product-info")
    best: tuple[int, str] | None = None
    for el in root.iter():
        if not isinstance(el.tag, str) or el.tag in ("html", "body", "a", "option"):
            continue
        if _inside(el, ("nav", "header", "footer", "form", "a")):
            continue
        own = [el.text or ""] + [(c.tail or "") for c in el]
        own_len = sum(len(t.strip()) for t in own)
        if own_len < 80 and not (own_len >= 20 and _described(el)):
            continue
        if best is None or own_len > best[0]:
            best = (own_len, el.text_content().strip())
    if best is None:
        return None
    text = re.sub(r"[ \t]+", " ", best[1])
    return re.sub(r"\n\s*\n+", "\n\n", text).strip()[:20000] or None


def _described(el: lxml_html.HtmlElement) -> bool:
    """The element or one of its two nearest containers is marked as the description."""
    for _ in range(3):
        if _DESCRIPTION_CLASS.search(_hint(el)):
            return True
        parent = el.getparent()
        if parent is None:
            return False
        el = parent
    return False


def _listing_id(page: Page) -> str:
    m = re.search(
        r"(?:[?&](?:id|offer|product|listing|item)=|/(?:product|listing|item|offer|p)/)([\w\-./]+)", page.url
    )
    return m.group(1).strip("/") if m else page.sha256[:16]


def extract_listing(page: Page) -> Listing:
    """One listing from any market's listing page. Raises PageError when there is no listing."""
    root = content_tree(page)
    title = extract_title(page, root)
    if not title:
        raise PageError(f"{page.url}: no listing title found")
    vendor = extract_vendor(root, title)
    price, price_text = extract_price(root)
    if price is None:
        price, price_text = extract_price_by_class(root)
    if price is None:
        price, price_text = extract_price_near_title(root, title)
    if price is None and vendor is None:
        raise PageError(f"{page.url}: not a listing page (no price and no vendor block)")
    return Listing(
        market=page.market,
        listing_id=_listing_id(page),
        url=page.url,
        title=title,
        description=extract_description(root, title),
        vendor=vendor,
        price_text=price_text,
        price=price,
        ships_from=extract_place(root, "ships_from"),
        ships_to=extract_ships_to(root),
        crawled_at=page.crawled_at,
        exchange_rates=page_rates(page.selector),
        page_sha256=page.sha256,
    )


# --- visible text ------------------------------------------------------------------------------

_INVISIBLE_TAGS = frozenset({"script", "style", "noscript", "template", "svg", "head", "select", "img"})
_VERBATIM_TAGS = frozenset({"pre", "textarea"})


def visible_text(el: lxml_html.HtmlElement) -> str:
    """What a reader sees of ``el``: one line per block or ``<br>``, spaces collapsed inside a line,
    ``<pre>`` and ``<textarea>`` kept line for line. A PGP armor block survives it whichever way the
    market printed it (textarea, pre, nl2br), because its blank line and line breaks are kept."""
    lines: list[str] = []
    run: list[str] = []

    def end_line(*, keep_empty: bool = False) -> None:
        text = normalize_space("".join(run))
        run.clear()
        if text or keep_empty:
            lines.append(text)

    def walk(node: lxml_html.HtmlElement) -> None:
        tag = node.tag if isinstance(node.tag, str) else None
        if tag is not None and tag not in _INVISIBLE_TAGS:
            if tag in _VERBATIM_TAGS:
                end_line()
                lines.extend(line.rstrip() for line in node.text_content().strip("\n").split("\n"))
            elif tag == "br":
                end_line(keep_empty=True)  # two <br> in a row are an empty line (nl2br)
            else:
                block = tag in _BLOCK_TAGS
                if block:
                    end_line()
                run.append(node.text or "")
                for child in node:
                    walk(child)
                if block:
                    end_line()
        if node.tail:
            run.append(node.tail)

    walk(el)
    end_line()
    # A block that ends right after a <br> leaves an empty line: keep at most one, none at the ends.
    out: list[str] = []
    for line in lines:
        if line or (out and out[-1]):
            out.append(line)
    return "\n".join(out).strip("\n")
