"""The embedded ledger's in-memory copy of active contracts, valid at one log head.

A contract's content never changes, only whether it is active, so the interpreter can
keep contracts it has read, parsed, between transactions, as a Canton participant
keeps its contract cache. What makes this safe is *when* the copy is known to be
exact: every cached contract is active at the log head ``(offset, tx_hash)`` the cache
records. Under the write lock, :meth:`EmbeddedLedger.submit
<ledger_adapter.embedded.EmbeddedLedger.submit>` reads the head; if it is not the
cache's head, another writer (or a restore, or an edit) has changed the ledger, and
the cache is emptied. Otherwise a cached contract needs no query: a 1,000-move plan
names ~2,800 contracts, ~8 ms of look-ups on SQLite and as much again to parse them.

It is filled from rows read at a known head: the contracts a transaction loads (inside
its write transaction) and those an active-contracts read at the ledger end returns
(the executor reads the pledgor's state before it submits). Each cached contract has
its own parse of the arguments, never shared with what a caller is handed (a caller
may change the events it gets). A committed transaction removes what it archived and
moves the head; its new contracts are not added (their arguments are the caller's),
except those it is told the next transaction reads (an obligation's cover, recreated
by every step that moves the obligation's pledges), each with its own copy of the
arguments.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from ledger_adapter.encoding import loads, parties_of_columns
from ledger_adapter.engine import Contract, new_contract
from ledger_adapter.templates import Template

Head = tuple[int, str]
"""(offset, tx_hash) of the newest log row; (0, genesis hash) on an empty ledger."""

ContractRow = tuple[str, str, str, str, str, int]
"""(contract_id, template_id, arguments JSON, signatories, observers, created_offset)."""

DEFAULT_CAPACITY = 200_000
"""Contracts kept at most (then the cache starts again empty)."""


_CONTAINERS = (dict, list)  # (a union written in the comprehension is built per item)


class ContractCache:
    """Active contracts by id, exact at :attr:`head` (``None``: knows nothing)."""

    def __init__(self, templates: Mapping[str, Template], capacity: int = DEFAULT_CAPACITY) -> None:
        self._templates = templates
        self._capacity = capacity
        self._contracts: dict[str, Contract] = {}
        self.head: Head | None = None

    def __len__(self) -> int:
        return len(self._contracts)

    def at(self, head: Head) -> None:
        """The ledger is at ``head`` now: keep what is known only if it is the same head."""
        if self.head != head:
            self._contracts.clear()
            self.head = head

    def invalidate(self) -> None:
        """The ledger may have changed in a way not yet seen (a commit in flight)."""
        self.head = None

    def split(self, contract_ids: Iterable[str]) -> tuple[dict[str, Contract], list[str]]:
        """The cached contracts among ``contract_ids`` and the ids to read."""
        contracts = self._contracts
        found: dict[str, Contract] = {}
        missing: list[str] = []
        for cid in contract_ids:
            contract = contracts.get(cid)
            if contract is None:
                missing.append(cid)
            else:
                found[cid] = contract
        return found, missing

    def parse(self, row: ContractRow) -> Contract | None:
        """A stored row as a :class:`Contract` (``None``: a template this build lacks)."""
        cid, template_id, arguments, signatories, observers, created_offset = row
        template = self._templates.get(template_id)
        if template is None:
            return None
        parties = parties_of_columns(signatories, observers)
        return new_contract(cid, template, loads(arguments), parties, created_offset)

    def add(self, contracts: Mapping[str, Contract]) -> None:
        """Remember ``contracts``, read at :attr:`head` (parsed by :meth:`parse`)."""
        if len(self._contracts) + len(contracts) > self._capacity:
            self._contracts.clear()
        self._contracts.update(contracts)

    def add_rows(self, rows: Iterable[ContractRow], head: Head) -> None:
        """Remember the contracts of ``rows``, read at ``head`` (already cached ones are kept)."""
        self.at(head)
        contracts = self._contracts
        fresh: dict[str, Contract] = {}
        for row in rows:
            if row[0] not in contracts:
                contract = self.parse(row)
                if contract is not None:
                    fresh[row[0]] = contract
        if len(contracts) + len(fresh) <= self._capacity:
            contracts.update(fresh)

    def committed(self, archived: Iterable[str], head: Head, kept: Iterable[Contract] = ()) -> None:
        """A transaction we wrote committed at ``head``, archiving ``archived`` and
        creating ``kept`` among others (copied one level deep: the model's arguments
        are flat or hold one map or list of text)."""
        contracts = self._contracts
        for cid in archived:
            contracts.pop(cid, None)
        for c in kept:
            args = {k: v.copy() if isinstance(v, _CONTAINERS) else v for k, v in c.args.items()}
            contracts[c.contract_id] = new_contract(
                c.contract_id, c.template, args, c.parties, c.created_offset
            )
        self.head = head
