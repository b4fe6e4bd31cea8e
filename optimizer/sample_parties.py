"""Who is in the sample book: custody accounts, margin obligations and their schedules.

Data for :mod:`optimizer.sample_book`, kept apart so the book's *cast* reads as a table.

Obligations per institution (30 in all, DOMAIN.md sections 1 and 4):

- JSCC (pledgee ``JSCC``, JSCC-style schedule; deadline 11:00): IRS clearing initial
  margin, JGB futures margin, CDS clearing margin, cash-JGB (OTC) clearing margin;
- the Bank of Japan (``BOJ``, BoJ schedule): funds-supplying operations against pooled
  collateral, intraday overdraft;
- bilateral counterparties: initial margin under the uncleared-margin rules (UMR),
  BCBS-IOSCO schedule; CSAs that terminate in dollars take the 8% FX add-on.

``share`` sizes each requirement as a share of the pledgor's collateral capacity under
the obligation's schedule; ``cover`` is how much of it the existing pledges cover (0:
a new call, < 1: the requirement rose, > 1: a release is due).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from valuation.haircuts import HaircutSchedule, read_schedules, schedule_to_dict
from valuation.paths import data_dir

ACCOUNT_STYLES = {
    "liquidity": "T-bills, 2Y and 5Y held as a liquidity buffer",
    "alm": "10Y-40Y held for asset-liability management",
    "trading": "dealer inventory, heavy in on-the-run issues",
    "treasury": "mixed treasury portfolio, including JGBi and climate transition bonds",
}
STYLE_CYCLE = ("liquidity", "alm", "trading", "treasury", "alm", "liquidity", "trading", "alm")
STYLE_WEIGHT = {"liquidity": 1.0, "alm": 1.6, "trading": 0.7, "treasury": 1.0}
ACCOUNT_PREFIX = {"MIZUHO": "MZH", "NOMURA": "NMR", "SMBC": "SMBC"}

HARD = "SMBC-UMR-CITI"
"""Hard: its CSA (``CSA-CITI``) caps each ISIN at 25 billion yen and operations take at
most 3 ISINs, so the 72.75 billion yen requirement (97% of 3 x 25) leaves 3% of slack."""

SHORT_OF_COVER = "NOMURA-UMR-BNP"
"""Cannot be covered: its CSA (``CSA-BNP``) caps each ISIN at 10 billion yen and takes at
most 2 ISINs, against 24 billion yen required; every plan must report the shortfall."""

CSA_ISIN_CAPS = {"CSA-CITI": 25_000_000_000, "CSA-BNP": 10_000_000_000}
"""Yen cap per ISIN in the two special CSAs (configuration)."""


@dataclass(frozen=True, slots=True)
class Account:
    """A custody account of an institution."""

    id: str
    owner: str
    style: str
    face: int

    def to_json(self) -> dict[str, Any]:
        """The account's optional metadata entry in the problem."""
        return {
            "id": self.id,
            "owner": self.owner,
            "style": self.style,
            "description": ACCOUNT_STYLES[self.style],
        }


@dataclass(frozen=True, slots=True)
class ObligationTemplate:
    """One margin obligation to size and pre-pledge."""

    id: str
    pledgor: str
    pledgee: str
    schedule: str
    margin_type: str
    share: float
    cover: float
    currency: str = "JPY"
    deadline: str | None = None
    lot_face: int = 100_000_000
    min_pledge_face: int | None = None
    max_isins: int | None = None
    required_value: int | None = None
    note: str | None = None


_JSCC = (
    ("JSCC-IRS", "JSCC IRS clearing initial margin", 0.06, 1.0),
    ("JSCC-FUT", "JGB futures margin (OSE, cleared by JSCC)", 0.02, 0.8),
    ("JSCC-CDS", "JSCC CDS clearing initial margin", 0.003, 1.0),
    ("JSCC-JGB", "cash-JGB (OTC) clearing margin", 0.04, 1.2),
)
_BOJ = (
    ("BOJ-FSO", "BoJ funds-supplying operations (pooled collateral)", 0.20, 1.0),
    ("BOJ-INTRADAY", "BoJ intraday overdraft collateral", 0.06, 0.0),
)
_PLAN = {
    "MIZUHO": (
        ("JSCC-IRS", "JSCC-FUT", "JSCC-CDS", "JSCC-JGB", "BOJ-FSO", "BOJ-INTRADAY"),
        (("JPM", "JPY"), ("GS", "JPY"), ("BARC", "JPY"), ("HSBC", "USD"), ("DB", "JPY")),
    ),
    "NOMURA": (
        ("JSCC-IRS", "JSCC-FUT", "JSCC-CDS", "JSCC-JGB", "BOJ-FSO"),
        (("JPM", "JPY"), ("GS", "USD"), ("MS", "JPY"), ("BNP", "JPY")),
    ),
    "SMBC": (
        ("JSCC-IRS", "JSCC-FUT", "JSCC-JGB", "BOJ-FSO", "BOJ-INTRADAY"),
        (("JPM", "JPY"), ("GS", "JPY"), ("CITI", "USD"), ("BARC", "JPY"), ("SOCGEN", "JPY")),
    ),
}
_UMR_SHARES = (0.008, 0.012, 0.006, 0.010, 0.005)
_UMR_COVERS = (1.0, 0.9, 0.0, 1.1, 1.0)


