"""The analyst query model shared by the CLI, the web UI and alert backtests.

A :class:`SearchQuery` holds the free-text query string (parsed here into an AST, see
docs/search.md for the syntax) plus structured filters, sort, facets and pagination. Backends
translate it into FTS5 SQL (``sqlite.py``) or an Elasticsearch request body (``es_query.py``);
neither backend interprets the query string itself.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from onionwatch.errors import QuerySyntaxError
from onionwatch.index.derive import norm_key, search_tokens
from onionwatch.models import StoredListing, UtcDatetime

FacetName = Literal[
    "market", "vendor", "substance", "class", "ships_from", "category", "origin", "precursor", "has_wallet"
]
SortName = Literal["relevance", "last_seen", "first_seen", "price_per_gram", "-price_per_gram"]
FACET_NAMES: tuple[FacetName, ...] = (
    "market",
    "vendor",
    "substance",
    "class",
    "ships_from",
    "category",
    "origin",
    "precursor",
    "has_wallet",
)

#: fields analysts may name in ``field:value``; text fields match words, keyword fields match exactly
TEXT_FIELDS = ("title", "description")
KEYWORD_FIELDS = (
    "market",
    "vendor",
    "substance",
    "class",
    "ships_from",
    "ships_to",
    # supply chain: listing category, ISO origin / destination codes, precursor id, wallet, PGP key
    "category",
    "origin",
    "destination",
    "precursor",
    "wallet",
    "pgp",
)
#: keyword fields with several values per listing (the rest hold one value)
MULTI_VALUED = ("substance", "class", "ships_to", "destination", "precursor", "wallet", "pgp")
ALL_TEXT_FIELDS = ("title", "description", "vendor", "substances")


class SearchQuery(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    #: free text (docs/search.md); empty = match all
    text: str = ""
    market: str | None = None
    vendor: str | None = None
    substance: str | None = None
    substance_class: str | None = None
    ships_from: str | None = None
    ships_to: str | None = None
    #: listing category (drugs, precursors, weapons, fraud, digital, services, other)
    category: str | None = None
    #: ships from, as an ISO 3166-1 alpha-2 code or region (CN, NL, EU, WW)
    origin: str | None = None
    #: ships to, as a code
    destination: str | None = None
    #: precursor chemical id (npp, anpp, 4-ap, bmk-glycidate, ...)
    precursor: str | None = None
    #: a wallet address shown in the listing
    wallet: str | None = None
    #: a PGP key fingerprint shown in the listing (40 or 64 hex digits)
    pgp: str | None = None
    #: None = both; True = only listings that show a wallet address
    has_wallet: bool | None = None
    #: None = both; True = shipped into the home country from abroad; False = domestic
    international: bool | None = None
    price_per_gram_min: Decimal | None = Field(default=None, ge=0)
    price_per_gram_max: Decimal | None = Field(default=None, ge=0)
    first_seen_from: UtcDatetime | None = None
    first_seen_to: UtcDatetime | None = None
    last_seen_from: UtcDatetime | None = None
    last_seen_to: UtcDatetime | None = None
    #: None = both; True = only listings marked removed; False = only active ones
    removed: bool | None = None
    #: None = relevance when there is text, else last_seen (newest first)
    sort: SortName | None = None
    facets: tuple[FacetName, ...] = ()
    facet_size: int = Field(default=20, ge=1, le=1000)
    limit: int = Field(default=20, ge=0, le=10_000)
    offset: int = Field(default=0, ge=0)

    @field_validator("text")
    @classmethod
    def _parses(cls, value: str) -> str:
        parse_query(value)  # raise QuerySyntaxError early, at the boundary
        return value

    @model_validator(mode="after")
    def _window(self) -> SearchQuery:
        if self.offset + self.limit > 10_000:
            raise ValueError("offset + limit must be <= 10000; use export for deep paging")
        return self

    @property
    def ast(self) -> Node | None:
        return parse_query(self.text)

    def keyword_filters(self) -> list[tuple[str, str]]:
        """The exact-match filters that are set, as (field, normalised value), for every backend."""
        pairs = (
            ("market", self.market),
            ("vendor", self.vendor),
            ("substance", self.substance),
            ("class", self.substance_class),
            ("ships_from", self.ships_from),
            ("ships_to", self.ships_to),
            ("category", self.category),
            ("origin", self.origin),
            ("destination", self.destination),
            ("precursor", self.precursor),
            ("wallet", self.wallet),
            ("pgp", self.pgp),
        )
        return [(name, value) for name, raw in pairs if (value := norm_key(raw)) is not None]

    @property
    def effective_sort(self) -> SortName:
        if self.sort is not None:
            return self.sort
        return "relevance" if self.ast is not None else "last_seen"


class FacetBucket(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    value: str
    count: int


class SearchResult(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    total: int
    hits: tuple[StoredListing, ...]
    facets: dict[str, tuple[FacetBucket, ...]] = Field(default_factory=dict)


# --- query string AST --------------------------------------------------------------------------


@dataclass(frozen=True)
class Text:
    """Words that must appear consecutively (a phrase; one word is a phrase of one)."""

    tokens: tuple[str, ...]
    #: None = any text field (title, description, vendor, substances)
    field: str | None = None


@dataclass(frozen=True)
class Keyword:
    """An exact, case-insensitive match on a keyword field (market, vendor, substance, ...)."""

    field: str
    value: str


@dataclass(frozen=True)
class And:
    children: tuple[Node, ...]


@dataclass(frozen=True)
class Or:
    children: tuple[Node, ...]


@dataclass(frozen=True)
class Not:
    child: Node


@dataclass(frozen=True)
class MatchNone:
    """A term with no searchable characters (e.g. ``"!!"``): matches nothing, like the engines."""


Node = Text | Keyword | And | Or | Not | MatchNone

_FIELD_ALIASES = {
    "substance_class": "class",
    "shipsfrom": "ships_from",
    "shipsto": "ships_to",
    "fingerprint": "pgp",
    "address": "wallet",
}


@dataclass(frozen=True)
class _Tok:
    kind: Literal["word", "phrase", "lparen", "rparen", "and", "or", "not", "field"]
    value: str
    pos: int


def _lex(text: str) -> list[_Tok]:
    tokens: list[_Tok] = []
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if c.isspace():
            i += 1
        elif c == "(":
            tokens.append(_Tok("lparen", c, i))
            i += 1
        elif c == ")":
            tokens.append(_Tok("rparen", c, i))
            i += 1
        elif c == '"':
            end = text.find('"', i + 1)
            if end < 0:
                raise QuerySyntaxError(f"unterminated quote starting at position {i + 1}: {text!r}")
            tokens.append(_Tok("phrase", text[i + 1 : end], i))
            i = end + 1
        else:
            start = i
            while i < n and not text[i].isspace() and text[i] not in '()"':
                i += 1
            word = text[start:i]
            if word == "AND":
                tokens.append(_Tok("and", word, start))
            elif word == "OR":
                tokens.append(_Tok("or", word, start))
            elif word == "NOT":
                tokens.append(_Tok("not", word, start))
            elif word.startswith("-") and len(word) > 1:
                tokens.append(_Tok("not", "-", start))
                i = start + 1
            elif ":" in word and not word.startswith(":"):
                name, _, rest = word.partition(":")
                tokens.append(_Tok("field", name, start))
                if rest:
                    tokens.append(_Tok("word", rest, start + len(name) + 1))
                elif i >= n or text[i] != '"':
                    raise QuerySyntaxError(f"field {name!r} at position {start + 1} has no value")
            else:
                tokens.append(_Tok("word", word, start))
    return tokens


class _Parser:
    """Recursive descent; precedence NOT > AND (also implicit, by juxtaposition) > OR."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens = _lex(text)
        self.i = 0

    def peek(self) -> _Tok | None:
        return self.tokens[self.i] if self.i < len(self.tokens) else None

    def take(self) -> _Tok:
        tok = self.tokens[self.i]
        self.i += 1
        return tok

    def parse(self) -> Node | None:
        if not self.tokens:
            return None
        node = self.parse_or()
        tok = self.peek()
        if tok is not None:
            raise QuerySyntaxError(f"unexpected {tok.value!r} at position {tok.pos + 1}: {self.text!r}")
        return node

    def parse_or(self) -> Node:
        children = [self.parse_and()]
        while (tok := self.peek()) is not None and tok.kind == "or":
            self.take()
            children.append(self.parse_and())
        return children[0] if len(children) == 1 else Or(tuple(children))

    def parse_and(self) -> Node:
        children = [self.parse_unary()]
        while (tok := self.peek()) is not None and tok.kind not in ("or", "rparen"):
            if tok.kind == "and":
                self.take()
            children.append(self.parse_unary())
        return children[0] if len(children) == 1 else And(tuple(children))

    def parse_unary(self) -> Node:
        tok = self.peek()
        if tok is None:
            raise QuerySyntaxError(f"query ends where a term was expected: {self.text!r}")
        if tok.kind == "not":
            self.take()
            return Not(self.parse_unary())
        return self.parse_primary()

    def parse_primary(self) -> Node:
        tok = self.take()
        if tok.kind == "lparen":
            if (nxt := self.peek()) is not None and nxt.kind == "rparen":
                raise QuerySyntaxError(f"empty parentheses at position {tok.pos + 1}: {self.text!r}")
            node = self.parse_or()
            close = self.peek()
            if close is None or close.kind != "rparen":
                raise QuerySyntaxError(f"unclosed '(' at position {tok.pos + 1}: {self.text!r}")
            self.take()
            return node
        if tok.kind in ("word", "phrase"):
            return _text(tok.value, None)
        if tok.kind == "field":
            name = _FIELD_ALIASES.get(tok.value.lower(), tok.value.lower())
            if name not in TEXT_FIELDS and name not in KEYWORD_FIELDS:
                known = ", ".join((*TEXT_FIELDS, *KEYWORD_FIELDS))
                raise QuerySyntaxError(
                    f"unknown field {tok.value!r} at position {tok.pos + 1} (known: {known})"
                )
            value_tok = self.peek()
            if value_tok is None or value_tok.kind not in ("word", "phrase"):
                raise QuerySyntaxError(f"field {tok.value!r} at position {tok.pos + 1} has no value")
            self.take()
            if name in TEXT_FIELDS:
                return _text(value_tok.value, name)
            value = norm_key(value_tok.value)
            if value is None:
                raise QuerySyntaxError(f"field {tok.value!r} at position {tok.pos + 1} has an empty value")
            return Keyword(name, value)
        if tok.kind == "rparen":
            raise QuerySyntaxError(f"unmatched ')' at position {tok.pos + 1}: {self.text!r}")
        raise QuerySyntaxError(
            f"operator {tok.value!r} at position {tok.pos + 1} needs a term on both sides: {self.text!r}"
        )


def _text(value: str, field: str | None) -> Node:
    tokens = tuple(search_tokens(value))
    return Text(tokens, field) if tokens else MatchNone()


def parse_query(text: str) -> Node | None:
    """Parse an analyst query string; None means match everything."""
    if len(text) > 2000:
        raise QuerySyntaxError("query is longer than 2000 characters")
    return _Parser(text).parse()


def positive_texts(node: Node | None) -> list[Text]:
    """Text leaves not under a NOT: what relevance ranking should score."""
    if node is None or isinstance(node, Not | Keyword | MatchNone):
        return []
    if isinstance(node, Text):
        return [node]
    out: list[Text] = []
    for child in node.children:
        out.extend(positive_texts(child))
    return out
