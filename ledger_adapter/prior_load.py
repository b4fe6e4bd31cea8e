"""What an earlier ``tanpo ledger load`` left on the ledger: this book, or another one.

Loading a book is two transactions whose command ids derive from the book's content
hash (``load-<hash>-setup``, ``load-<hash>-pledges``, :func:`ledger_adapter.book.load_book`).
Deduplication alone keeps a re-run of the *same* book from applying twice only inside
the deduplication window (7 days), and never stops a *changed* book (today's, with one
requirement raised or new prices: a new hash): its set-up would have the registrar issue
every holding again (the sample book's face on the ledger doubled, 28.278e12 ->
56.556e12 yen) and create every agreement and obligation a second time. So before it
submits anything, ``load_book`` reads what the book's parties already hold
(:func:`find_prior_load`):

- none of the book's obligations (by pledgee and obligation id), agreements (by
  agreement id) or holdings of its owners: a first load;
- some, and the transaction that created them is this book's set-up (its command id,
  which a ledger shows the submitting parties, as Canton does): the book is loaded, or
  its set-up is and a crash stopped the pledges step, which then runs (found the same
  way: the transaction of ``load-<hash>-pledges`` after the set-up);
- some, created by anything else: :class:`BookConflictError`, nothing written. Moving
  requirements or valuations is ``tanpo ledger call`` (:mod:`ledger_adapter.margin_call`);
  a different book needs a new ledger.

The check reads, then the load writes: two *different* books loaded onto one empty
ledger at the same instant both pass it (Daml 3 has no contract keys to make the
ledger refuse the second). A load is an operator's one-off set-up, not a concurrent
workflow; the same book loaded twice at once by one ledger user is still applied once
(deduplication, whose change id includes the user: two users at once would both pass).
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ledger_adapter.model import HOLDING, MARGIN_OBLIGATION, PLEDGE_AGREEMENT
from ledger_adapter.protocol import CreatedEvent, Ledger
from ledger_adapter.rebalance import agreement_id
from valuation.errors import InputError

if TYPE_CHECKING:
    from ledger_adapter.book import Book

_SHOWN = 5  # names listed in a message before "(+n more)"


def _names(items: Sequence[str]) -> str:
    shown = ", ".join(items[:_SHOWN])
    return shown + (f" (+{len(items) - _SHOWN} more)" if len(items) > _SHOWN else "")


class BookConflictError(InputError):
    """The ledger already holds contracts of the book's parties that this book did not
    create: loading it would issue every holding again. Nothing was written.

    ``obligations`` are the book's obligation ids found on the ledger, ``agreements``
    the agreement ids, ``owners`` the owners of whom the ledger holds holdings.
    """

    def __init__(
        self,
        book_hash: str,
        obligations: Sequence[str],
        agreements: Sequence[str],
        owners: Sequence[str],
    ) -> None:
        self.book_hash = book_hash
        self.obligations = tuple(obligations)
        self.agreements = tuple(agreements)
        self.owners = tuple(owners)
        held = []
        if self.obligations:
            held.append(f"obligations {_names(self.obligations)}")
        if self.agreements:
            held.append(f"agreements {_names(self.agreements)}")
        if self.owners:
            held.append(f"holdings of {_names(self.owners)}")
        super().__init__(
            "book",
            # an agreement is the book's obligations' (pledgor, pledgee, schedule)
            "obligations" if self.obligations or self.agreements else "holdings",
            f"the ledger already holds {'; '.join(held)} from an earlier load of another"
            f" book (this one is {book_hash}); loading it would issue every holding again."
            " To move requirements or valuations use `tanpo ledger call BOOK`; a different"
            " book needs a new ledger",
        )


@dataclass(frozen=True, slots=True)
class PriorLoad:
    """This book's load found on the ledger: its set-up, and its pledges step if any."""

    setup_offset: int
    pledges_offset: int | None
    """``None``: the pledges step is not on the ledger (a crash after the set-up)."""


def _command_at(ledger: Ledger, offset: int, parties: Collection[str]) -> str | None:
    """The command id of the transaction at ``offset`` as ``parties`` see it."""
    for tx in ledger.updates(offset - 1, sorted(parties), end_inclusive=offset):
        return tx.command_id
    return None


def committed_after(
    ledger: Ledger, begin_exclusive: int, parties: Collection[str], command_id: str
) -> int | None:
    """The offset of ``command_id``'s transaction after ``begin_exclusive``, if any.

    Looks at the next transaction first (where a load's second step is unless a crash
    came between), then at the rest of the log.
    """
    end = ledger.ledger_end()
    if begin_exclusive >= end:
        return None
    viewers = sorted(parties)
    for tx in ledger.updates(begin_exclusive, viewers, end_inclusive=begin_exclusive + 1):
        if tx.command_id == command_id:
            return tx.offset
    for tx in ledger.updates(begin_exclusive + 1, viewers, end_inclusive=end):
        if tx.command_id == command_id:
            return tx.offset
    return None


def find_prior_load(
    ledger: Ledger,
    book: Book,
    *,
    setup_command_id: str,
    pledges_command_id: str | None,
    pledgors: Collection[str] = (),
) -> PriorLoad | None:
    """This book's earlier load, ``None`` when the ledger holds nothing of it.

    ``pledges_command_id`` ``None``: the book pledges nothing (no step to look for).

    Raises
    ------
    BookConflictError
        The ledger holds obligations, agreements or holdings of the book's parties
        that this book's set-up did not create.
    """
    owners = {h.owner for h in book.holdings}
    obligations = {(o.pledgee, o.id) for o in book.obligations}
    agreements = {agreement_id(o.pledgor, o.pledgee, o.schedule) for o in book.obligations}
    parties = owners | {o.pledgee for o in book.obligations} | {o.pledgor for o in book.obligations}
    if not parties:
        return None
    found: list[CreatedEvent] = []
    seen: dict[str, set[str]] = {"obligations": set(), "agreements": set(), "owners": set()}
    for c in ledger.active_contracts(sorted(parties), at_offset=ledger.ledger_end()):
        a = c.arguments
        if c.template_id == MARGIN_OBLIGATION.template_id:
            if (a["pledgee"], a["obligationId"]) in obligations:
                seen["obligations"].add(a["obligationId"])
                found.append(c)
        elif c.template_id == PLEDGE_AGREEMENT.template_id:
            if a["agreementId"] in agreements:
                seen["agreements"].add(a["agreementId"])
                found.append(c)
        elif c.template_id == HOLDING.template_id and a["owner"] in owners:
            seen["owners"].add(a["owner"])
            found.append(c)
    if not found:
        return None
    # agreements are never consumed (only archived), so theirs is the set-up's offset;
    # the earliest contract found covers a book without obligations
    candidates = {c.offset for c in found if c.template_id == PLEDGE_AGREEMENT.template_id}
    candidates.add(min(c.offset for c in found))
    for offset in sorted(candidates):
        if _command_at(ledger, offset, parties) == setup_command_id:
            pledges = None
            if pledges_command_id is not None:
                pledges = committed_after(ledger, offset, pledgors or parties, pledges_command_id)
            return PriorLoad(offset, pledges)
    raise BookConflictError(
        book.content_hash,
        sorted(seen["obligations"]),
        sorted(seen["agreements"]),
        sorted(seen["owners"]),
    )
