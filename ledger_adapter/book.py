"""A book in the optimizer's problem format, put on the ledger (``tanpo ledger load``).

The book is the Part 2 *problem* JSON: ``securities``, ``holdings`` (owner, account,
isin, face, pledged_to), ``schedules`` and ``obligations`` (id, pledgor, pledgee,
schedule, required_value). Loading it is two ledger transactions, each idempotent
(command ids derive from the book's content hash):

1. **set-up** (act as everyone): the registrar credits each (owner, account, isin) its
   total face as one holdings-column ``Holding`` (issuance); one ``PledgeAgreement``
   per (pledgor, pledgee, schedule); one ``MarginObligation`` per obligation, with the
   pledgee's valuation of every eligible ISIN the pledgor holds;
2. **existing pledges** (act as the pledgors): the rows with ``pledged_to`` are pledged
   through the agreements (``RebalanceBatch``), the same path the executor takes.

A ledger that already holds the book's obligations, agreements or its owners' holdings
is refused (:class:`~ledger_adapter.prior_load.BookConflictError`, nothing written)
unless this very book's set-up created them, which is found from the ledger's content,
not only by deduplication (:mod:`ledger_adapter.prior_load`): the same book loaded again
is reported as loaded, however late, and a load stopped between its two transactions
is completed. A changed book (a requirement raised, new prices) goes to the ledger with
``tanpo ledger call`` (:mod:`ledger_adapter.margin_call`), never by loading it again.

Valuation per yen of face: dirty price / 100 x index ratio x (1 - haircut), truncated
to 10 decimals (Daml ``Decimal``) so the ledger never over-states cover. An ISIN pledged
now that the schedule does not make eligible is valued 0: it stays pledged, counts for
nothing and may be released (as the optimizer treats it), rather than failing the load.
"""

from __future__ import annotations

import hashlib
import json
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_DOWN, Decimal
from typing import Any

from ledger_adapter.errors import DuplicateCommand
from ledger_adapter.model import (
    HOLDING,
    HOLDINGS_COLUMN,
    MARGIN_OBLIGATION,
    OBLIGATION_COVER,
    PLEDGE_AGREEMENT,
)
from ledger_adapter.model.obligation import cover_create_args
from ledger_adapter.prior_load import find_prior_load
from ledger_adapter.protocol import CreateCommand, Ledger
from ledger_adapter.rebalance import LiveState, agreement_id, rebalance_commands
from valuation.errors import InputError
from valuation.haircuts import HaircutBucket, HaircutSchedule, residual_years
from valuation.jgb import BondKind, Jgb

DEFAULT_REGISTRAR = "BOJ"
_TEN_DP = Decimal("0.0000000001")
_ZERO = "0.0000000000"


@dataclass(frozen=True, slots=True)
class BookHolding:
    """One holdings row: ``face`` yen of ``isin`` in ``owner``'s ``account``."""

    owner: str
    account: str
    isin: str
    face: int
    pledged_to: str | None


@dataclass(frozen=True, slots=True)
class BookObligation:
    """One obligation, with the pledgee's valuation (collateral value per yen of face)."""

    id: str
    pledgor: str
    pledgee: str
    schedule: str
    required_value: int
    valuation: Mapping[str, str]


@dataclass(frozen=True, slots=True)
class Book:
    """What the ledger needs of a problem file."""

    settlement_date: date
    holdings: tuple[BookHolding, ...]
    obligations: tuple[BookObligation, ...]
    content_hash: str


def _field(record: Mapping[str, Any], name: str, where: str) -> Any:
    if name not in record or record[name] is None:
        raise InputError(where, name, "is required")
    return record[name]


def _int_face(value: Any, where: str, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int | float) or value != int(value):
        raise InputError(where, name, f"{value!r} is not a whole number of yen")
    if value < 0:
        raise InputError(where, name, f"{value!r} is negative")
    return int(value)


