"""Quantities: "10g", "7gs", "1/8 oz", "8-ball", "QP", "100 x 80mg", "80mg x 100", "100pcs", "10ml".

Owns unit normalisation (grams, millilitres, units with a per-unit dose in mg) and the rule that
decides whether a bare "80mg" is a pill's dose or a powder's weight. Units and street measures are
data (``data/units.yaml``). Output: ``doc._.ow_quantities`` (list of :class:`QuantityMention`, in text
order), ``doc._.ow_doses_mg`` and the span group ``doc.spans["quantities"]``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Literal

import yaml
from spacy.language import Language
from spacy.tokens import Doc

from onionwatch.extractors.batching import BatchedPipe
from onionwatch.extractors.doctext import declare_result, folded_of, text_of
from onionwatch.extractors.numbers import parse_number
from onionwatch.extractors.textfold import fold, fold_lower
from onionwatch.models import QuantityMention

Unit = Literal["g", "ml", "unit"]

# drug classes sold as pills/tabs: a bare "80mg" is then a dose, not 0.08 g of powder
_PILL_CLASSES = frozenset(
    {
        "benzodiazepine",
        "hypnotic",
        "gabapentinoid",
        "pde5_inhibitor",
        "eugeroic",
        "muscle_relaxant",
        "steroid",
    }
)
_PILL_IDS = frozenset(
    {
        "oxycodone",
        "hydrocodone",
        "hydromorphone",
        "oxymorphone",
        "morphine",
        "codeine",
        "tramadol",
        "tapentadol",
        "methadone",
        "buprenorphine",
        "methylphenidate",
        "amphetamine",
        "lsd",
        "2c-b",
    }
)
_PILL_WORDS = frozenset(
    {
        "pill",
        "pills",
        "tab",
        "tabs",
        "tablet",
        "tablets",
        "caps",
        "capsule",
        "capsules",
        "pressed",
        "press",
        "presses",
        "bars",
        "blotter",
        "blotters",
        "m30",
        "blues",
        "pcs",
        "x",
        "each",
        "softgels",
        "strips",
        "films",
    }
)
_STRENGTH = re.compile(r"extract|strength|stronger|potency|potent|concentrat|zoom|magnif", re.I)
_PILL_RX = re.compile(r"\b(?:" + "|".join(sorted(map(re.escape, _PILL_WORDS))) + r")\b", re.I)
_NUM = r"(?:\d+(?:[.,]\d+)?|[.,]\d+)"
_FRACTION = r"(?:\d+/\d+|[½¼⅛])"
_FRACTIONS = {"½": Decimal("0.5"), "¼": Decimal("0.25"), "⅛": Decimal("0.125")}
# no number glued to a word, decimal, currency or code before it; "1-1000 grams" (a range) is fine
# ASCII classes: \d, \w, \s, \b on ASCII only are ~20 % faster, and market units and numbers are
# ASCII (µ, ×, ½ and currency signs are written as literals in the patterns)
_FLAGS = re.IGNORECASE | re.ASCII
#: how far after a pill count its dose may be written ("10 x Vyvanse 50 mg")
_DOSE_REACH = 30
_SPACES = re.compile(r"\s+")
# What may stand right before a quantity's number: nothing word-like, no other number, no
# "letter-" ("MDMB-4en"), except the unit and "/" or "-" of a tier list ("1g/5g/10g", "1g-5g-10g").
# One look-behind per unit: Python's look-behinds are fixed-width.
_TIER_GLUES = (r"\dg[/-]", r"\dgr[/-]", r"\doz[/-]", r"\dml[/-]")


def _left_boundary(at: str = "") -> str:
    """The boundary as look-behinds ending ``at`` characters before the current position."""
    glued = "".join(f"|(?<={g}{at})" for g in _TIER_GLUES)
    return f"(?:(?<![A-Za-z0-9.,/$€£₿฿#]{at})(?<![A-Za-z]-{at}){glued})"


# where a number-led pattern may start (the same boundary as _LEFT)
# (the digit comes first and the look-behinds include it: a pattern that opens with a character
# class lets the regex engine skip ahead to candidates instead of testing every position)
_DIGIT = r"[\d½¼⅛]"
_NUMBER_START = re.compile(_DIGIT + _left_boundary(_DIGIT), _FLAGS)
#: the patterns that do not start with a number scan the whole text
_SCANNED = frozenset({"street", "count_x", "container"})
#: how far a street measure's count may stand before it ("100 x QP") and a margin after the word
_STREET_BEFORE = 24
_STREET_AFTER = 16
#: number-led patterns whose number is followed by a count word or "x"/"of"/"@" (the others by a unit)
_COUNT_LED = frozenset({"count_measure", "count"})
#: words between a number and a count word that make it something else than a described count
_NOT_DESCRIBING = "for|of|and|or|per|get|free|more|extra|bonus|at|in|from|to|with|than|out|left|sold|max|min"
_DASHES = re.compile(r"[\s-]+")
# "_" separates like a space ("LSD_300 hits"): market titles use it where URLs or filenames forbid spaces
_LEFT = _left_boundary()
# "28g (1oz)": the bracketed amount restates the one before it
_RESTATED = re.compile(r"\s*[(\[]\s*$")
_RIGHT = r"(?![A-Za-z0-9µμ])"


#: packaging words that a count follows ("Box of 28", "pack of 10", "strip of 14")
_CONTAINERS = (
    "box|boxes|pack|packs|packet|packets|strip|strips|blister|blisters|"
    "bottle|bottles|sheet|sheets|bag|bags|tub|jar"
)


class Lazy:
    """A yes/no worked out on first use (a context test that most documents never need)."""

    def __init__(self, test: Callable[[], bool]) -> None:
        self._test: Callable[[], bool] | None = test
        self._value = False

    def __bool__(self) -> bool:
        if self._test is not None:
            self._value, self._test = self._test(), None
        return self._value


Flag = bool | Lazy


@dataclass(frozen=True)
class Units:
    mass: dict[str, tuple[Unit, Decimal]]
    dose: dict[str, Decimal]
    count: frozenset[str]
    street: dict[str, Decimal]
    fluid_ounce_ml: Decimal
    liquid_words: frozenset[str]
    powder_names: frozenset[str] = frozenset()


@dataclass(frozen=True)
class Found:
    start: int
    end: int
    value: Decimal
    unit: Unit
    dose_mg: Decimal | None = None


def _drop_restated(text: str, found: list[Found]) -> list[Found]:
    """Drop an amount in brackets right after one of the same unit and about the same size:
    "28g (1oz)", "1oz (28g)", "3.5g [1/8 oz]" are one quantity written twice."""
    out: list[Found] = []
    for f in found:
        prev = out[-1] if out else None
        if (
            prev is not None
            and prev.unit == f.unit != "unit"
            and _RESTATED.match(text, prev.end, f.start)
            and abs(f.value - prev.value) <= Decimal("0.05") * max(f.value, prev.value)
        ):
            continue
        out.append(f)
    return out


def _first_chars(words: Iterable[str]) -> str:
    """A look-ahead for the characters the words start with ("" when one starts with a space or
    hyphen, which ``_alt`` turns into a pattern). A pattern that opens with it lets the regex engine
    skip ahead to candidate characters instead of trying a long alternation at every position."""
    firsts = {w[0] for w in words if w}
    if not firsts or firsts & {" ", "-"}:
        return ""
    return "(?=[" + "".join(re.escape(c) for c in sorted(firsts)) + "])"


def _alt(words: list[str]) -> str:
    ordered = sorted(words, key=len, reverse=True)
    return "|".join(re.escape(w).replace(r"\ ", r"[\s-]*").replace(r"\-", r"[\s-]?") for w in ordered)


@lru_cache(maxsize=2)
def load_units(path: str | None = None) -> Units:
    src = Path(path) if path else Path(str(resources.files("onionwatch.extractors") / "data" / "units.yaml"))
    raw = yaml.safe_load(src.read_text(encoding="utf-8"))

    def key(word: object) -> str:
        # the parser reads folded text ("Stück" is "Stuck" there): the unit words are folded alike
        return fold_lower(str(word))

    mass = {key(k): (v[0], Decimal(str(v[1]))) for k, v in raw["mass"].items()}
    dose = {key(k): Decimal(str(v)) for k, v in raw["dose"].items()}
    street = {key(k): Decimal(str(v)) for k, v in raw["street"].items()}
    return Units(
        mass,
        dose,
        frozenset(key(w) for w in raw["count"]),
        street,
        Decimal(str(raw["fluid_ounce_ml"])),
        frozenset(key(w) for w in raw["liquid_words"]),
        frozenset(key(w) for w in raw.get("powder_names", ())),
    )


class QuantityParser:
    """Regex scanner over a listing's text; pure, usable without spaCy."""

    def __init__(self, units: Units) -> None:
        self.units = units
        mass = _alt(list(units.mass))
        dose = _alt(list(units.dose))
        count = _alt([w for w in units.count if w != "x"])
        measure = f"(?:{mass}|{dose})"
        times = r"(?:[x×*]|of|@)"
        n = rf"{_LEFT}(?P<n>\d+)"
        a = rf"(?P<a>{_NUM})"
        # a cheap test before the street-measure pattern (whose optional prefix makes it try every position)
        # the street-measure words alone (a leading \b fails fast at most positions): the full
        # pattern then runs only in a window around each of them
        self._street_words = re.compile(
            rf"{_first_chars(units.street)}\b(?:{_alt(list(units.street))})", _FLAGS
        )
        # What must follow the leading number for a number-led pattern to have any chance: a count
        # word or "x"/"of"/"@" (count-led patterns), or a mass or dose unit (measure-led patterns).
        # Both are prefixes of the patterns they guard, so skipping a start that fails its guard
        # cannot change what is found; most numbers in a listing (prices, years, "24h") fail both.
        self._count_guard = re.compile(rf"\d+\s*(?:{count}|[x×*@]|of)", _FLAGS)
        self._measure_guard = re.compile(rf"(?:{_NUM}|{_FRACTION})\s*{measure}", _FLAGS)
        # ordered: the first pattern that claims a stretch of text wins it
        self.patterns: list[tuple[str, re.Pattern[str]]] = [
            (
                "count_measure",
                re.compile(rf"{n}\s*(?:(?P<cw>{count})\s*)?{times}\s*{a}\s*(?P<u>{measure}){_RIGHT}", _FLAGS),
            ),
            (
                "count_measure",
                re.compile(rf"{n}\s*(?P<cw>{count})\s*[(\[]?\s*{a}\s*(?P<u>{dose}){_RIGHT}", _FLAGS),
            ),
            (
                "measure_count",
                re.compile(
                    rf"{_LEFT}{a}\s*(?P<u>{measure})\s*(?:[x×*]|per|-|–|,)?\s*[(\[]?\s*(?P<n>\d+)\s*"
                    rf"(?P<cw>{count}){_RIGHT}",
                    _FLAGS,
                ),
            ),
            (
                "measure_count",
                re.compile(
                    rf"{_LEFT}{a}\s*(?P<u>{measure})\s*[x×*]\s*(?P<n>\d+){_RIGHT}(?!\s*(?:{measure}|[.,]\d))",
                    _FLAGS,
                ),
            ),
            (
                "street",
                re.compile(
                    rf"(?:{_LEFT}(?P<n>\d+)\s*[x×]?\s*|\b(?P<art>an?|one)\s+)?\b(?P<m>{_alt(list(units.street))})"
                    rf"{_RIGHT}",
                    _FLAGS,
                ),
            ),
            ("fraction", re.compile(rf"{_LEFT}(?P<f>{_FRACTION})\s*(?P<u>{mass}){_RIGHT}", _FLAGS)),
            ("measure", re.compile(rf"{_LEFT}{a}\s*(?P<u>{mass}){_RIGHT}(?!\s*/\s*ml)", _FLAGS)),
            ("dose", re.compile(rf"{_LEFT}{a}\s*(?P<u>{dose}){_RIGHT}(?!\s*/\s*(?:ml|g))", _FLAGS)),
            ("count", re.compile(rf"{n}\s*(?P<cw>{count}|x(?=\s|$|[^\w]))(?!\s*\d)", _FLAGS)),
            # one describing word between the count and its count word ("35 mixed carts",
            # "100 yellow bars"); lowest priority among counts, never a function word
            (
                "count_described",
                re.compile(
                    rf"{n}\s+(?!(?:{_NOT_DESCRIBING})\b)[a-z]{{3,12}}\s+(?P<cw>{count}){_RIGHT}", _FLAGS
                ),
            ),
            # a title that opens with its count and names the unit a few words later
            # ("3 Black Domina Feminized Seeds", "3 Great White Shark / Feminised Seeds")
            (
                "count_described",
                re.compile(
                    rf"(?:^|(?<=\n))(?P<n>\d+)\s+(?:(?!(?:{_NOT_DESCRIBING})\b)[a-z]{{2,14}}(?:\s+|\s*/\s*)){{1,3}}"
                    rf"(?P<cw>{count}){_RIGHT}",
                    _FLAGS,
                ),
            ),
            (
                "container",
                re.compile(
                    rf"{_first_chars(_CONTAINERS.split('|'))}\b(?:{_CONTAINERS})\s+of\s+(?P<n>\d+){_RIGHT}"
                    rf"(?!\s*(?:{measure}|[.,]\d|[x×*]))",
                    _FLAGS,
                ),
            ),
            (
                "count_x",
                re.compile(rf"[x×](?<!\w[x×])\s*(?P<n>\d+){_RIGHT}(?!\s*(?:{measure}|[.,]\d))", _FLAGS),
            ),
        ]

    def scan(self, text: str) -> list[tuple[str, re.Match[str]]]:
        taken = bytearray(len(text))
        found: list[tuple[str, re.Match[str]]] = []
        # Most patterns start with a number: trying them only where a number starts is several times
        # cheaper than letting each one scan the whole text.
        starts = [m.start() for m in _NUMBER_START.finditer(text)]
        counted = [pos for pos in starts if self._count_guard.match(text, pos)]
        measured = [pos for pos in starts if self._measure_guard.match(text, pos)]
        for kind, rx in self.patterns:
            if kind in _SCANNED:
                matches: Iterable[re.Match[str] | None] = (
                    self._street_matches(rx, text) if kind == "street" else rx.finditer(text)
                )
            else:
                at = counted if kind in _COUNT_LED else starts if kind == "count_described" else measured
                # a match at a claimed position would overlap its claim: not tried at all
                matches = (rx.match(text, pos) for pos in at if not taken[pos])
            for m in matches:
                if m is None or any(taken[m.start() : m.end()]):
                    continue
                taken[m.start() : m.end()] = b"\x01" * (m.end() - m.start())
                found.append((kind, m))
        found.sort(key=lambda km: km[1].start())
        return found

    def _street_matches(self, rx: re.Pattern[str], text: str) -> Iterator[re.Match[str]]:
        window_start = window_end = -1
        for w in self._street_words.finditer(text):
            start, end = max(0, w.start() - _STREET_BEFORE), w.end() + _STREET_AFTER
            if start > window_end:
                if window_end >= 0:
                    yield from rx.finditer(text, window_start, window_end)
                window_start = start
            window_end = end
        if window_end >= 0:
            yield from rx.finditer(text, window_start, window_end)

    def measure(self, amount: Decimal, unit: str, *, liquid: Flag = False) -> tuple[Unit, Decimal] | None:
        u = _SPACES.sub("", unit.lower())
        if liquid and u in ("oz", "ozs", "ounce", "ounces"):
            return "ml", amount * self.units.fluid_ounce_ml
        if u in self.units.mass:
            norm, factor = self.units.mass[u]
            return norm, amount * factor
        if u in self.units.dose:
            return "g", amount * self.units.dose[u] / 1000
        return None

    def dose_mg(self, amount: Decimal, unit: str) -> Decimal | None:
        u = unit.lower()
        if u in self.units.dose:
            return amount * self.units.dose[u]
        if u in self.units.mass and self.units.mass[u][0] == "g":
            return amount * self.units.mass[u][1] * 1000
        return None

    def street_grams(self, spelled: str) -> Decimal | None:
        key = _DASHES.sub(" ", spelled.lower()).strip()
        for cand in (key, key.replace(" ", "-"), key.replace(" ", "")):
            if cand in self.units.street:
                return self.units.street[cand]
        return None

    def parse(
        self,
        text: str,
        *,
        pill_context: Flag,
        drug_listing: bool,
        liquid: Flag = False,
        folded: str | None = None,
    ) -> tuple[list[Found], list[Decimal]]:
        """Quantities and bare doses found in ``text`` (``folded``: ``fold(text)`` when the caller has it)."""
        out: list[Found] = []
        lone_doses: list[tuple[int, int, Decimal]] = []
        for kind, m in self.scan(fold(text) if folded is None else folded):
            try:
                self._one(
                    kind,
                    m,
                    out,
                    lone_doses,
                    pill_context=pill_context,
                    drug_listing=drug_listing,
                    liquid=liquid,
                )
            except (InvalidOperation, ValueError, ZeroDivisionError):
                continue
        doses = list(
            dict.fromkeys([f.dose_mg for f in out if f.dose_mg is not None] + [d for *_, d in lone_doses])
        )
        return self._attach_doses(text, _drop_restated(text, out), lone_doses), doses

    @staticmethod
    def _attach_doses(text: str, out: list[Found], lone_doses: list[tuple[int, int, Decimal]]) -> list[Found]:
        """Give a pill count without a dose the dose written right after it ("10 x Vyvanse 50 mg",
        before the next quantity), else the listing's only dose ("Xanax 2mg ... 100 pills")."""
        distinct = {d for *_, d in lone_doses}
        only = next(iter(distinct)) if len(distinct) == 1 else None
        result = []
        for i, f in enumerate(out):
            if f.unit == "unit" and f.dose_mg is None and not _holds_count(text, f, out[i + 1 : i + 2]):
                limit = min(f.end + _DOSE_REACH, out[i + 1].start if i + 1 < len(out) else len(text))
                after = [d for s, _, d in lone_doses if f.end <= s < limit and "\n" not in text[f.end : s]]
                dose = after[0] if after else only
                if dose is not None:
                    f = Found(f.start, f.end, f.value, f.unit, dose)
            result.append(f)
        return result

    def _one(
        self,
        kind: str,
        m: re.Match[str],
        out: list[Found],
        lone_doses: list[tuple[int, int, Decimal]],
        *,
        pill_context: Flag,
        drug_listing: bool,
        liquid: Flag = False,
    ) -> None:
        s, e = m.start(), m.end()
        if kind in ("count_measure", "measure_count"):
            n = Decimal(m.group("n"))
            a = parse_number(m.group("a"))
            unit = m.group("u")
            dose = self.dose_mg(a, unit)
            is_dose = unit.lower() in self.units.dose
            if n == 0:
                return
            if is_dose or (m.groupdict().get("cw") and dose is not None and dose < 1000 and pill_context):
                out.append(Found(s, e, n, "unit", dose))
            else:
                meas = self.measure(a, unit, liquid=liquid)
                if meas is None:
                    return
                out.append(Found(s, e, _norm(n * meas[1]), meas[0]))
        elif kind == "street":
            if not drug_listing:
                return
            grams = self.street_grams(m.group("m"))
            if grams is None:
                return
            spelled = m.group("m").lower()
            if spelled.startswith(("key", "brick")) and not (m.group("n") or m.group("art")):
                return  # "PGP key", "license key": a key is a kilo only when counted
            n = Decimal(m.group("n")) if m.group("n") else Decimal(1)
            out.append(Found(s, e, _norm(n * grams), "g"))
        elif kind == "fraction":
            f = m.group("f")
            if f in _FRACTIONS:
                frac = _FRACTIONS[f]
            else:
                num, den = f.split("/")
                frac = Decimal(num) / Decimal(den)
            meas = self.measure(frac, m.group("u"), liquid=liquid)
            if meas is not None:
                out.append(Found(s, e, _norm(meas[1]), meas[0]))
        elif kind == "measure":
            meas = self.measure(parse_number(m.group("a")), m.group("u"), liquid=liquid)
            if meas is not None and meas[1] > 0:
                out.append(Found(s, e, _norm(meas[1]), meas[0]))
        elif kind == "dose":
            a = parse_number(m.group("a"))
            mg = self.dose_mg(a, m.group("u"))
            if mg is None or mg <= 0:
                return
            if m.group("u").lower() in ("mg", "mgs", "milligram", "milligrams") and not pill_context:
                out.append(Found(s, e, _norm(mg / 1000), "g"))  # "500mg MDMA": a weight of powder
            else:
                lone_doses.append((s, e, _norm(mg)))
        elif kind in ("count", "count_x", "count_described", "container"):
            n = Decimal(m.group("n"))
            if m.groupdict().get("cw", "x").lower() in ("x", "×") and _STRENGTH.search(
                m.string[max(0, s - 12) : e + 14]
            ):
                return  # "extract 50x", "20x stronger": a strength, not a count
            if n > 0:
                out.append(Found(s, e, n, "unit"))


