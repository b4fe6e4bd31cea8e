"""The pledgee's side of a margin call: requirements and valuations moved on the ledger.

The ledger checks cover itself (``ObligationCover_Settle``, run by every rebalance
step for each obligation it releases from or pledges to) against the obligation's ``requiredValue``
and ``valuation``. Until the pledgee moves them, the check uses load time's: after a
margin return the ledger still refuses the release the return allows, and a fall in
prices is not seen. :func:`call_margin` brings the obligations on the ledger to a book
(the Part 2 problem JSON as :func:`ledger_adapter.book.parse_book` reads it, so the
value per yen of face is computed exactly as a load computes it), ``tanpo ledger call``:

- a requirement that differs: ``MarginObligation_Call`` (a margin call or return);
- a valuation map that differs (new prices, haircuts, eligibility):
  ``MarginObligation_Revalue``, then ``ObligationCover_Recompute`` of the obligation's
  cover at the new valuation from every pledge of it the pledgee sees (the cover holds
  the value the rebalance's cover check reads); both: the call, then the revaluation of the contract
  the call created, threaded by one ``MarginCallBatch`` per pledgee (a later command
  of a submission cannot name what an earlier one created);
- an obligation of the book not on the ledger: created by its pledgee (its only
  signatory) when the ``PledgeAgreement`` (pledgor, pledgee, schedule) is there; else
  refused naming both: the pledgee alone cannot sign an agreement;
- an obligation on the ledger the book lacks: left alone and listed;
- a valuation that would drop an ISIN pledged to the obligation on the ledger: refused
  (the book's holdings are older than the ledger; it would count that pledge as 0);
- holdings and pledges: never touched.

It acts as the pledgees only (the controllers of both choices; the pledgor is an
observer and sees the new obligation), and everything goes in one transaction. The
command id is ``call-<book hash>-<state digest>``, the digest over the obligation
contracts the change replaces, so a re-run after a crash or a timeout finds either the
ledger up to date ("nothing to change", nothing written) or the same state, and
resubmits the same change id (applied once: deduplication). A transaction that
replaced one of those contracts first makes the ledger refuse this one
(``CONTRACT_NOT_FOUND``); the change is then built again from the state re-read. A
created obligation replaces nothing, so two calls that create it at once (other books,
or other users) both commit it: Daml 3 has no key to refuse the second, and the next
call refuses to choose between the two (naming the obligation and both contracts).
"""

from __future__ import annotations

import functools
import hashlib
import json
import time
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum
from typing import Any

from ledger_adapter.book import Book, BookObligation, cover_create, obligation_create
from ledger_adapter.errors import (
    AuthorizationError,
    ContractNotFound,
    DuplicateCommand,
    LedgerError,
)
from ledger_adapter.model import (
    MARGIN_CALL_BATCH,
    MARGIN_OBLIGATION,
    OBLIGATION_COVER,
    PLEDGE,
    PLEDGE_AGREEMENT,
)
from ledger_adapter.protocol import (
    DEFAULT_USER_ID,
    Command,
    CreateAndExerciseCommand,
    CreatedEvent,
    Ledger,
)
from ledger_adapter.rebalance import agreement_id
from valuation.errors import InputError


class CallStatus(StrEnum):
    """What :func:`call_margin` did."""

    COMMITTED = "committed"
    ALREADY_APPLIED = "already applied"
    """The same change (same book, same ledger state) was committed by an earlier or
    racing call: deduplication answered."""
    NOTHING_TO_CHANGE = "nothing to change"


@dataclass(frozen=True, slots=True)
class ObligationChange:
    """One obligation moved (or created) by the call."""

    obligation: str
    pledgor: str
    pledgee: str
    old_required_value: int | None
    """``None``: the obligation was not on the ledger and is created."""
    new_required_value: int
    revalued: tuple[str, ...]
    """ISINs whose value per yen of face is new, changed or dropped (all, if created)."""

    @property
    def created(self) -> bool:
        return self.old_required_value is None

    @property
    def called(self) -> bool:
        """The requirement moved (a margin call or return)."""
        return self.old_required_value not in (None, self.new_required_value)


