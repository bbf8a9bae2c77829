"""The drug lexicon: loads ``data/lexicon.yaml`` into lookup tables and SpanRuler patterns.

Owns the meaning of every term (canonical id, class, specific name, ambiguity rules). The YAML file
is the single source; nothing here hard-codes a substance.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from onionwatch.errors import ExtractionError
from onionwatch.extractors.textfold import fold_lower

DRUG_LABEL = "DRUG"


@dataclass(frozen=True)
class Term:
    """What one lower-case surface form means when it is not ambiguous."""

    id: str
    name: str
    cls: str


@dataclass(frozen=True)
class Ambiguity:
    """A surface form whose meaning depends on the listing's other words."""

    text: str
    default: str | None
    #: canonical id -> cue words; the first id with a cue present wins
    resolve: dict[str, frozenset[str]] = field(default_factory=dict)
    #: pressed-pill slang: "pressed"/"fake" cues -> fentanyl, "pharma"/"genuine" cues -> oxycodone
    pill_slang: bool = False
    #: the term counts only when one of these words is somewhere in the listing
    requires: frozenset[str] = frozenset()
    #: ... or right after / right before the term
    requires_next: frozenset[str] = frozenset()
    requires_prev: frozenset[str] = frozenset()
    also_requires_next: frozenset[str] = frozenset()
    #: the term is never a drug when one of these words is in the listing
    negative: frozenset[str] = frozenset()
    #: a form word ("crystal", "flake"): dropped when it touches another drug mention
    descriptor: bool = False


@dataclass(frozen=True)
class Lexicon:
    terms: dict[str, Term]
    ambiguous: dict[str, Ambiguity]
    regexes: tuple[tuple[str, re.Pattern[str]], ...]
    classes: dict[str, str]
    names: dict[str, str]

    @property
    def scanners(self) -> tuple[tuple[str, re.Pattern[str]], ...]:
        return tuple((cid, re.compile(rf"(?<![\w-])(?:{rx.pattern})(?![\w])")) for cid, rx in self.regexes)

    def patterns(self) -> list[dict[str, Any]]:
        """SpanRuler patterns; a pattern's ``id`` is the canonical substance id (or the default of an
        ambiguous term, ``"ambiguous"`` when it has none)."""
        out: list[dict[str, Any]] = []
        for text, term in self.terms.items():
            if text not in self.ambiguous:
                out.append({"label": DRUG_LABEL, "pattern": text, "id": term.id})
                if " " in text and text.replace(" ", "-") not in self.terms:
                    # markets hyphenate multi-word names: "OG-KUSH", "Special-K"
                    out.append({"label": DRUG_LABEL, "pattern": text.replace(" ", "-"), "id": term.id})
        for text, amb in self.ambiguous.items():
            if amb.default is None and not amb.resolve:
                continue  # listed only to block a substance term
            out.append({"label": DRUG_LABEL, "pattern": text, "id": amb.default or "ambiguous"})
        # the open-ended families are matched on the text by the drug component (a token REGEX
        # pattern costs a regex call per token per pattern; one scan of the text is far cheaper)
        return out

    def family_of(self, word_lower: str) -> str | None:
        for cid, rx in self.regexes:
            if rx.fullmatch(word_lower):
                return cid
        return None


def _words(values: Any) -> frozenset[str]:
    return frozenset(fold_lower(str(v)) for v in (values or ()))


def default_lexicon_path() -> Path:
    return Path(str(resources.files("onionwatch.extractors") / "data" / "lexicon.yaml"))


@lru_cache(maxsize=4)
def load_lexicon(path: str | None = None) -> Lexicon:
    """Parse and check the lexicon file (cached: it is immutable data)."""
    src = Path(path) if path else default_lexicon_path()
    try:
        raw = yaml.safe_load(src.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise ExtractionError(f"cannot read lexicon {src}: {exc}") from exc
    terms: dict[str, Term] = {}
    listed: set[str] = set()
    classes: dict[str, str] = {}
    names: dict[str, str] = {}
    for sub in raw["substances"]:
        cid, cls = str(sub["id"]), str(sub["class"])
        classes[cid] = cls
        canonical = str(sub.get("name", cid))
        names[cid] = canonical
        for entry in sub["terms"]:
            group = [str(x) for x in entry] if isinstance(entry, list) else [str(entry)]
            name = group[0].lower() if sub.get("specific") else canonical
            for text in group:
                if text.lower() in listed:
                    raise ExtractionError(f"lexicon term {text!r} listed twice")
                listed.add(text.lower())
                key = fold_lower(text)
                if key in terms and terms[key].id != cid:
                    raise ExtractionError(f"lexicon term {text!r} reads as {key!r}, of {terms[key].id}")
                # "heroína" next to "heroina": one term once folded
                terms.setdefault(key, Term(cid, name, cls))
    ambiguous: dict[str, Ambiguity] = {}
    for amb in raw.get("ambiguous", ()):
        text = fold_lower(str(amb["text"]))
        resolve = {str(k): _words(v) for k, v in (amb.get("resolve") or {}).items()}
        default = amb.get("default")
        for cid in [*resolve, *([default] if default else [])]:
            if cid not in classes:
                raise ExtractionError(f"ambiguous term {text!r} resolves to unknown id {cid!r}")
        ambiguous[text] = Ambiguity(
            text=text,
            default=str(default) if default else None,
            resolve=resolve,
            pill_slang=bool(amb.get("pill_slang")),
            requires=_words(amb.get("requires")),
            requires_next=_words(amb.get("requires_next")),
            requires_prev=_words(amb.get("requires_prev")),
            also_requires_next=_words(amb.get("also_requires_next")),
            negative=_words(amb.get("negative")),
            descriptor=bool(amb.get("descriptor")),
        )
    regexes = tuple((str(r["id"]), re.compile(str(r["pattern"]))) for r in raw.get("regex", ()))
    for cid, _ in regexes:
        if cid not in classes:
            raise ExtractionError(f"lexicon regex for unknown id {cid!r}")
    return Lexicon(terms, ambiguous, regexes, classes, names)