def account_plan(
    institutions: tuple[tuple[str, int], ...], counts: tuple[int, ...]
) -> list[Account]:
    """Custody accounts: ``counts[i]`` per institution, styles cycling, face split by style."""
    accounts: list[Account] = []
    for (owner, face), count in zip(institutions, counts, strict=True):
        styles = [STYLE_CYCLE[k % len(STYLE_CYCLE)] for k in range(count)]
        total = sum(STYLE_WEIGHT[s] for s in styles)
        prefix = ACCOUNT_PREFIX.get(owner, owner[:4])
        for k, style in enumerate(styles, start=1):
            accounts.append(
                Account(
                    f"{prefix}-{k:02d}", owner, style, round(face * STYLE_WEIGHT[style] / total)
                )
            )
    return accounts


def obligation_plan(rounds: int = 1) -> list[ObligationTemplate]:
    """The obligations (30 per round; later rounds add ``-R02``... for benchmarks)."""
    plan: list[ObligationTemplate] = []
    types = {t[0]: t for t in _JSCC + _BOJ}
    for r in range(1, rounds + 1):
        tag = "" if r == 1 else f"-R{r:02d}"
        for pledgor, (house, bilateral) in _PLAN.items():
            for key in house:
                _, label, share, cover = types[key]
                pledgee = "JSCC" if key.startswith("JSCC") else "BOJ"
                plan.append(
                    ObligationTemplate(
                        f"{pledgor}-{key}{tag}",
                        pledgor,
                        pledgee,
                        pledgee,
                        label,
                        share / rounds,
                        cover,
                        deadline="11:00" if pledgee == "JSCC" else None,
                    )
                )
            for k, (cpty, currency) in enumerate(bilateral):
                plan.append(
                    _bilateral(f"{pledgor}-UMR-{cpty}{tag}", pledgor, (cpty, currency), k, rounds)
                )
    return plan


def _bilateral(
    oid: str, pledgor: str, counterparty: tuple[str, str], k: int, rounds: int
) -> ObligationTemplate:
    cpty, currency = counterparty
    label = f"bilateral initial margin (UMR), CSA in {currency}"
    if oid == HARD:
        schedule, max_isins = "CSA-CITI", 3
        required: int | None = int(0.97 * 3 * CSA_ISIN_CAPS["CSA-CITI"])
        note: str | None = "hard: at most 3 ISINs of at most 25 billion yen each; 3% of slack"
    elif oid == SHORT_OF_COVER:
        schedule, max_isins = "CSA-BNP", 2
        required = 24_000_000_000
        note = "cannot be covered: at most 2 ISINs of at most 10 billion yen each"
    else:
        schedule = "BCBS-IOSCO-FX" if currency == "USD" else "BCBS-IOSCO"
        max_isins, required, note = 5, None, None
    return ObligationTemplate(
        oid,
        pledgor,
        cpty,
        schedule,
        label,
        _UMR_SHARES[k] / rounds,
        0.5 if note else _UMR_COVERS[k],
        currency=currency,
        min_pledge_face=1_000_000_000,
        max_isins=max_isins,
        required_value=required,
        note=note,
    )


def problem_schedules() -> dict[str, HaircutSchedule]:
    """The schedules the book's obligations use, by id.

    BOJ, JSCC and BCBS-IOSCO from ``data/schedules`` (the yen CSAs do not carry the FX
    add-on); BCBS-IOSCO-FX is BCBS-IOSCO plus its 8% add-on (CSAs in dollars); CSA-CITI
    (dollars) and CSA-BNP (yen) are configuration: BCBS-IOSCO CSAs with a yen cap per
    ISIN (:data:`CSA_ISIN_CAPS`) and no collateral within 10 days (the margin period of
    risk) of maturity.
    """
    files = read_schedules(data_dir() / "schedules")
    bcbs = files["BCBS-IOSCO"]
    fx = bcbs.with_fx_mismatch()

    def capped(base: HaircutSchedule, sid: str) -> HaircutSchedule:
        cap = CSA_ISIN_CAPS[sid]
        return replace(
            base,
            id=sid,
            min_residual_years=round(10 / 365, 6),
            max_value_per_isin=float(cap),
            fx_mismatch_haircut=None,
            source=(
                f"{base.source}; configuration (tanpo): CSA caps each ISIN at {cap:,} yen and "
                "refuses paper within 10 days of maturity"
            ),
        )

    return {
        "BOJ": files["BOJ"],
        "JSCC": files["JSCC"],
        "BCBS-IOSCO": replace(bcbs, fx_mismatch_haircut=None),
        "BCBS-IOSCO-FX": fx,
        "CSA-CITI": capped(fx, "CSA-CITI"),
        "CSA-BNP": capped(bcbs, "CSA-BNP"),
    }


def schedules_json(schedules: dict[str, HaircutSchedule]) -> list[dict[str, Any]]:
    """The schedules in the problem's form."""
    return [schedule_to_dict(s) for s in schedules.values()]
