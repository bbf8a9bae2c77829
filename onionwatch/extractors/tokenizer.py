"""Tokenizer for market notation, registered so that saved pipelines keep it.

spaCy's English tokenizer already splits ``10g``, ``80mg``, ``$40``, ``40$``, ``€25`` and ``₿0.002``,
but keeps ``100x``, ``7gs``, ``1gr``, ``100pcs``, ``500ug``, ``10mcg``, ``21caps`` and ``10x80mg`` whole;
quantity and price spans need those split at the number.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from spacy.attrs import LOWER
from spacy.language import Language
from spacy.tokenizer import Tokenizer
from spacy.util import compile_infix_regex, compile_prefix_regex, compile_suffix_regex, registry

from onionwatch.extractors.textfold import fold_lower

# unit words glued to a number ("7gs", "100pcs"); case-insensitive inline group
_UNIT_SUFFIX = (
    r"(?<=[0-9])(?i:x|gs|gr|grs|gms|gm|grams?|pcs|pc|ug|µg|μg|mcg|caps|tabs|pills|blotters|hits|ct|"
    r"btc|xmr|usd|eur|gbp|aud|cad|ltc|eth|mbtc|ml|oz|lbs?|kgs?|kilos?)"
)
# "x100" / "×100" (count written before the number)
_TIMES_PREFIX = r"(?i:x|×)(?=[0-9])"
# "10x80mg", "2x5g": the multiplication sign between two numbers
_TIMES_INFIX = r"(?<=[0-9])(?i:x|×|\*)(?=[0-9.])"
# glued punctuation in titles: "LSD,120ug", "[US✈US]Vicodin", "COCAINE(WASHABLE)", "LSD_300"
_GLUE_INFIXES = (
    r"(?<=[A-Za-z]),(?=[0-9])",
    r"(?<=[0-9]),(?=[A-Za-z])",
    r"(?<=[\w.])[\[\](){}](?=\w)",
    r"(?<=\w)[\[\](){}](?=[\w])",
    r"(?<=[A-Za-z0-9])_(?=[A-Za-z0-9])",
    r"(?<=[A-Za-z])[|/+](?=[A-Za-z0-9])",
    r"(?<=[A-Za-z]{2})\.(?=[\[(])",
)
# crypto symbols in front of an amount (spaCy knows "$", "€", "£", "₿" but not these)
_CURRENCY_PREFIX = r"(?:฿|ɱ|Ƀ)"
# separators glued to the ends of a word: "Moonrocks| OG KUSH|", "|Cocaine|", "Super Hash/ Ben"
# (a "/" between two words or numbers is an infix or a fraction, and stays)
_SEPARATOR_PREFIX = r"(?:\||/(?=[A-Za-z]))"
_SEPARATOR_SUFFIX = r"(?:\||(?<=[A-Za-z])/)"
# a purity glued to the name after it: "99,9%DMT", "98%MDMA"
_PERCENT_INFIX = r"(?<=[0-9])%(?=[A-Za-z])"


@registry.tokenizers("onionwatch.market_tokenizer.v1")  # type: ignore[untyped-decorator]
def create_market_tokenizer() -> Callable[[Language], Tokenizer]:
    def make_tokenizer(nlp: Language) -> Tokenizer:
        defaults = nlp.Defaults
        # Lexicon phrases match on LOWER: with styled letters and accents folded into it, "𝕏𝕒𝕟𝕒𝕩"
        # and "ＸＡＮＡＸ" (fancy-font titles that dodge keyword filters) match "xanax", "heroína"
        # matches "heroina"; the tokens' text, and so every offset, stay the original.
        vocab: Any = nlp.vocab  # spaCy's stubs do not declare lex_attr_getters
        vocab.lex_attr_getters = {**vocab.lex_attr_getters, LOWER: fold_lower}
        prefixes = [*(defaults.prefixes or ()), _TIMES_PREFIX, _CURRENCY_PREFIX, _SEPARATOR_PREFIX]
        suffixes = [*(defaults.suffixes or ()), _UNIT_SUFFIX, _SEPARATOR_SUFFIX]
        infixes = [*(defaults.infixes or ()), _TIMES_INFIX, _PERCENT_INFIX, *_GLUE_INFIXES]
        return Tokenizer(
            nlp.vocab,
            rules=defaults.tokenizer_exceptions,
            prefix_search=compile_prefix_regex(prefixes).search,
            suffix_search=compile_suffix_regex(suffixes).search,
            infix_finditer=compile_infix_regex(infixes).finditer,
            token_match=defaults.token_match,
            url_match=defaults.url_match,
        )

    return make_tokenizer
