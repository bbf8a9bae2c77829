"""The drug component: turns lexicon matches into drug mentions.

Owns context decisions: ambiguous slang ("china white", "blues", "M30"), pressed-pill cues,
form words ("crystal", "flake") next to a real name, and exclusion of mentions that are not offers
(negations "no fent", "fent-free", comparisons "as strong as fentanyl", "fentanyl test strips").
Input: the SpanRuler's candidates in ``doc.spans[candidates_key]``. Output: ``doc.spans[spans_key]``
and ``doc.ents`` (label = substance class, ``span.id_`` = canonical id, ``span._.ow_name`` = specific
name).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache

from spacy.language import Language
from spacy.tokens import Doc, Span
from spacy.util import filter_spans

from onionwatch.extractors.batching import BatchedPipe
from onionwatch.extractors.doctext import folded_of
from onionwatch.extractors.fuzzy import MIN_LENGTH, FuzzyNames
from onionwatch.extractors.lexicon import DRUG_LABEL, Ambiguity, Lexicon, load_lexicon
from onionwatch.extractors.textfold import fold_lower

# Comparison or negation right before a mention: the listing is not offering that substance.
# Up to three words may sit between a negator and the name ("not cut with any fent").
_BEFORE = re.compile(
    r"(?:"
    r"\bas\s+(?:strong|potent|good|powerful|clean|pure|strong\s+or\s+stronger)\s+as"
    r"|\b(?:stronger|better|weaker|cleaner|safer|purer|more\s+potent|less\s+potent|cheaper)\s+than"
    r"(?:\s+(?:any|most|the|your|street|regular|normal|real))?"
    r"|\b(?:compared\s+(?:to|with)|comparable\s+to|similar\s+to|alternative\s+to|instead\s+of"
    r"|substitute\s+for|replacement\s+for|same\s+as|rivals?|beats?)"
    r"|\b(?:feels?|hits?|works?|acts?|kicks?|just|exactly|effects?|nothing)\s+like"
    r"|\b(?:to|for)\s+(?:make|making|press|pressing|produce|cook|cooking)"
    r"|\b(?:no|not|non|without|never|zero|free\s+(?:of|from)|negative\s+for|absence\s+of|nor)\b"
    r"(?:[ \t-]+[\w%]+){0,3}?"
    r"|(?<![\d.])0\s?%"
    r")[ \t-]*$",
    re.IGNORECASE,
)
# "free" after a name is "without it" ("fent free", "fentanyl-free"), unless it starts an offer:
# "DMT FREE SHIPPING", "Cocaine free delivery"
_NOT_AN_OFFER = (
    r"(?![ \t]*(?:shipping|shipment|ship|delivery|post|postage|tracking|samples?|gifts?|bonus|"
    r"reships?|express|ww\b|worldwide|eu\b|us\b|uk\b))"
)
_AFTER = re.compile(
    rf"^(?:[ \t]*-?[ \t]*free\b{_NOT_AN_OFFER}|[ \t]*[-:(][ \t]*(?:negative|free\b{_NOT_AN_OFFER})"
    r"|[ \t]+tested[ \t]+negative"
    r"|[ \t]+test(?:ing)?[ \t]*(?:strips?|kits?)|[ \t]+strips?\b|[ \t]+reagents?\b|[ \t]+tests?\b"
    r"|[ \t]+(?:substitute|alternative|replacement)\b)",
    re.IGNORECASE,
)
_COORDINATED = re.compile(r"^[ \t]*(?:or|nor|and|/|&|\+|,[ \t]*or|,[ \t]*nor)[ \t]*$", re.IGNORECASE)
_PRESSED_CUES = frozenset(
    {"pressed", "press", "presses", "pressies", "fake", "fakes", "counterfeit", "replica", "fent", "fentanyl"}
)
_PHARMA_CUES = frozenset(
    {
        "pharma",
        "pharmaceutical",
        "genuine",
        "authentic",
        "legit",
        "original",
        "mallinckrodt",
        "rhodes",
        "kvk",
        "pharmacy",
        "prescription",
        "script",
        "scripts",
        "blister",
        "blisters",
        "brand",
    }
)
_FAMILY_HINTS = {
    "fentanyl_analog": ("fentan", "fentanil"),
    "nitazene": ("nitaz",),
    "benzodiazepine": ("zolam", "zepam"),
}
_WORD = re.compile(r"\w+")
_HYPHEN = re.compile(r"\s*-\s*")
_NEGATORS = frozenset({"no", "not", "non", "never", "without", "zero"})
_DESCRIPTOR_REACH = 2


@dataclass(frozen=True)
class _Mention:
    span: Span
    id: str
    name: str
    descriptor: bool


class DrugContext(BatchedPipe):
    def __init__(self, name: str, lexicon_path: str | None, candidates_key: str, spans_key: str) -> None:
        self.name = name
        self.candidates_key = candidates_key
        self.spans_key = spans_key
        self.lexicon: Lexicon = load_lexicon(lexicon_path)
        # a family regex runs only when one of its word endings is in the text (a substring test)
        self._scanners = [(cid, _FAMILY_HINTS.get(cid, ("",)), rx) for cid, rx in self.lexicon.scanners]
        self._fuzzy = FuzzyNames(self.lexicon)
        if not Span.has_extension("ow_name"):
            Span.set_extension("ow_name", default=None)

    def __call__(self, doc: Doc) -> Doc:
        # styled and accented letters read as plain ones, offsets unchanged: exclusions
        # ("no 𝕗𝕖𝕟𝕥"), names and context words see what the reader sees
        text = folded_of(doc)
        lowered = text.lower()
        found = list(doc.spans.get(self.candidates_key, []))
        for start, end, cid in self._family_matches(lowered):
            span = doc.char_span(start, end, alignment_mode="expand")
            if span is not None:
                found.append(Span(doc, span.start, span.end, label=DRUG_LABEL, span_id=cid))
        found += self._misspelled(doc, found)
        candidates = filter_spans(found)
        excluded: list[bool] = []
        for i, span in enumerate(candidates):
            ex = self._is_excluded(text, span)
            if not ex and i and excluded[-1]:
                # "not cut with fent or xylazine": a name joined to a negated one shares its negation
                ex = bool(_COORDINATED.match(text[candidates[i - 1].end_char : span.start_char]))
            excluded.append(ex)
        blocked: set[int] = set()
        for span, ex in zip(candidates, excluded, strict=True):
            if ex:
                blocked.update(range(span.start, span.end))
        # the context words matter only to ambiguous names and pill slang: built on first use
        words = cache(lambda: self._words(doc, text, blocked))
        mentions: list[_Mention] = []
        for span, ex in zip(candidates, excluded, strict=True):
            if ex:
                continue
            mention = self._resolve(doc, span, words, lowered)
            if mention is not None:
                mentions.append(mention)
        mentions = self._drop_descriptors(mentions)
        spans = []
        for m in mentions:
            # label = substance class, id = canonical substance id (what spaCy scorers and displaCy show)
            span = Span(doc, m.span.start, m.span.end, label=self.lexicon.classes[m.id], span_id=m.id)
            span._.ow_name = m.name
            spans.append(span)
        doc.spans[self.spans_key] = spans
        doc.ents = spans
        return doc

    def _misspelled(self, doc: Doc, found: list[Span]) -> list[Span]:
        """One-word names written with a typo ("CACAINE"), where no name was matched."""
        covered = {i for span in found for i in range(span.start, span.end)}
        out = []
        for tok in doc:
            if len(tok) < (MIN_LENGTH if tok.is_alpha else 5) or tok.i in covered:
                continue
            term = self._fuzzy.lookup(tok.lower_)
            if term is not None:
                out.append(Span(doc, tok.i, tok.i + 1, label=DRUG_LABEL, span_id=term.id))
        return out

    @staticmethod
    def _words(doc: Doc, text: str, blocked: set[int]) -> set[str]:
        """Lower-case words of the listing outside excluded mentions (the context for cues)."""
        if blocked:
            chars = list(text)
            for i in blocked:
                tok = doc[i]
                chars[tok.idx : tok.idx + len(tok)] = " " * len(tok)
            text = "".join(chars)
        return set(_WORD.findall(text.lower()))

    def _family_matches(self, lowered: str) -> list[tuple[int, int, str]]:
        return [
            (m.start(), m.end(), cid)
            for cid, hint, rx in self._scanners
            if any(h in lowered for h in hint)
            for m in rx.finditer(lowered)
        ]

    # --- decisions ---------------------------------------------------------------------------

    @staticmethod
    def _is_excluded(text: str, span: Span) -> bool:
        line_start = max(text.rfind("\n", 0, span.start_char) + 1, span.start_char - 60)
        before = text[line_start : span.start_char]
        after = text[span.end_char : span.end_char + 30]
        return bool(_BEFORE.search(before) or _AFTER.match(after))

    def _resolve(self, doc: Doc, span: Span, words: Callable[[], set[str]], lowered: str) -> _Mention | None:
        key = " ".join(fold_lower(span.text).split())
        lex = self.lexicon
        if key not in lex.terms and key not in lex.ambiguous:
            key = _HYPHEN.sub(" ", key)  # "OG-KUSH" is the term "og kush"
        amb = lex.ambiguous.get(key)
        if amb is not None:
            cid = self._disambiguate(doc, span, amb, words(), lowered)
            if cid is None:
                return None
            name = lex.terms[key].name if key in lex.terms and lex.terms[key].id == cid else lex.names[cid]
            return _Mention(span, cid, name, amb.descriptor)
        term = lex.terms.get(key) or self._fuzzy.lookup(key)
        if term is None:  # an open-ended family regex (a new analogue): keep the name as written
            cid = span.id_ or lex.family_of(key) or ""
            if cid not in lex.classes:
                return None
            return _Mention(span, cid, key, False)
        if term.id == "oxycodone" and self._pressed(doc, words()) is True:
            return _Mention(span, "fentanyl", lex.names["fentanyl"], False)
        return _Mention(span, term.id, term.name, False)

    def _disambiguate(
        self, doc: Doc, span: Span, amb: Ambiguity, words: set[str], lowered: str
    ) -> str | None:
        own = {t.lower_ for t in span}
        context = words - own
        if amb.negative and self._any_cue(amb.negative, context, lowered):
            return None
        if amb.requires and not self._any_cue(amb.requires, context, lowered):
            return None
        if amb.requires_next:
            nxt = doc[span.end].lower_ if span.end < len(doc) else ""
            if nxt not in amb.requires_next:
                return None
        if amb.requires_prev:
            prev = doc[span.start - 1].lower_ if span.start > 0 else ""
            if prev not in amb.requires_prev:
                return None
        if amb.pill_slang:
            pressed = self._pressed(doc, context)
            if pressed is True:
                return "fentanyl"
            if pressed is False:
                return "oxycodone"
        for cid, cues in amb.resolve.items():
            if self._any_cue(cues, context, lowered):
                return cid
        return amb.default

    @staticmethod
    def _any_cue(cues: frozenset[str], words: set[str], lowered: str) -> bool:
        return any(c in words or (not c.isalnum() and c in lowered) for c in cues)

    @staticmethod
    def _pressed(doc: Doc, words: set[str]) -> bool | None:
        """True: pressed/fake cue (not negated); False: pharma cue; None: neither."""
        for tok in doc:
            if tok.lower_ in _PRESSED_CUES and tok.lower_ in words:
                prev = {doc[j].lower_ for j in range(max(0, tok.i - 2), tok.i)}
                if not prev & _NEGATORS:
                    return True
        if words & _PHARMA_CUES:
            return False
        return None

    @staticmethod
    def _drop_descriptors(mentions: list[_Mention]) -> list[_Mention]:
        """A form word ("crystal", "blotters") adds nothing when the substance is named, or when it
        touches another name ("MDMA crystal", "ice meth"): one mention, not two."""
        solid = [m for m in mentions if not m.descriptor]
        solid_ids = {m.id for m in solid}
        out = []
        for m in mentions:
            if m.descriptor and (
                m.id in solid_ids
                or any(
                    abs(m.span.start - s.span.end) <= _DESCRIPTOR_REACH
                    or abs(s.span.start - m.span.end) <= _DESCRIPTOR_REACH
                    for s in solid
                )
            ):
                continue
            out.append(m)
        return out


@Language.factory(
    "onionwatch_drug_context_v1",
    default_config={"lexicon_path": None, "candidates_key": "drug_candidates", "spans_key": "drugs"},
)
def make_drug_context(
    nlp: Language, name: str, lexicon_path: str | None, candidates_key: str, spans_key: str
) -> DrugContext:
    return DrugContext(name, lexicon_path, candidates_key, spans_key)
