"""Listing category: drugs, precursors, weapons, fraud, digital, services or other.

The market's own category decides when it maps to one of ours (market category names are mapped
by words, so "Drugs & Chemicals > Opiates", "Carding", "Guns" all resolve). Otherwise keyword
rules on the title and description decide, in this order:

1. guides/tutorials/e-books -> digital (a "carding tutorial" sells information, not cards)
2. weapons (glock, pistol, rifle, ammo, 9mm, AR-15 ...)
3. fraud (fullz, cvv, dumps, bank logs, fake ID, counterfeit notes, money transfers ...)
4. precursors (``has_precursors``: precursor names are specific, and their listings often name
   the drug they make, so they win over ``has_drugs``)
5. drugs (``has_drugs``, from the caller's drug extraction)
6. services (hacking service, DDoS, money laundering ...)
7. digital (software, accounts, license keys, malware ...)
8. other

A precursor listing filed under a generic drug/chemical section ("Drugs & Chemicals", "Chemicals")
is still ``precursors``; under a specific drug section ("Meth") a precursor word describes the drug.
"""

from __future__ import annotations

import re
from enum import StrEnum

__all__ = ["ListingCategory", "classify_listing", "map_market_category"]


class ListingCategory(StrEnum):
    DRUGS = "drugs"
    PRECURSORS = "precursors"
    WEAPONS = "weapons"
    FRAUD = "fraud"
    DIGITAL = "digital"
    SERVICES = "services"
    OTHER = "other"


def _words(alternatives: str) -> re.Pattern[str]:
    return re.compile(rf"(?<![a-z0-9])(?:{alternatives})(?![a-z0-9])", re.IGNORECASE)


# --- market category names -----------------------------------------------------------------------
# Checked in this order against the market's category path (most specific part last wins when the
# path has several parts: "Digital Products > Fraud" is fraud).
_MARKET_RULES: tuple[tuple[ListingCategory, re.Pattern[str]], ...] = (
    (ListingCategory.PRECURSORS, _words(r"precursors?|chemicals? precursors?|lab chemicals?")),
    (
        ListingCategory.WEAPONS,
        _words(r"weapons?|guns?|firearms?|ammo|ammunition|explosives?|knives|pistols?|rifles?"),
    ),
    (
        ListingCategory.FRAUD,
        _words(
            r"fraud|carding|counterfeits?|cvv|dumps|fullz|id'?s|documents?|money|bank drops?|"
            r"accounts? & bank drops|personal information|scans?"
        ),
    ),
    (ListingCategory.SERVICES, _words(r"services?|hacking|hackers?|security|ddos")),
    (
        ListingCategory.DIGITAL,
        _words(
            r"digital( goods| products| items)?|software|malware|botnets?|guides?|tutorials?|"
            r"e-?books?|license keys?|accounts?|porn|erotica|exploits?|tools?"
        ),
    ),
    (
        ListingCategory.DRUGS,
        _words(
            r"drugs?|chemicals?|cannabis|weed|hash(ish)?|buds?|flowers?|concentrates?|edibles?|"
            r"opiates?|opioids?|heroin|fentanyl|cocaine|crack|mdma|ecstacy|ecstasy|xtc( pills)?|"
            r"benzo(diazepine)?s?|stimulants?|speed|meth|amphetamines?|ketamine|lsd|psychedelics?|"
            r"dissoc?iatives?|dissasociatives|mushrooms?|dmt|2-cb|2-fa|ghb|steroids?|prescriptions?|"
            r"pills?|pressed pills|adderall?|vyvanse|methylone|bk|opiate (pills|substitutes)|rc|"
            r"research chemicals?|psychedelics?|barbiturates?|weight loss"
        ),
    ),
)
_MARKET_OTHER = _words(r"tobacco|seeds?|jewel(le)?ry|electronics|other|miscellaneous|misc|art|books?")


def map_market_category(market_category: str | None) -> ListingCategory | None:
    """Our category for a market's category name or path (``" > "`` / ``"/"`` separated), or None."""
    if not market_category or not market_category.strip():
        return None
    parts = [p for p in re.split(r"\s*(?:>|»|/|\|)\s*", market_category) if p.strip()]
    for part in reversed(parts):
        if _MARKET_OTHER.fullmatch(part.strip()):
            return ListingCategory.OTHER
        for category, pattern in _MARKET_RULES:
            if pattern.search(part):
                return category
    return None


