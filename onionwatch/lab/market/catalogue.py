"""Seeded catalogue of a simulated market, and its ground truth.

The same seed always yields the same vendors and listings, so a test can regenerate the truth
without reading the market's files. Titles use the notation real markets use (street slang,
pressed-pill names, street measures, "100 x 80mg", tiered prices); the truth says what each
listing really is, independently of how the page shows it.
"""

from __future__ import annotations

import random
from dataclasses import asdict, dataclass, field, replace
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, Literal

from onionwatch.lab.market.identities import default_wallets, vendor_key

Unit = Literal["g", "unit"]

#: displayed exchange rates of the simulated market (USD per coin), shown on every listing page
BTC_USD = Decimal("97250.00")
XMR_USD = Decimal("162.40")
#: USD per euro, for markets whose vendors price in EUR
EUR_USD = Decimal("1.0850")

#: currencies a listing may be priced in (what the page shows as the headline price), per unit in USD
RATES: dict[str, Decimal] = {"USD": Decimal(1), "EUR": EUR_USD, "BTC": BTC_USD, "XMR": XMR_USD}
#: decimal places a market shows for each currency (coins to the satoshi / piconero-ish, fiat to cents)
PLACES: dict[str, Decimal] = {
    "USD": Decimal("0.01"),
    "EUR": Decimal("0.01"),
    "BTC": Decimal("0.00000001"),
    "XMR": Decimal("0.0001"),
}


def shown_amount(usd: Decimal, currency: str) -> Decimal:
    """``usd`` as a market priced in ``currency`` shows it (the amount the page prints)."""
    return (usd / RATES[currency]).quantize(PLACES[currency], rounding=ROUND_HALF_UP)


COUNTRIES = (
    "Netherlands",
    "Germany",
    "United States",
    "United Kingdom",
    "Canada",
    "China",
    "India",
    "Spain",
    "Australia",
    "Poland",
)
DESTINATIONS = ("Worldwide", "Europe", "United States", "Canada", "Australia", "United Kingdom")


@dataclass(frozen=True)
class Product:
    """A kind of product a vendor may list: what it is and how markets write it."""

    substance: str
    name: str
    cls: str
    category: str
    titles: tuple[str, ...]
    unit: Unit
    #: grams (for "g") or pill counts (for "unit") offered as tiers
    sizes: tuple[Decimal, ...]
    usd_per_unit: Decimal
    dose_mg: Decimal | None = None
    descriptions: tuple[str, ...] = ()

    @property
    def fentanyl_class(self) -> bool:
        return self.cls == "fentanyl_class"


def _d(*values: str) -> tuple[Decimal, ...]:
    return tuple(Decimal(v) for v in values)