@dataclass(frozen=True, slots=True)
class CallReport:
    """The result of :func:`call_margin`."""

    book: str
    status: CallStatus
    pledgees: tuple[str, ...]
    command_id: str | None
    offset: int | None
    changes: tuple[ObligationChange, ...]
    unchanged: tuple[str, ...]
    """The book's obligations (of these pledgees) the ledger already matches."""
    not_in_book: tuple[str, ...]
    """Obligations of these pledgees on the ledger that the book lacks: left alone."""


def _revalued(old: Mapping[str, str], new: Mapping[str, str]) -> tuple[str, ...]:
    """ISINs in which two valuation maps differ (compared as numbers: ``0.98`` equals
    ``0.9800000000``)."""
    return tuple(
        sorted(
            isin
            for isin in old.keys() | new.keys()
            if isin not in old or isin not in new or Decimal(old[isin]) != Decimal(new[isin])
        )
    )


@dataclass(frozen=True, slots=True)
class _Plan:
    """The change from one reading of the ledger."""

    changes: tuple[ObligationChange, ...]
    commands: tuple[Command, ...]
    replaced: tuple[tuple[str, str, str], ...]
    """(pledgee, obligation id, contract id or "") of every change: the state it applies to."""
    unchanged: tuple[str, ...]
    not_in_book: tuple[str, ...]


def _on_ledger(
    obligations: Iterable[CreatedEvent], wanted: Sequence[tuple[int, BookObligation]]
) -> dict[tuple[str, str], CreatedEvent]:
    """The pledgees' obligations by (pledgee, obligation id); two for one key is refused."""
    found: dict[tuple[str, str], CreatedEvent] = {}
    where = {(o.pledgee, o.id): i for i, o in wanted}
    for c in obligations:
        key = (c.arguments["pledgee"], c.arguments["obligationId"])
        if key in found and key in where:
            raise InputError(
                f"obligations[{where[key]}] ({key[1]})",
                "id",
                f"the ledger holds two active obligations {key[1]} of {key[0]}"
                f" ({found[key].contract_id}, {c.contract_id}): it cannot tell which to call",
            )
        found[key] = c
    return found


@dataclass(frozen=True, slots=True)
class _Pledged:
    """The pledgees' active pledges and covers, as they see them."""

    faces: dict[tuple[str, str, str], int]
    """Face pledged per (pledgee, obligation id, isin)."""
    pledge_cids: dict[tuple[str, str, str], list[str]]
    """Pledge contract ids per (pledgee, obligation id, pledgor)."""
    covers: dict[tuple[str, str, str], str]
    """``ObligationCover`` contract id per (pledgee, obligation id, pledgor)."""


def _pledged(ledger: Ledger, pledgees: Sequence[str], end: int) -> _Pledged:
    faces: dict[tuple[str, str, str], int] = {}
    cids: dict[tuple[str, str, str], list[str]] = {}
    for c in ledger.active_contracts(pledgees, PLEDGE.template_id, at_offset=end):
        a = c.arguments
        key = (a["pledgee"], a["obligationId"], a["isin"])
        faces[key] = faces.get(key, 0) + int(a["face"])
        cids.setdefault((a["pledgee"], a["obligationId"], a["pledgor"]), []).append(c.contract_id)
    covers = {
        (c.arguments["pledgee"], c.arguments["obligationId"], c.arguments["pledgor"]): c.contract_id
        for c in ledger.active_contracts(pledgees, OBLIGATION_COVER.template_id, at_offset=end)
    }
    return _Pledged(faces, cids, covers)


def _recompute(where: str, obligation: BookObligation, pledged: _Pledged) -> dict[str, Any]:
    """The step's ``coverCid`` and ``pledgeCids``: a revaluation recomputes the cover
    from every pledge of the obligation the pledgee sees (leaving one out would only
    understate the pledgee's own cover)."""
    key = (obligation.pledgee, obligation.id, obligation.pledgor)
    cover = pledged.covers.get(key)
    if cover is None:
        raise InputError(
            where,
            "id",
            f"{obligation.id} has no ObligationCover on the ledger, whose value a"
            " revaluation recomputes: a ledger written before covers existed; create them"
            " with python -m ledger_adapter.migration --obligations <ledger url>",
        )
    return {"coverCid": cover, "pledgeCids": pledged.pledge_cids.get(key, [])}


