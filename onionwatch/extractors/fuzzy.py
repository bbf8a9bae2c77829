"""Misspelled drug names: one typo away from a long lexicon name.

Titles misspell names ("CACAINE", "OXYCOCONE", "Fentanil", "Ecstacy") or write digits for letters
("0xycodone", "k3tamine"); an exact matcher misses them on markets it was never tuned on. A word is
read as a name when it is one edit (a letter missing, added, changed, or two neighbours swapped)
from exactly one substance's name of at least ``MIN_LENGTH`` letters, or is a name once its digits
are read as letters. Short names are left out of the edits (one edit from a 5-letter name is too
often another word), and so are ambiguous terms (their cues decide, not their spelling).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable

from onionwatch.extractors.lexicon import Lexicon, Term

#: names shorter than this are matched exactly only
MIN_LENGTH = 7
#: English words one edit from a name: found by looking up the 48k words of 7+ letters in the
#: machine's /usr/share/doc and the installed packages' sources ("scatter" / shatter, "concert" /
#: Concerta, "parabola" / Parabolan, "morphing" / morphine)
_WORDS = frozenset({"concert", "concerts", "morphing", "parabola", "parabolas", "scatter", "scatters"})


#: digits and signs written for letters ("0xycodone", "k3tamine", "xan@x")
_LEET = str.maketrans({"0": "o", "1": "i", "3": "e", "4": "a", "5": "s", "7": "t", "@": "a", "$": "s"})
#: a word read through _LEET needs this many real letters (not "4-5" or "k2")
_LEET_LETTERS = 4


def _deletes(word: str) -> set[str]:
    return {word[:i] + word[i + 1 :] for i in range(len(word))}


def within_one_edit(a: str, b: str) -> bool:
    """Optimal string alignment distance <= 1 with the first letter kept (the candidate index also
    admits some 2-edit pairs)."""
    if a == b:
        return True
    if a[:1] != b[:1]:
        # typos keep the first letter; "enforce" is a word, not "cenforce" misspelled
        return False
    la, lb = len(a), len(b)
    if abs(la - lb) > 1:
        return False
    if la == lb:
        diff = [i for i in range(la) if a[i] != b[i]]
        if len(diff) == 1:
            return True
        i = diff[0]
        return len(diff) == 2 and diff[1] == i + 1 and a[i] == b[i + 1] and a[i + 1] == b[i]
    short, long_ = (a, b) if la < lb else (b, a)
    i = 0
    while i < len(short) and short[i] == long_[i]:
        i += 1
    return short[i:] == long_[i + 1 :]


class FuzzyNames:
    def __init__(self, lexicon: Lexicon, *, min_length: int = MIN_LENGTH) -> None:
        self._terms: dict[str, Term] = {}
        self._index: dict[str, set[str]] = defaultdict(set)
        # the word too: "gabbie" and "watson" are names more often than misspelled slang
        self._min = min_length
        for text, term in self._eligible(lexicon, min_length):
            self._terms[text] = term
            self._index[text].add(text)
            for d in _deletes(text):
                self._index[d].add(text)
        self._known = set(lexicon.terms) | set(lexicon.ambiguous) | _WORDS
        self._lexicon_terms = lexicon.terms
        self._ambiguous = lexicon.ambiguous
        self._seen: dict[str, Term | None] = {}

    @staticmethod
    def _eligible(lexicon: Lexicon, min_length: int) -> Iterable[tuple[str, Term]]:
        for text, term in lexicon.terms.items():
            if len(text) >= min_length and text.isalpha() and text not in lexicon.ambiguous:
                yield text, term

    def lookup(self, word: str) -> Term | None:
        """The name ``word`` (lower case) misspells, or None (exact names are the matcher's)."""
        if word in self._known:
            return None
        if word in self._seen:
            return self._seen[word]
        if not word.isalpha():
            term = self._leet(word)
            self._remember(word, term)
            return term
        if len(word) < self._min:
            return None
        found: set[str] = set(self._index.get(word, ()))
        for d in _deletes(word):
            found.update(self._index.get(d, ()))
        names = {t for t in found if t != word and within_one_edit(word, t)}
        ids = {self._terms[t].id for t in names}
        term = self._terms[min(names)] if len(ids) == 1 else None
        self._remember(word, term)
        return term

    def _leet(self, word: str) -> Term | None:
        """A name written with digits for letters: exactly, or one edit from a long name."""
        if sum(c.isalpha() for c in word) < _LEET_LETTERS:
            return None
        plain = word.translate(_LEET)
        if plain == word or not plain.isalpha():
            return None
        if plain in self._lexicon_terms:
            return None if plain in self._ambiguous else self._lexicon_terms[plain]
        return self.lookup(plain)

    def _remember(self, word: str, term: Term | None) -> None:
        if len(self._seen) < 100_000:  # a cache, not a leak: words repeat across listings
            self._seen[word] = term