# {q} = quantity as written for the first tier, {n} = pill count, {dose} = dose in mg
PRODUCTS: tuple[Product, ...] = (
    Product(
        "fentanyl",
        "fentanyl",
        "fentanyl_class",
        "Opioids",
        ("Fetty powder {q} - 90% pure", "China White fent {q} stealth", "Pure Fentanyl HCl {q} lab tested"),
        "g",
        _d("1", "5", "10"),
        Decimal("60"),
        descriptions=(
            "Strong fetty, start low. Tested with reagent.",
            "Fent HCl, white powder, very potent.",
        ),
    ),
    Product(
        "fentanyl",
        "fentanyl",
        "fentanyl_class",
        "Opioids",
        ("{n}x M30 blues pressed", "{n} x Blue M30 presses (fent)", "Pressed M30 blues x{n}"),
        "unit",
        _d("10", "50", "100"),
        Decimal("4.5"),
        descriptions=("Pressed blues, not pharma. Each pill carries fent, dose with care.",),
    ),
    Product(
        "carfentanil",
        "carfentanil",
        "fentanyl_class",
        "Opioids",
        ("Carfentanil {q} - research chemical", "Carfent powder {q} EXTREME"),
        "g",
        _d("0.1", "0.5", "1"),
        Decimal("900"),
        descriptions=("Carfentanil, roughly 100 times fentanyl. Research use only.",),
    ),
    Product(
        "fentanyl_analog",
        "acetylfentanyl",
        "fentanyl_class",
        "Opioids",
        ("Acetylfentanyl {q} powder", "Acetyl fentanyl HCl {q}"),
        "g",
        _d("1", "5"),
        Decimal("45"),
    ),
    Product(
        "nitazene",
        "isotonitazene",
        "opioid",
        "Opioids",
        ("Isotonitazene {q} (iso)", "Iso-nitazene powder {q}"),
        "g",
        _d("0.5", "1", "5"),
        Decimal("120"),
        descriptions=("Isotonitazene, potent synthetic opioid. Not fentanyl.",),
    ),
    Product(
        "nitazene",
        "protonitazene",
        "opioid",
        "Opioids",
        ("Protonitazene {q}",),
        "g",
        _d("1", "5"),
        Decimal("110"),
    ),
    Product(
        "heroin",
        "heroin",
        "opioid",
        "Opioids",
        ("#4 Afghan heroin {q}", "Brown H {q} - no fent, tested", "Heroin (dope) {q}"),
        "g",
        _d("1", "3.5", "7"),
        Decimal("70"),
        descriptions=("Clean gear, tested negative for fentanyl.", "Afghan brown, smokable."),
    ),
    Product(
        "oxycodone",
        "oxycodone",
        "opioid",
        "Opioids",
        ("{n} x Oxycodone {dose}mg (pharma, genuine)", "OxyContin {dose}mg x{n} real pharma"),
        "unit",
        _d("10", "30", "100"),
        Decimal("28"),
        dose_mg=Decimal("80"),
        descriptions=("Genuine pharma oxys, not pressed.",),
    ),
    Product(
        "xylazine",
        "xylazine",
        "sedative",
        "Opioids",
        ("Tranq (xylazine) {q}", "Xylazine HCl {q} powder"),
        "g",
        _d("5", "10", "28"),
        Decimal("6"),
    ),
    Product(
        "cocaine",
        "cocaine",
        "stimulant",
        "Stimulants",
        ("Colombian cocaine 90% {q}", "Fishscale coke {q}", "Peruvian flake cocaine {q}"),
        "g",
        _d("1", "3.5", "28"),
        Decimal("80"),
        descriptions=("Uncut Colombian, as strong as it gets.",),
    ),
    Product(
        "methamphetamine",
        "methamphetamine",
        "stimulant",
        "Stimulants",
        ("Crystal meth shards {q}", "Ice (crystal methamphetamine) {q}"),
        "g",
        _d("3.5", "7", "28"),
        Decimal("25"),
    ),
    Product(
        "mdma",
        "mdma",
        "empathogen",
        "Ecstasy",
        ("{n}x MDMA pills {dose}mg Tesla", "MDMA XTC {n} pills {dose}mg"),
        "unit",
        _d("10", "50", "100"),
        Decimal("4"),
        dose_mg=Decimal("200"),
    ),
    Product(
        "mdma",
        "mdma",
        "empathogen",
        "Ecstasy",
        ("MDMA crystal {q} 84%", "Champagne MDMA {q}"),
        "g",
        _d("1", "5", "28"),
        Decimal("30"),
    ),
    Product(
        "cannabis",
        "cannabis",
        "cannabinoid",
        "Cannabis",
        ("OG Kush weed {q}", "Amnesia Haze buds {q}", "Gorilla Glue #4 {q} top shelf"),
        "g",
        _d("3.5", "28", "113.4"),
        Decimal("8"),
    ),
    Product(
        "alprazolam",
        "alprazolam",
        "benzodiazepine",
        "Benzos",
        ("{n} x Xanax {dose}mg bars", "Alprazolam {dose}mg x{n}"),
        "unit",
        _d("20", "50", "100"),
        Decimal("2.5"),
        dose_mg=Decimal("2"),
    ),
    Product(
        "lsd",
        "lsd",
        "psychedelic",
        "Psychedelics",
        ("{n}x LSD tabs 150ug", "LSD blotters x{n} (150ug)"),
        "unit",
        _d("10", "25", "100"),
        Decimal("7"),
        dose_mg=Decimal("0.15"),
    ),
    Product(
        "ketamine",
        "ketamine",
        "dissociative",
        "Dissociatives",
        ("Ketamine shards {q}", "K needles {q} (ketamine)"),
        "g",
        _d("1", "5", "28"),
        Decimal("30"),
    ),
)