def _refuse_a_stale_book(
    where: str,
    obligation: BookObligation,
    dropped: Sequence[str],
    pledged: _Pledged,
) -> None:
    """A valuation drops only ISINs nothing is pledged in: the book's valuation covers
    the ISINs its pledgor holds (and, at 0, those pledged to the obligation that its
    schedule no longer admits), so an ISIN pledged on the ledger and missing from it is
    a book whose holdings are older than the ledger; revaluing would count it as 0."""
    for isin in dropped:
        face = pledged.faces.get((obligation.pledgee, obligation.id, isin), 0)
        if face:
            raise InputError(
                where,
                "valuation",
                f"{isin} is pledged to {obligation.id} on the ledger ({face:,} face) but the"
                f" book's holdings of {obligation.pledgor} do not list it, so the call would"
                f" value it at 0; bring the book's holdings up to date (tanpo ledger"
                f" positions --party {obligation.pledgor} --export)",
            )


def _plan(
    ledger: Ledger, pledgees: Sequence[str], wanted: Sequence[tuple[int, BookObligation]]
) -> _Plan:
    end = ledger.ledger_end()
    obligations = [
        c
        for c in ledger.active_contracts(pledgees, MARGIN_OBLIGATION.template_id, at_offset=end)
        if c.arguments["pledgee"] in pledgees
    ]
    live = _on_ledger(obligations, wanted)
    agreements: set[tuple[str, str, str]] | None = None  # read only when one is needed
    pledged: _Pledged | None = None  # likewise
    changes: list[ObligationChange] = []
    steps: dict[str, list[dict[str, Any]]] = {}
    creates: list[Command] = []
    replaced: list[tuple[str, str, str]] = []
    unchanged: list[str] = []
    for i, o in wanted:
        where = f"obligations[{i}] ({o.id})"
        c = live.get((o.pledgee, o.id))
        if c is None:
            if agreements is None:
                agreements = {
                    (a.arguments["pledgor"], a.arguments["pledgee"], a.arguments["scheduleId"])
                    for a in ledger.active_contracts(
                        pledgees, PLEDGE_AGREEMENT.template_id, at_offset=end
                    )
                }
            if (o.pledgor, o.pledgee, o.schedule) not in agreements:
                raise InputError(
                    where,
                    "schedule",
                    f"{o.id} is not on the ledger and there is no pledge agreement"
                    f" {agreement_id(o.pledgor, o.pledgee, o.schedule)} to create it under:"
                    f" {o.pledgee} alone cannot sign one (load it with the pledgor, or fix"
                    " the obligation's pledgor, pledgee or schedule)",
                )
            creates += [obligation_create(o), cover_create(o)]
            changes.append(
                ObligationChange(
                    o.id, o.pledgor, o.pledgee, None, o.required_value, tuple(sorted(o.valuation))
                )
            )
            replaced.append((o.pledgee, o.id, ""))
            continue
        a = c.arguments
        for field, ours, theirs in (
            ("pledgor", o.pledgor, a["pledgor"]),
            ("schedule", o.schedule, a["scheduleId"]),
        ):
            if ours != theirs:
                raise InputError(
                    where,
                    field,
                    f"the ledger's {o.id} of {o.pledgee} has {field} {theirs}, the book {ours};"
                    " a call moves only the requirement and the valuation",
                )
        old = int(a["requiredValue"])
        revalued = _revalued(a["valuation"], o.valuation)
        if revalued and pledged is None:
            pledged = _pledged(ledger, pledgees, end)
        dropped = [isin for isin in revalued if isin not in o.valuation]
        if dropped and pledged is not None:
            _refuse_a_stale_book(where, o, dropped, pledged)
        if old == o.required_value and not revalued:
            unchanged.append(o.id)
            continue
        cover = (
            _recompute(where, o, pledged)
            if revalued and pledged is not None
            else {"coverCid": None, "pledgeCids": []}
        )
        steps.setdefault(o.pledgee, []).append(
            {
                "obligationCid": c.contract_id,
                "newRequiredValue": None if old == o.required_value else str(o.required_value),
                "newValuation": dict(o.valuation) if revalued else None,
                **cover,
            }
        )
        changes.append(
            ObligationChange(o.id, o.pledgor, o.pledgee, old, o.required_value, revalued)
        )
        replaced.append((o.pledgee, o.id, c.contract_id))
    in_book = {(o.pledgee, o.id) for _, o in wanted}
    commands: list[Command] = [
        CreateAndExerciseCommand(
            MARGIN_CALL_BATCH.template_id,
            {"pledgee": pledgee},
            "MarginCallBatch_Execute",
            {"steps": pledgee_steps},
        )
        for pledgee, pledgee_steps in sorted(steps.items())
    ]
    return _Plan(
        tuple(changes),
        (*commands, *creates),
        tuple(replaced),
        tuple(unchanged),
        tuple(sorted(key[1] for key in live if key not in in_book)),
    )


