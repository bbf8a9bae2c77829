"""The lab's supply chain: precursor chemicals shipped from China and India, and weapons, sold by a
fixed cast of vendors spread over the three lab markets, added on top of a market's seeded drugs.

The cast is fixed (not drawn from the seed) because its point is the links between markets: an
identity-linking test needs to know that "CheMaster" on nightshade and "chem_master_eu" on bazaar
show the same PGP key, and that "IndoChemLab" on nightshade and "desi_chem" on kraken are paid into
one Bitcoin address. Prices, stock and destinations still come from the seed.

An overlay (like ``evolve``) rather than more products in ``generate``: the seeded drug catalogue,
which many tests pin listing by listing, stays exactly as it was.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, replace
from decimal import Decimal

from onionwatch.lab.market.catalogue import (
    DESTINATIONS,
    Catalogue,
    ListingTruth,
    PriceTier,
    Unit,
    VendorTruth,
    _money,
    _tier_text,
)
from onionwatch.lab.market.identities import WalletKind, vendor_key, wallet

#: markets whose catalogue carries supply-chain vendors (the lab's three markets)
SUPPLY_MARKETS = ("nightshade", "bazaar", "kraken")
#: listing ids of the overlay start here, far above any seeded id
FIRST_ID = 9001


@dataclass(frozen=True)
class Offer:
    """One listing of the cast, with its title as the vendor wrote it."""

    title: str
    listing_category: str
    market_category: str
    unit: Unit
    sizes: tuple[Decimal, ...]
    usd_per_unit: Decimal
    blurb: str
    precursor: str | None = None
    cas: str | None = None


@dataclass(frozen=True)
class Account:
    """One market account of the cast: its identity says who runs it."""

    identity: str
    market: str
    handle: str
    ships_from: str
    sales: int
    rating: Decimal
    joined: str
    #: (format, wallet name): accounts naming the same wallet show the same address
    wallets: tuple[tuple[WalletKind, str], ...]
    #: the PGP user id of the identity's key, None when the profile shows no key
    pgp_user_id: str | None
    offers: tuple[Offer, ...]


def _d(*values: str) -> tuple[Decimal, ...]:
    return tuple(Decimal(v) for v in values)


_PACKING = "Discreet vacuum packing, customs-safe labels, reship once if seized. COA on request."

NPP = Offer(
    "NPP N-Phenethyl-4-piperidone CAS 39742-60-4 99% purity",
    "precursors",
    "Chemicals",
    "g",
    _d("100", "500", "1000"),
    Decimal("0.90"),
    f"N-phenethyl-4-piperidone, white to off-white powder, HPLC 99.2%. {_PACKING}",
    "npp",
    "39742-60-4",
)
NPP_EU = replace(
    NPP,
    title="N-Phenethyl-4-Piperidone (NPP) 500g - safe delivery to EU",
    market_category="Precursors",
    sizes=_d("500", "1000"),
    blurb=f"Same product as on our other store, same PGP. CAS 39742-60-4. {_PACKING}",
)
FOUR_AP = Offer(
    "4-AP 4-Anilinopiperidine CAS 23056-29-3 high purity",
    "precursors",
    "Chemicals",
    "g",
    _d("100", "500"),
    Decimal("1.40"),
    f"4-anilinopiperidine, purity 99%. Factory direct. {_PACKING}",
    "4-ap",
    "23056-29-3",
)
BOC = Offer(
    "1-Boc-4-Piperidone 79099-07-3 white powder 1kg",
    "precursors",
    "Chemicals",
    "g",
    _d("1000", "5000"),
    Decimal("0.35"),
    f"tert-butyl 4-oxopiperidine-1-carboxylate, 99.5%, in stock. {_PACKING}",
    "1-boc-4-piperidone",
    "79099-07-3",
)
BMK = Offer(
    "New BMK Glycidate (BMK methyl glycidate) CAS 80532-66-7 1kg",
    "precursors",
    "Chemicals",
    "g",
    _d("1000", "5000", "10000"),
    Decimal("0.12"),
    f"BMK methyl glycidate powder, high yield, 100% pass rate to Europe. {_PACKING}",
    "bmk-glycidate",
    "80532-66-7",
)
PMK = Offer(
    "PMK methyl glycidate powder CAS 13605-48-6 high yield",
    "precursors",
    "Chemicals",
    "g",
    _d("1000", "5000"),
    Decimal("0.15"),
    f"PMK methyl glycidate, yellowish powder, tested. {_PACKING}",
    "pmk-glycidate",
    "13605-48-6",
)
GLOCK = Offer(
    "Glock 19 Gen5 9mm",
    "weapons",
    "Weapons",
    "unit",
    _d("1", "2"),
    Decimal("1850"),
    "Genuine Glock 19 Gen5 with two magazines. Shipped disassembled.",
)
AMMO = Offer(
    "9mm ammo 50 rounds",
    "weapons",
    "Weapons",
    "unit",
    _d("1", "5", "10"),
    Decimal("45"),
    "9x19mm FMJ 124gr, box of 50 rounds. Ships with the pistol or on its own.",
)

CAST: tuple[Account, ...] = (
    # one chemist, two markets, two handles, one PGP key: the link is the key, not the name
    Account(
        "chemaster",
        "nightshade",
        "CheMaster",
        "China",
        1240,
        Decimal("4.8"),
        "2022-03-14",
        (("bech32", "chemaster:nightshade"), ("monero", "chemaster:nightshade")),
        "CheMaster <chemaster@lab.invalid>",
        (NPP, FOUR_AP),
    ),
    Account(
        "chemaster",
        "bazaar",
        "chem_master_eu",
        "China",
        310,
        Decimal("4.6"),
        "2024-09-02",
        (("p2pkh", "chemaster:bazaar"),),
        "CheMaster <chemaster@lab.invalid>",
        (NPP_EU, replace(BOC, market_category="Precursors")),
    ),
    # one lab, two markets, no key on the second: the link is the payout address they share
    Account(
        "indochem",
        "nightshade",
        "IndoChemLab",
        "India",
        560,
        Decimal("4.7"),
        "2023-06-21",
        (("p2pkh", "indochem:payout"), ("ethereum", "indochem:nightshade")),
        "IndoChem Lab <sales@indochem.lab.invalid>",
        (
            PMK,
            replace(FOUR_AP, title="4-Anilinopiperidine (4-AP) 500g, India stock", sizes=_d("500", "1000")),
        ),
    ),
    Account(
        "indochem",
        "kraken",
        "desi_chem",
        "India",
        95,
        Decimal("4.5"),
        "2025-02-10",
        (("p2pkh", "indochem:payout"), ("monero", "indochem:kraken")),
        None,
        (replace(PMK, title="PMK Glycidate 13605-48-6 - 1kg to 10kg, door to door"),),
    ),
    Account(
        "hubei",
        "kraken",
        "HubeiReagents",
        "China",
        2210,
        Decimal("4.9"),
        "2021-11-30",
        (("bech32", "hubei:kraken"), ("ethereum", "hubei:kraken")),
        "Hubei Reagents <hubei.reagents@lab.invalid>",
        (BMK, replace(BOC, title="N-Boc-4-piperidone CAS 79099-07-3 99%")),
    ),
    Account(
        "glockworks",
        "kraken",
        "GlockWorks",
        "United States",
        87,
        Decimal("4.4"),
        "2024-04-18",
        (("monero", "glockworks:kraken"),),
        "GlockWorks <glockworks@lab.invalid>",
        (GLOCK, AMMO),
    ),
    Account(
        "ironhand",
        "bazaar",
        "IronHand",
        "Germany",
        42,
        Decimal("4.2"),
        "2025-07-07",
        (("bech32", "ironhand:bazaar"),),
        None,
        (
            replace(GLOCK, title="Glock 19 Gen5 9mm + 2 mags, EU only", market_category="Guns & Ammo"),
            replace(AMMO, market_category="Guns & Ammo"),
        ),
    ),
)


def accounts(market: str) -> tuple[Account, ...]:
    return tuple(a for a in CAST if a.market == market)


def _vendor(account: Account, seed: int) -> VendorTruth:
    key = vendor_key(seed, account.identity, account.pgp_user_id) if account.pgp_user_id else None
    return VendorTruth(
        handle=account.handle,
        ships_from=account.ships_from,
        sales=account.sales,
        rating=account.rating,
        joined=account.joined,
        identity=account.identity,
        wallets=tuple(wallet(kind, seed, name) for kind, name in account.wallets),
        pgp_fingerprint=key.fingerprint if key else None,
        pgp_key=key.armored if key else None,
    )


def _tiers(offer: Offer, rng: random.Random) -> tuple[PriceTier, ...]:
    jitter = Decimal(rng.randint(90, 115)) / 100
    return tuple(
        PriceTier(
            size, offer.unit, _money(size * offer.usd_per_unit * jitter * (Decimal(1) - Decimal("0.1") * i))
        )
        for i, size in enumerate(offer.sizes)
    )


def with_supply_chain(catalogue: Catalogue) -> Catalogue:
    """``catalogue`` with its market's supply-chain vendors and listings added (none for markets
    outside :data:`SUPPLY_MARKETS`)."""
    cast = accounts(catalogue.market)
    if not cast:
        return catalogue
    # Its own stream: the seeded catalogue's choices are untouched.
    rng = random.Random(f"{catalogue.market}:{catalogue.seed}:supply")
    vendors = [_vendor(account, catalogue.seed) for account in cast]
    items: list[ListingTruth] = []
    for account, vendor in zip(cast, vendors, strict=True):
        for offer in account.offers:
            tiers = _tiers(offer, rng)
            currency = rng.choice(catalogue.currencies)
            tier_line = " / ".join(_tier_text(t, currency) for t in tiers)
            items.append(
                ListingTruth(
                    listing_id=str(FIRST_ID + len(items)),
                    title=offer.title,
                    vendor=vendor.handle,
                    category=offer.market_category,
                    substance=None,
                    substance_name=None,
                    substance_class=None,
                    fentanyl_class=False,
                    description=f"{offer.blurb}\n\nPrices: {tier_line}\nShipping from {vendor.ships_from}.",
                    tiers=tiers,
                    dose_mg=None,
                    ships_from=vendor.ships_from,
                    ships_to=tuple(rng.sample(DESTINATIONS, k=rng.randint(1, 3))),
                    stock=rng.choice([None, rng.randint(1, 50)]),
                    currency=currency,
                    listing_category=offer.listing_category,
                    precursor=offer.precursor,
                    cas=offer.cas,
                )
            )
    listings = (*catalogue.listings, *items)
    return replace(
        catalogue,
        vendors=(*catalogue.vendors, *vendors),
        listings=listings,
        categories=tuple(sorted({item.category for item in listings})),
    )