#: how quantities are written in titles (first tier only); the truth stays in grams
STREET_MEASURES = {
    Decimal("3.5"): ("3.5g", "8-ball", "8ball"),
    Decimal("28"): ("28g", "1 zip", "1oz"),
    Decimal("113.4"): ("QP",),
    Decimal("7"): ("7g",),
}

VENDOR_NAMES = (
    "NorthernLights",
    "dutchmasters",
    "WhiteRabbit_NL",
    "GreenDragon",
    "PharmaKing",
    "Chemical_Bros",
    "SilkRoadVet",
    "BlueLotus",
    "OxyPalace",
    "FentFactory",
    "CaliConnect",
    "MrNiceGuy420",
)


#: drug vendors whose profile shows a PGP key; the same handle on another market is the same person
#: with the same key (the other vendors' handles prove nothing across markets)
PGP_HANDLES = frozenset({"NorthernLights", "WhiteRabbit_NL", "PharmaKing", "BlueLotus", "FentFactory"})


def _credentials(market: str, seed: int, handle: str) -> dict[str, Any]:
    """A seeded drug vendor's identity, per-account wallets and (for some) PGP key, derived without
    touching the catalogue's random stream (so adding them changed no listing)."""
    key = (
        vendor_key(seed, handle, f"{handle} <{handle.lower()}@lab.invalid>")
        if handle in PGP_HANDLES
        else None
    )
    return {
        "identity": handle,
        "wallets": default_wallets(seed, market, handle),
        "pgp_fingerprint": key.fingerprint if key else None,
        "pgp_key": key.armored if key else None,
    }


@dataclass(frozen=True)
class PriceTier:
    quantity: Decimal
    unit: Unit
    usd: Decimal


@dataclass(frozen=True)
class VendorTruth:
    handle: str
    ships_from: str
    sales: int
    rating: Decimal
    joined: str
    #: who runs the account: one identity may hold accounts on several markets, under other handles
    identity: str
    #: (chain, address) shown on the profile page, chain as the wallet extractor names it
    wallets: tuple[tuple[str, str], ...] = ()
    #: primary-key fingerprint (upper-case hex) of the PGP key the profile shows, if any
    pgp_fingerprint: str | None = None
    #: the armored public key block the profile shows
    pgp_key: str | None = None


@dataclass(frozen=True)
class ListingTruth:
    listing_id: str
    title: str
    vendor: str
    category: str
    #: the drug (None for precursors and weapons, which are not drugs)
    substance: str | None
    substance_name: str | None
    substance_class: str | None
    fentanyl_class: bool
    description: str
    tiers: tuple[PriceTier, ...]
    dose_mg: Decimal | None
    ships_from: str
    ships_to: tuple[str, ...]
    stock: int | None
    #: the currency the vendor priced the listing in: the page's headline price is in it
    currency: str = "USD"
    #: what the listing sells, in ``onionwatch.extractors.entities.ListingCategory`` terms
    listing_category: str = "drugs"
    #: canonical precursor id (``extractors/entities/data/precursors.yaml``) of a precursor listing
    precursor: str | None = None
    #: the precursor's CAS Registry Number
    cas: str | None = None

    @property
    def price_usd(self) -> Decimal:
        """The headline price: the first (smallest) tier."""
        return self.tiers[0].usd

    @property
    def price_shown(self) -> Decimal:
        """The headline price as the page prints it, in :attr:`currency`."""
        return shown_amount(self.price_usd, self.currency)

    def as_json(self) -> dict[str, object]:
        data = asdict(self)
        # The crawler stores the price as shown (never converted), so that is what the truth states.
        data["price"] = {"amount": str(self.price_shown), "currency": self.currency}
        data["price_usd"] = str(self.price_usd)
        return _jsonable(data)  # type: ignore[return-value]