# --- listing text --------------------------------------------------------------------------------
_GUIDE = _words(
    r"guides?|tutorials?|tutos?|e-?books?|how to|courses?|pdfs?|manuals?|megapack|"
    r"methods? pack"
)
_WEAPON = _words(
    r"glocks?|pistols?|handguns?|revolvers?|rifles?|shotguns?|firearms?|guns?|ammo|ammunition|"
    r"9 ?mm|\.45 ?acp|5\.56|7\.62|\.22 ?lr|ar-?15|ak-?47|kalashnikov|silencers?|suppressors?|"
    r"beretta|sig sauer|smith (&|and) wesson|colt|uzi|grenades?|c-?4|tasers?|stun guns?|"
    r"brass knuckles|bullets?|magazines? (for|\d+ ?rounds?)"
)
_FRAUD = _words(
    r"fullz|cvv2?|dumps?( with pin)?|bank logs?|paypal (logs?|accounts?|transfers?)|"
    r"cc( |-)?(checker|shop|dumps?)|credit cards?|debit cards?|prepaid cards?|carding|"
    r"cardable|cash ?out|non ?vbv|bins?|ssn|dob|"
    r"fake (ids?|passports?|documents?|driver'?s? licen[cs]es?|money|notes|bills)|"
    r"(fake|real) (&|and) (fake|real) (ids?|documents?|passports?)|passports?|"
    r"driver'?s? licen[cs]es?|id cards?|"
    r"counterfeit (money|notes|bills|banknotes|cash|euros?|dollars?|usd|eur|gbp|cad|aud)|"
    r"c[o0]unterfeit|banknotes?|western union|money ?gram|mtcn|wu transfers?|top ?up|"
    r"bank (accounts?|drops?|transfers?)|bill ?payments?|cc|ccs|"
    r"(pounds?|euros?|dollars?|usd|eur|gbp|cad|aud|\d+s?) (notes|bills)|"
    r"undetected (notes|bills)|scam pages?|phishing|spoofing|diplomas?|certificates?|"
    r"transcripts?"
)
_SERVICE = _words(
    r"hacking services?|hacker for hire|hire an? hacker|ddos( services?| attacks?)?|"
    r"money laundering|laundering services?|launder|"
    r"(bitcoin|crypto|coin) (mixing|tumbler|mixer)|hitman|hit ?man|doxx?ing|grade changes?|"
    r"(account|website|email|social media|instagram|facebook|whatsapp) hacking|"
    r"recovery services?|escrow services?|[a-z]+ services?|on demand|custom (orders?|work)"
)
_DIGITAL = _words(
    r"software|e-?books?|license keys?|licen[cs]e|serial keys?|keys? for|accounts?|premium|"
    r"lifetime|netflix|spotify|hulu|vpn|cracked|crack(ed)? version|full version|source code|"
    r"malware|ransomware|keyloggers?|rat|botnets?|crypters?|exploits?|stealers?|generator|"
    r"checker|bot|porn|videos?|pics|leaks?|database|followers|subscribers|views|windows|mac|"
    r"android|apk|templates?|psd|scripts?|tools?|hack(ing)?|instant delivery|autodesk|adobe|"
    r"crack|keygen|indicators?|methods?|combo ?lists?|rdp|iso|microsoft|office|links|books?|"
    r"cookbook|1080p|bluray|tv shows?|movies?|packs?|ea|trading bot|course"
)


_GENERIC_DRUG_SECTION = _words(
    r"drugs?|chemicals?|drugs? (&|and) chemicals?|other( drugs)?|research chemicals?"
)


def _generic_drug_section(market_category: str | None) -> bool:
    parts = [p.strip() for p in re.split(r"\s*(?:>|»|/|\|)\s*", market_category or "") if p.strip()]
    return bool(parts) and _GENERIC_DRUG_SECTION.fullmatch(parts[-1]) is not None


def classify_listing(
    title: str,
    description: str | None,
    market_category: str | None,
    *,
    has_drugs: bool,
    has_precursors: bool,
) -> str:
    """One of :class:`ListingCategory` (a ``str``) for a listing."""
    mapped = map_market_category(market_category)
    if mapped is not None:
        if has_precursors and (
            mapped is ListingCategory.PRECURSORS
            or (mapped is ListingCategory.DRUGS and _generic_drug_section(market_category))
        ):
            # only a generic section: a "Meth" listing saying "made from pure ephedrine" is meth
            return ListingCategory.PRECURSORS
        if mapped is ListingCategory.PRECURSORS and not has_precursors and has_drugs:
            # a "Chemicals" section also carries research chemicals, which are drugs
            return ListingCategory.DRUGS
        return mapped
    return _from_text(title, description, has_drugs=has_drugs, has_precursors=has_precursors)


def _from_text(
    title: str, description: str | None, *, has_drugs: bool, has_precursors: bool
) -> ListingCategory:
    # The title says what is sold; the description is read only when the title says nothing, since
    # descriptions carry boilerplate ("no refunds for fake addresses", "stealth like a gun safe").
    for text in (title, description or ""):
        category = _rules(text, has_drugs=has_drugs, has_precursors=has_precursors)
        if category is not None:
            return category
    if has_precursors:
        return ListingCategory.PRECURSORS
    if has_drugs:
        return ListingCategory.DRUGS
    return ListingCategory.OTHER


def _rules(text: str, *, has_drugs: bool, has_precursors: bool) -> ListingCategory | None:
    if not text:
        return None
    if _GUIDE.search(text):
        return ListingCategory.DIGITAL
    if _WEAPON.search(text):
        return ListingCategory.WEAPONS
    if _FRAUD.search(text):
        return ListingCategory.FRAUD
    if has_precursors:
        return ListingCategory.PRECURSORS
    if has_drugs:
        return ListingCategory.DRUGS
    if _SERVICE.search(text):
        return ListingCategory.SERVICES
    if _DIGITAL.search(text):
        return ListingCategory.DIGITAL
    return None
