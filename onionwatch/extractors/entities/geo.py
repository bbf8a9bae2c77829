"""Ships-from / ships-to places normalised to ISO 3166-1 alpha-2 codes or a small set of regions.

Country names and codes come from ``pycountry`` (ISO 3166-1 data shipped in the package, offline);
market spellings ("USA", "U.S.", "UK", "Holland", "Deutschland", flag emoji ...) are added here.
Unknown text gives None: nothing is guessed.

Regions (codes that are not ISO 3166-1 countries):

* ``WW``             worldwide / international / everywhere (membership unknown)
* ``EU``             the European Union, 27 member states (since 1 February 2020)
* ``EUROPE``         UN M49 Europe, plus Cyprus (an EU member M49 counts in Asia)
* ``NORTH_AMERICA``  UN M49 Northern America + Central America + Caribbean
* ``SOUTH_AMERICA``  UN M49 South America
* ``ASIA``           UN M49 Asia (includes Turkey and Cyprus)
* ``AFRICA``         UN M49 Africa
* ``OCEANIA``        UN M49 Oceania

Rule of :func:`is_international`: both sides become sets of countries (a country is itself; a region
its members; ``WW`` is unknown). The supply is domestic (False) when every possible origin lies in
the home set, international (True) when none does, and unknown (None) when some do and some do not:
"ships from EU" seen by a German agency could be Germany or France, so it is None; seen by a US
agency it is True; "ships from DE" seen by an EU-wide agency (home "EU") is False.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from functools import lru_cache

__all__ = ["REGIONS", "is_international", "normalise_place", "normalise_places", "region_members"]

_EU = "AT BE BG HR CY CZ DK EE FI FR DE GR IE IT LV LT LU MT NL PL PT RO SK SI ES SE HU"
_EUROPE_EXTRA = "AL AD BY BA FO GI GG VA IS IM JE LI MD MC ME MK NO RU SM RS SJ CH UA GB AX"
_REGION_MEMBERS = {
    "EU": _EU,
    "EUROPE": f"{_EU} {_EUROPE_EXTRA}",
    "NORTH_AMERICA": "US CA MX BM GL PM GT BZ SV HN NI CR PA AG AI AW BB BL BQ BS CU CW DM DO GD GP HT JM KN "
    "KY LC MF MQ MS PR SX TC TT VC VG VI",
    "SOUTH_AMERICA": "AR BO BR CL CO EC FK GF GY PY PE SR UY VE GS BV",
    "ASIA": "KZ KG TJ TM UZ CN HK MO JP KP KR MN TW BN KH ID LA MY MM PH SG TH TL VN AF BD BT IN IR MV NP "
    "PK LK AM AZ BH CY GE IQ IL JO KW LB OM QA SA PS SY TR AE YE",
    "AFRICA": "DZ EG LY MA SD TN EH BI KM DJ ER ET KE MG MW MU YT MZ RE RW SC SO SS TZ UG ZM ZW IO TF AO CM "
    "CF TD CG CD GQ GA ST BW SZ LS NA ZA BJ BF CV CI GM GH GN GW LR ML MR NE NG SH SN SL TG",
    "OCEANIA": "AU NZ NF FJ NC PG SB VU FM GU KI MH MP NR PW UM AS CK NU PF PN TK TO TV WF WS CX CC HM",
}
REGIONS: tuple[str, ...] = ("WW", *_REGION_MEMBERS)

# Market spellings that pycountry's names do not cover (keys are normalised: lower case, no dots).
_ALIASES: dict[str, str | None] = {
    "usa": "US", "us": "US", "america": "US", "united states": "US", "united states of america": "US",
    "states": "US", "murica": "US",
    "uk": "GB", "united kingdom": "GB", "great britain": "GB", "britain": "GB", "gb": "GB",
    "england": "GB", "scotland": "GB", "wales": "GB", "northern ireland": "GB",
    "holland": "NL", "netherlands": "NL", "the netherlands": "NL", "nederland": "NL", "nl": "NL",
    "deutschland": "DE", "germany": "DE",
    "россия": "RU", "russia": "RU", "españa": "ES", "espana": "ES", "italia": "IT", "österreich": "AT",
    "schweiz": "CH", "suisse": "CH", "polska": "PL", "sverige": "SE", "norge": "NO", "danmark": "DK",
    "belgique": "BE", "belgië": "BE", "czechia": "CZ", "czech": "CZ", "turkey": "TR", "türkiye": "TR",
    "south korea": "KR", "north korea": "KP", "hong kong": "HK", "vietnam": "VN", "uae": "AE",
    "ivory coast": "CI", "cape verde": "CV", "macedonia": "MK", "swaziland": "SZ", "burma": "MM",
    "ww": "WW", "worldwide": "WW", "world wide": "WW", "world": "WW", "everywhere": "WW", "anywhere": "WW",
    "international": "WW", "global": "WW", "globally": "WW", "all countries": "WW", "planet earth": "WW",
    "eu": "EU", "european union": "EU", "eu countries": "EU", "eu only": "EU",
    "europe": "EUROPE", "north america": "NORTH_AMERICA", "south america": "SOUTH_AMERICA",
    "latin america": None, "asia": "ASIA", "africa": "AFRICA", "oceania": "OCEANIA",
}  # fmt: skip

_SPLIT = re.compile(r"\s*(?:[,;/|+&]|\band\b)\s*", re.IGNORECASE)


def _key(text: str) -> str:
    text = unicodedata.normalize("NFC", text).strip().lower()
    text = text.replace(".", "").replace("_", " ").replace("-", " ")
    text = re.sub(r"\s+", " ", text)
    return text.strip(" :!*()[]\"'")


@lru_cache(maxsize=1)
def _names() -> dict[str, str]:
    """Normalised country names -> alpha-2, built on first use (pycountry loads its JSON lazily)."""
    import pycountry

    table: dict[str, str] = {}
    # "Bolivia, Plurinational State of" reads naturally without the tail; a tail-less form shared by
    # two countries ("Korea", "Virgin Islands") is ambiguous and left out.
    short: dict[str, set[str]] = {}
    for country in pycountry.countries:
        code = country.alpha_2
        for attr in ("name", "official_name", "common_name"):
            value = getattr(country, attr, None)
            if value:
                table[_key(value)] = code
                if "," in value:
                    short.setdefault(_key(value.split(",")[0]), set()).add(code)
    for form, codes in short.items():
        if len(codes) == 1 and form not in table:
            table[form] = next(iter(codes))
    for alias, alias_code in _ALIASES.items():
        if alias_code is None:
            # a region too vague to place: must not fall through to a pycountry name
            table.pop(alias, None)
        else:
            table[alias] = alias_code
    return table


@lru_cache(maxsize=1)
def _codes() -> tuple[frozenset[str], frozenset[str]]:
    import pycountry

    return (
        frozenset(c.alpha_2 for c in pycountry.countries),
        frozenset(c.alpha_3 for c in pycountry.countries),
    )


def _alpha3_to_2(code: str) -> str | None:
    import pycountry

    country = pycountry.countries.get(alpha_3=code)
    return None if country is None else str(country.alpha_2)


def _flag(text: str) -> str | None:
    """Two regional-indicator symbols (a flag emoji) -> the code they spell."""
    chars = [c for c in text.strip() if c not in "\ufe0f\u200d"]
    if len(chars) != 2 or not all(0x1F1E6 <= ord(c) <= 0x1F1FF for c in chars):
        return None
    code = "".join(chr(ord(c) - 0x1F1E6 + ord("A")) for c in chars)
    if code == "EU":
        return "EU"
    return code if code in _codes()[0] else None


def normalise_place(text: str | None) -> str | None:
    """An ISO 3166-1 alpha-2 code or a region of :data:`REGIONS`, or None when not known."""
    if text is None or not text.strip():
        return None
    flag = _flag(text)
    if flag is not None:
        return flag
    stripped = text.strip().strip(".:")
    # Bare codes count only in upper case: "IT", "NO", "AT" are English words in lower case.
    if stripped.isalpha() and stripped.isupper():
        if stripped in REGIONS:
            return stripped
        alpha2, alpha3 = _codes()
        if len(stripped) == 2 and stripped in alpha2:
            return stripped
        if len(stripped) == 3 and stripped in alpha3:
            return _alpha3_to_2(stripped)
    key = _key(text)
    code = _names().get(key)
    if code is None and key.startswith("the "):
        code = _names().get(key[4:])
    return code


def normalise_places(texts: Iterable[str | None]) -> tuple[str, ...]:
    """Known places, de-duplicated in first-seen order; an item such as "USA, Canada" is split."""
    out: dict[str, None] = {}
    for text in texts:
        code = normalise_place(text)
        if code is not None:
            out[code] = None
            continue
        if text is None:
            continue
        for part in _SPLIT.split(text):
            part_code = normalise_place(part)
            if part_code is not None:
                out[part_code] = None
    return tuple(out)


def region_members(code: str) -> frozenset[str] | None:
    """The countries a normalised code stands for; None for ``WW`` (anywhere) and unknown codes."""
    members = _REGION_MEMBERS.get(code)
    if members is not None:
        return frozenset(members.split())
    if code in _codes()[0]:
        return frozenset((code,))
    return None


def is_international(ships_from: str | None, home_country: str) -> bool | None:
    """Whether supply shipped from ``ships_from`` crosses into ``home_country`` (see module docs)."""
    origin_code = normalise_place(ships_from)
    home_code = normalise_place(home_country)
    if origin_code is None or home_code is None:
        return None
    origin = region_members(origin_code)
    home = region_members(home_code)
    if origin is None or home is None:
        return None
    if origin <= home:
        return False
    if origin.isdisjoint(home):
        return True
    return None