@dataclass(frozen=True)
class Catalogue:
    market: str
    seed: int
    vendors: tuple[VendorTruth, ...]
    listings: tuple[ListingTruth, ...]
    categories: tuple[str, ...] = field(default=())
    #: currencies the market's vendors price in (each listing is in one of them)
    currencies: tuple[str, ...] = ("USD",)

    def by_id(self) -> dict[str, ListingTruth]:
        return {item.listing_id: item for item in self.listings}

    def as_json(self) -> dict[str, object]:
        return {
            "market": self.market,
            "seed": self.seed,
            "currencies": list(self.currencies),
            "vendors": [_jsonable({"market": self.market, **asdict(v)}) for v in self.vendors],
            "listings": [item.as_json() for item in self.listings],
        }


def _jsonable(value: object) -> object:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    return value


def _money(value: Decimal) -> Decimal:
    return value.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


def _fmt_qty(value: Decimal) -> str:
    return format(value.normalize(), "f")


def _tiers(product: Product, rng: random.Random) -> tuple[PriceTier, ...]:
    jitter = Decimal(rng.randint(85, 120)) / 100
    tiers = []
    for i, size in enumerate(product.sizes):
        discount = Decimal(1) - Decimal("0.08") * i  # bulk discount, as real markets do
        tiers.append(PriceTier(size, product.unit, _money(size * product.usd_per_unit * jitter * discount)))
    return tuple(tiers)


def _title(product: Product, tiers: tuple[PriceTier, ...], rng: random.Random) -> str:
    template = rng.choice(product.titles)
    first = tiers[0].quantity
    q = rng.choice(STREET_MEASURES.get(first, (f"{_fmt_qty(first)}g",)))
    dose = _fmt_qty(product.dose_mg) if product.dose_mg is not None else ""
    return template.format(q=q, n=_fmt_qty(first), dose=dose)


def _tier_text(tier: PriceTier, currency: str = "USD") -> str:
    qty = f"{_fmt_qty(tier.quantity)}g" if tier.unit == "g" else f"{_fmt_qty(tier.quantity)} pcs"
    amount = shown_amount(tier.usd, currency)
    if currency == "USD":
        return f"{qty} ${amount}"
    if currency == "EUR":
        return f"{qty} €{amount}"
    return f"{qty} {format(amount, 'f')} {currency}"