def _date(value: Any, where: str, name: str) -> date:
    try:
        return date.fromisoformat(str(value))
    except ValueError:
        raise InputError(where, name, f"{value!r} is not a date (YYYY-MM-DD)") from None


def _schedule(data: Mapping[str, Any], index: int) -> HaircutSchedule:
    where = f"schedules[{index}] ({data.get('id')})"

    def buckets(rows: Sequence[Mapping[str, Any]]) -> tuple[HaircutBucket, ...]:
        return tuple(
            HaircutBucket(r.get("max_residual_years"), float(_field(r, "haircut", where)))
            for r in rows
        )

    return HaircutSchedule(
        id=str(_field(data, "id", where)),
        eligible_kinds=frozenset(
            BondKind.parse(k, where, "eligible_kinds")
            for k in _field(data, "eligible_kinds", where)
        ),
        haircuts=buckets(_field(data, "haircuts", where)),
        min_residual_years=float(data.get("min_residual_years") or 0.0),
        max_residual_years=data.get("max_residual_years"),
        kind_haircuts={
            BondKind.parse(k, where, "kind_haircuts"): buckets(v)
            for k, v in (data.get("kind_haircuts") or {}).items()
        },
        isin_haircuts={k: float(v) for k, v in (data.get("isin_haircuts") or {}).items()},
        excluded_isins=frozenset(data.get("excluded_isins") or ()),
    )


def _value_per_face(security: Mapping[str, Any], settlement: date, where: str) -> Decimal:
    """Dirty price / 100 x index ratio, per yen of face."""
    if security.get("dirty_price") is not None:
        dirty = Decimal(str(security["dirty_price"]))
    elif security.get("clean_price") is not None:
        from valuation.accrued import accrued_interest

        bond = Jgb(
            isin=str(security["isin"]),
            kind=BondKind.parse(security.get("kind", "fixed"), where),
            coupon_rate=float(security.get("coupon_rate") or 0.0),
            maturity_date=_date(_field(security, "maturity_date", where), where, "maturity_date"),
            issue_date=_date(security["issue_date"], where, "issue_date")
            if security.get("issue_date")
            else None,
        )
        accrued = accrued_interest(bond, settlement)
        dirty = Decimal(str(security["clean_price"])) + Decimal(str(accrued))
    else:
        raise InputError(where, "dirty_price", "dirty_price or clean_price is required")
    ratio = Decimal(str(security.get("index_ratio") or 1))
    return dirty / 100 * ratio