def _holds_count(text: str, f: Found, following: list[Found]) -> bool:
    """A count followed by a count in brackets is a package of them ("1 strip (14 capsules)"): the
    dose belongs to what is inside."""
    if not following or following[0].unit != "unit":
        return False
    return text[f.end : following[0].start].strip() in ("(", "[")


def _norm(value: Decimal) -> Decimal:
    q = value.quantize(Decimal("0.001")).normalize()
    exponent = q.as_tuple().exponent
    return q.quantize(Decimal(1)) if isinstance(exponent, int) and exponent > 0 else q


class Quantities(BatchedPipe):
    def __init__(self, name: str, units_path: str | None, drugs_key: str, spans_key: str | None) -> None:
        self.name = name
        self.parser = QuantityParser(load_units(units_path))
        self._liquid_rx = re.compile(
            r"\b(?:" + "|".join(sorted(map(re.escape, self.parser.units.liquid_words))) + r")\b", re.I
        )
        self.drugs_key = drugs_key
        self.spans_key = spans_key
        for ext in ("ow_quantities", "ow_quantity_offsets", "ow_doses_mg"):
            declare_result(ext)

    def __call__(self, doc: Doc) -> Doc:
        text = text_of(doc)
        drugs = doc.spans.get(self.drugs_key, [])
        # both are needed only for some mentions: decided on first use
        pill = Lazy(
            lambda: (
                any(
                    (s.id_ in _PILL_IDS and s.text.lower() not in self.parser.units.powder_names)
                    or s.label_ in _PILL_CLASSES
                    for s in drugs
                )
                or bool(_PILL_RX.search(text))
            )
        )
        liquid = Lazy(lambda: bool(self._liquid_rx.search(text)))
        found, doses = self.parser.parse(
            text, pill_context=pill, drug_listing=len(drugs) > 0, liquid=liquid, folded=folded_of(doc)
        )
        mentions = []
        spans = []
        for f in found:
            mentions.append(
                QuantityMention(value=f.value, unit=f.unit, dose_mg=f.dose_mg, text=text[f.start : f.end])
            )
            if self.spans_key:
                span = doc.char_span(f.start, f.end, label="QUANTITY", alignment_mode="expand")
                if span is not None:
                    spans.append(span)
        results = doc.user_data  # ``doc._.ow_*``, see declare_result
        results["ow_quantities"] = mentions
        results["ow_quantity_offsets"] = [(f.start, f.end) for f in found]
        results["ow_doses_mg"] = doses
        if self.spans_key:
            doc.spans[self.spans_key] = spans
        return doc


@Language.factory(
    "onionwatch_quantities_v1",
    default_config={"units_path": None, "drugs_key": "drugs", "spans_key": "quantities"},
)
def make_quantities(
    nlp: Language, name: str, units_path: str | None, drugs_key: str, spans_key: str | None
) -> Quantities:
    return Quantities(name, units_path, drugs_key, spans_key)