def generate(
    market: str, *, seed: int = 7, listings: int = 60, currencies: tuple[str, ...] = ("USD",)
) -> Catalogue:
    """Build the catalogue of ``market``: deterministic for a given (market, seed, listings, currencies)."""
    if not currencies or any(c not in RATES for c in currencies):
        raise ValueError(f"currencies must be a non-empty subset of {sorted(RATES)}: {currencies!r}")
    rng = random.Random(f"{market}:{seed}")
    # A separate stream, so adding currencies leaves every other seeded choice (and USD markets) as is.
    currency_rng = random.Random(f"{market}:{seed}:currency")
    vendors = tuple(
        VendorTruth(
            handle=handle,
            ships_from=rng.choice(COUNTRIES),
            sales=rng.randint(3, 4000),
            rating=Decimal(rng.randint(40, 50)) / 10,
            joined=f"20{rng.randint(19, 25)}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}",
            **_credentials(market, seed, handle),
        )
        for handle in rng.sample(VENDOR_NAMES, k=min(len(VENDOR_NAMES), max(3, listings // 5)))
    )
    items = []
    for index in range(listings):
        # Every product appears before any repeats, so small catalogues still cover fentanyl,
        # carfentanil, nitazenes and the non-opioids.
        product = PRODUCTS[index % len(PRODUCTS)] if index < len(PRODUCTS) else rng.choice(PRODUCTS)
        vendor = rng.choice(vendors)
        tiers = _tiers(product, rng)
        currency = currency_rng.choice(currencies)
        tier_line = " / ".join(_tier_text(t, currency) for t in tiers)
        blurb = rng.choice(product.descriptions) if product.descriptions else ""
        description = f"{blurb}\n\nPrices: {tier_line}\nShipping from {vendor.ships_from}.".strip()
        items.append(
            ListingTruth(
                listing_id=str(1000 + index * 7 + rng.randint(0, 6)),
                title=_title(product, tiers, rng),
                vendor=vendor.handle,
                category=product.category,
                substance=product.substance,
                substance_name=product.name,
                substance_class=product.cls,
                fentanyl_class=product.fentanyl_class,
                description=description,
                tiers=tiers,
                dose_mg=product.dose_mg,
                ships_from=vendor.ships_from,
                ships_to=tuple(rng.sample(DESTINATIONS, k=rng.randint(1, 3))),
                stock=rng.choice([None, rng.randint(1, 500)]),
                currency=currency,
            )
        )
    categories = tuple(sorted({item.category for item in items}))
    return Catalogue(
        market=market,
        seed=seed,
        vendors=vendors,
        listings=tuple(items),
        categories=categories,
        currencies=currencies,
    )


def evolve(catalogue: Catalogue, epoch: int) -> Catalogue:
    """The market ``epoch`` steps later: some listings removed, some prices cut, a few new listings.

    Deterministic, so tests know what a re-crawl must detect (epoch 0 is the catalogue itself).
    """
    if epoch <= 0:
        return catalogue
    rng = random.Random(f"{catalogue.market}:{catalogue.seed}:epoch:{epoch}")
    items = list(catalogue.listings)
    removed = set(rng.sample(range(len(items)), k=max(1, len(items) // 10)))
    kept = [item for i, item in enumerate(items) if i not in removed]
    for i in rng.sample(range(len(kept)), k=max(1, len(kept) // 10)):
        item = kept[i]
        cut = tuple(PriceTier(t.quantity, t.unit, _money(t.usd * Decimal("0.8"))) for t in item.tiers)
        kept[i] = replace(item, tiers=cut)
    fresh = generate(
        catalogue.market, seed=catalogue.seed + 1000 * epoch, listings=2, currencies=catalogue.currencies
    )
    # The first new listing comes from a vendor never seen before (what "new vendor" alerts are for).
    newcomer = VendorTruth(
        handle=f"NewPlug{epoch}",
        ships_from=rng.choice(COUNTRIES),
        sales=0,
        rating=Decimal("5.0"),
        joined="2026-11-01",
        **_credentials(catalogue.market, catalogue.seed, f"NewPlug{epoch}"),
    )
    next_id = max(int(item.listing_id) for item in items) + 1
    for offset, item in enumerate(fresh.listings):
        vendor = newcomer if offset == 0 else None
        kept.append(
            replace(
                item,
                listing_id=str(next_id + offset),
                vendor=vendor.handle if vendor else item.vendor,
                ships_from=vendor.ships_from if vendor else item.ships_from,
            )
        )
    vendors = {v.handle: v for v in (*catalogue.vendors, *fresh.vendors, newcomer)}
    used = {item.vendor for item in kept}
    return Catalogue(
        market=catalogue.market,
        seed=catalogue.seed,
        vendors=tuple(v for h, v in vendors.items() if h in used),
        listings=tuple(kept),
        categories=tuple(sorted({item.category for item in kept})),
        currencies=catalogue.currencies,
    )