def parse_book(data: Any) -> Book:
    """Read the parts of a problem the ledger needs; errors name the record and field."""
    if not isinstance(data, Mapping):
        raise InputError("book", "(top level)", "must be a JSON object")
    settlement = _date(_field(data, "settlement_date", "book"), "book", "settlement_date")
    securities: dict[str, Mapping[str, Any]] = {}
    for i, s in enumerate(data.get("securities") or ()):
        securities[str(_field(s, "isin", f"securities[{i}]"))] = s
    schedules = {
        str(s.get("id")): _schedule(s, i) for i, s in enumerate(data.get("schedules") or ())
    }
    holdings: list[BookHolding] = []
    for i, h in enumerate(_field(data, "holdings", "book")):
        where = f"holdings[{i}]"
        isin = str(_field(h, "isin", where))
        if isin not in securities:
            raise InputError(where, "isin", f"{isin} is not among the securities")
        holdings.append(
            BookHolding(
                owner=str(_field(h, "owner", where)),
                account=str(_field(h, "account", where)),
                isin=isin,
                face=_int_face(_field(h, "face", where), where, "face"),
                pledged_to=None if h.get("pledged_to") is None else str(h["pledged_to"]),
            )
        )
    held: dict[str, set[str]] = defaultdict(set)
    for h in holdings:
        held[h.owner].add(h.isin)
    values = {
        isin: _value_per_face(s, settlement, f"securities ({isin})")
        for isin, s in securities.items()
        if any(isin in isins for isins in held.values())
    }
    obligations: list[BookObligation] = []
    for i, o in enumerate(_field(data, "obligations", "book")):
        where = f"obligations[{i}] ({o.get('id')})"
        schedule_id = str(_field(o, "schedule", where))
        schedule = schedules.get(schedule_id)
        if schedule is None:
            raise InputError(where, "schedule", f"{schedule_id} is not among the schedules")
        pledgor = str(_field(o, "pledgor", where))
        obligation_id = str(_field(o, "id", where))
        valuation: dict[str, str] = {}
        for isin in sorted(held.get(pledgor, ())):
            s = securities[isin]
            kind = BondKind.parse(s.get("kind", "fixed"), f"securities ({isin})")
            maturity = _date(_field(s, "maturity_date", isin), isin, "maturity_date")
            years = residual_years(maturity, settlement)
            haircut = schedule.haircut(isin, kind, years)
            if haircut is None or not schedule.is_eligible(isin, kind, years):
                continue
            v = values[isin] * (1 - Decimal(str(haircut)))
            valuation[isin] = format(v.quantize(_TEN_DP, rounding=ROUND_DOWN), "f")
        for isin in sorted({h.isin for h in holdings if h.pledged_to == obligation_id}):
            # pledged now but not eligible (a schedule changed): on the ledger at no value,
            # as the optimizer counts it, so it loads and may be released freely
            valuation.setdefault(isin, _ZERO)
        required = _field(o, "required_value", where)
        if not isinstance(required, int | float) or required < 0:
            raise InputError(where, "required_value", f"{required!r} is not a non-negative amount")
        obligations.append(
            BookObligation(
                id=obligation_id,
                pledgor=pledgor,
                pledgee=str(_field(o, "pledgee", where)),
                schedule=schedule_id,
                required_value=int(
                    Decimal(str(required)).to_integral_value(rounding="ROUND_CEILING")
                ),
                valuation=valuation,
            )
        )
    pledgor_of = {o.id: o.pledgor for o in obligations}
    for i, h in enumerate(holdings):
        if h.pledged_to is None:
            continue
        if h.pledged_to not in pledgor_of:
            raise InputError(f"holdings[{i}]", "pledged_to", f"{h.pledged_to} is not an obligation")
        if pledgor_of[h.pledged_to] != h.owner:
            raise InputError(
                f"holdings[{i}]",
                "pledged_to",
                f"{h.pledged_to} is {pledgor_of[h.pledged_to]}'s obligation; {h.owner}"
                " cannot have pledged to it",
            )
    digest = hashlib.sha256(
        json.dumps(data, sort_keys=True, separators=(",", ":"), default=str).encode()
    ).hexdigest()[:16]
    return Book(settlement, tuple(holdings), tuple(obligations), digest)


def obligation_create(obligation: BookObligation) -> CreateCommand:
    """The ``MarginObligation`` of ``obligation`` (signatory: its pledgee)."""
    return CreateCommand(
        MARGIN_OBLIGATION.template_id,
        {
            "pledgee": obligation.pledgee,
            "pledgor": obligation.pledgor,
            "obligationId": obligation.id,
            "scheduleId": obligation.schedule,
            "requiredValue": str(obligation.required_value),
            "valuation": dict(obligation.valuation),
        },
    )


def cover_create(obligation: BookObligation) -> CreateCommand:
    """The ``ObligationCover`` of ``obligation``, nothing pledged to it yet (the pledges
    step's rebalance, or a plan's, fills its map)."""
    return CreateCommand(
        OBLIGATION_COVER.template_id,
        cover_create_args(obligation.pledgee, obligation.pledgor, obligation.id),
    )


@dataclass(frozen=True, slots=True)
class LoadReport:
    """What ``load_book`` did: offsets of the two transactions (``None``: nothing to do).

    ``already_loaded``: both were on the ledger before, nothing was written;
    ``resumed``: the set-up was, and this call committed the pledges step.
    """

    book: str
    setup_offset: int | None
    pledges_offset: int | None
    already_loaded: bool
    resumed: bool
    holdings: int
    obligations: int
    agreements: int
    pledges: int