def _report(
    book: Book,
    pledgees: Sequence[str],
    plan: _Plan,
    *,
    status: CallStatus,
    command_id: str | None = None,
    offset: int | None = None,
) -> CallReport:
    return CallReport(
        book.content_hash,
        status,
        tuple(pledgees),
        command_id,
        offset,
        plan.changes,
        plan.unchanged,
        plan.not_in_book,
    )


def call_command_id(book: Book, replaced: Iterable[tuple[str, str, str]]) -> str:
    """``call-<book hash>-<digest of the contracts replaced>``: the same book on the
    same ledger state is the same change id."""
    text = json.dumps(sorted(replaced), separators=(",", ":"))
    return f"call-{book.content_hash}-{hashlib.sha256(text.encode()).hexdigest()[:16]}"


def call_margin(
    ledger: Ledger,
    book: Book,
    *,
    pledgees: Iterable[str] | None = None,
    user_id: str = DEFAULT_USER_ID,
    max_attempts: int = 5,
    backoff_s: float = 0.05,
) -> CallReport:
    """Bring the book's obligations on ``ledger`` to the book, acting as their pledgees.

    ``pledgees`` ``None``: every pledgee of the book; else only their obligations (each
    must be the pledgee of one). Holdings are never touched.

    Raises
    ------
    AuthorizationError
        A party given is the pledgee of no obligation in the book; nothing written.
    InputError
        The book has no obligations; an obligation of the book cannot be created (no pledge agreement), differs
        from the ledger's in pledgor or schedule, or its valuation drops an ISIN pledged
        to it on the ledger (a book older than the ledger); nothing written.
    LedgerError
        The ledger refused the transaction (nothing applied), e.g.
        :class:`~ledger_adapter.errors.PermissionDenied` for a user that may not act as
        the pledgees.
    """
    if not book.obligations:
        raise InputError("book", "obligations", f"book {book.content_hash} has no obligations")
    book_pledgees = sorted({o.pledgee for o in book.obligations})
    acting = book_pledgees if pledgees is None else sorted(set(pledgees))
    strangers = [p for p in acting if p not in book_pledgees]
    if strangers or not acting:
        raise AuthorizationError(
            f"{', '.join(strangers) or 'no party'}: not the pledgee of any obligation in book"
            f" {book.content_hash} (its pledgees: {', '.join(book_pledgees) or 'none'}); only"
            " an obligation's pledgee may call or revalue it"
        )
    wanted = [(i, o) for i, o in enumerate(book.obligations) if o.pledgee in acting]
    for refresh in range(max_attempts):
        plan = _plan(ledger, acting, wanted)
        report = functools.partial(_report, book, acting, plan)
        if not plan.commands:
            return report(status=CallStatus.NOTHING_TO_CHANGE)
        command_id = call_command_id(book, plan.replaced)
        act_as = sorted({c.pledgee for c in plan.changes})
        for attempt in range(max_attempts):
            try:
                tx = ledger.submit(
                    plan.commands,
                    act_as=act_as,
                    command_id=command_id,
                    user_id=user_id,
                    submission_id=uuid.uuid4().hex,
                )
                return report(status=CallStatus.COMMITTED, command_id=command_id, offset=tx.offset)
            except DuplicateCommand as dup:
                return report(
                    status=CallStatus.ALREADY_APPLIED,
                    command_id=command_id,
                    offset=dup.completion_offset,
                )
            except ContractNotFound:
                if refresh == max_attempts - 1:
                    raise
                break  # an obligation was replaced first: read again, build again
            except LedgerError as err:
                if not err.retryable or err.retries_exhausted or attempt == max_attempts - 1:
                    raise  # a client that retried by its own policy is not retried again
                time.sleep(backoff_s * 2**attempt)
    raise AssertionError("unreachable")  # pragma: no cover