def load_book(
    ledger: Ledger, book: Book, *, registrar: str = DEFAULT_REGISTRAR, user_id: str = "tanpo"
) -> LoadReport:
    """Put ``book`` on ``ledger``: holdings, agreements, obligations, existing pledges.

    Raises
    ------
    BookConflictError
        The ledger already holds obligations, agreements or holdings of the book's
        parties from another load (:mod:`ledger_adapter.prior_load`); nothing written.
    InputError
        The book has nothing to load (no holding with face, no obligation).
    """
    totals: dict[tuple[str, str, str], int] = defaultdict(int)
    for h in book.holdings:
        totals[(h.owner, h.account, h.isin)] += h.face
    by_id = {o.id: o for o in book.obligations}
    agreements = sorted({(o.pledgor, o.pledgee, o.schedule) for o in book.obligations})
    commands = [
        CreateCommand(
            HOLDING.template_id,
            {
                "registrar": registrar,
                "owner": owner,
                "account": account,
                "isin": isin,
                "face": str(face),
                "column": HOLDINGS_COLUMN,
                "pledgee": None,
            },
        )
        for (owner, account, isin), face in sorted(totals.items())
        if face > 0
    ]
    commands += [
        CreateCommand(
            PLEDGE_AGREEMENT.template_id,
            {
                "pledgor": pledgor,
                "pledgee": pledgee,
                "registrar": registrar,
                "agreementId": agreement_id(pledgor, pledgee, schedule),
                "scheduleId": schedule,
            },
        )
        for pledgor, pledgee, schedule in agreements
    ]
    commands += [c for o in book.obligations for c in (obligation_create(o), cover_create(o))]
    if not commands:
        raise InputError(
            "book", "holdings", "nothing to load: no holding with a face above 0 and no obligation"
        )
    parties = {registrar} | {h.owner for h in book.holdings}
    parties |= {o.pledgee for o in book.obligations} | {o.pledgor for o in book.obligations}
    setup_id = f"load-{book.content_hash}-setup"
    pledges_id = f"load-{book.content_hash}-pledges"
    pledged = [h for h in book.holdings if h.pledged_to is not None and h.face > 0]
    pledgors = sorted({by_id[str(h.pledged_to)].pledgor for h in pledged})
    prior = find_prior_load(
        ledger,
        book,
        setup_command_id=setup_id,
        pledges_command_id=pledges_id if pledged else None,
        pledgors=pledgors,
    )
    already = prior is not None
    if prior is not None:
        setup_offset: int | None = prior.setup_offset
    else:
        try:
            setup = ledger.submit(
                commands, act_as=sorted(parties), command_id=setup_id, user_id=user_id
            )
            setup_offset = setup.offset
        except DuplicateCommand as dup:  # the same book loaded at the same instant
            already, setup_offset = True, dup.completion_offset
    pledges_offset = prior.pledges_offset if prior is not None else None
    resumed = False
    if pledged and pledges_offset is None:
        orders = [(str(h.pledged_to), h.account, h.isin, h.face) for h in pledged]
        state = LiveState.read(ledger, pledgors)
        try:
            tx = ledger.submit(
                rebalance_commands(state, [([], orders)]),
                act_as=pledgors,
                command_id=pledges_id,
                user_id=user_id,
            )
            pledges_offset, resumed = tx.offset, already
        except DuplicateCommand as dup:
            pledges_offset = dup.completion_offset
        already = already and not resumed
    return LoadReport(
        book=book.content_hash,
        setup_offset=setup_offset,
        pledges_offset=pledges_offset,
        already_loaded=already,
        resumed=resumed,
        holdings=len(totals),
        obligations=len(book.obligations),
        agreements=len(agreements),
        pledges=len(pledged),
    )
