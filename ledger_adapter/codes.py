"""Small integer codes for the template ids and party sets of stored contracts.

The active contract table stores a contract's template and its (signatories,
observers) as codes into ``templates`` and ``party_sets`` (:mod:`ledger_adapter.storage`):
~60 bytes less per row than the texts, so a 1,000-move plan's 2,842 new contracts and
1,426 archives touch fewer pages. A ledger has a handful of each.

A code, once committed, never changes meaning (rows are only ever added), so the
codes this object has seen committed stay valid whatever other writers do. Codes it
assigns inside a write transaction are *pending* until :meth:`Codes.committed`: a
rolled-back transaction's codes are forgotten (:meth:`Codes.rolled_back`), as the
database forgets them, and another writer may then give those numbers other meanings.
A new code is the largest plus one, assigned under the ledger's write lock. Reading
contracts, the codes of their rows are resolved here too (:meth:`Codes.template_id`,
:meth:`Codes.party_columns`: a row's codes are committed ones), not by joining the code
tables in every query.
"""

from __future__ import annotations

from typing import TypeVar

from ledger_adapter.encoding import stored_parties
from ledger_adapter.storage import Backend
from ledger_adapter.templates import Stakeholders

_LIMIT = 100_000  # remembered entries at most (then looked up again)
K = TypeVar("K")
V = TypeVar("V")


class Codes:
    """Template and party-set codes of one database, as seen by one writer."""

    def __init__(self, db: Backend) -> None:
        self._db = db
        self.templates: dict[str, int] = {}
        """Committed template codes by template id (read freely; see :meth:`template`)."""
        self.party_sets: dict[Stakeholders, int] = {}
        """Committed party-set codes by the shared :class:`Stakeholders` instance."""
        self._pending_templates: dict[str, int] = {}
        self._pending_party_sets: dict[Stakeholders, int] = {}
        self._template_ids: dict[int, str] = {}
        self._party_columns: dict[int, tuple[str, str]] = {}

    def template_id(self, code: int) -> str | None:
        """The template id of a committed ``code`` (``None``: no such code)."""
        found = self._template_ids.get(code)
        if found is None:
            rows = self._db.query("SELECT template_id FROM templates WHERE code = ?", (code,))
            if not rows:
                return None
            found = str(rows[0][0])
            self._remember(self._template_ids, code, found)
        return found

    def party_columns(self, code: int) -> tuple[str, str] | None:
        """The (signatories, observers) columns of a committed party-set ``code``
        (``None``: no such code)."""
        found = self._party_columns.get(code)
        if found is None:
            rows = self._db.query(
                "SELECT signatories, observers FROM party_sets WHERE code = ?", (code,)
            )
            if not rows:
                return None
            found = (str(rows[0][0]), str(rows[0][1]))
            self._remember(self._party_columns, code, found)
        return found

    def template(self, template_id: str) -> int:
        """The code of ``template_id`` (inside a write transaction: may assign one)."""
        code = self.templates.get(template_id) or self._pending_templates.get(template_id)
        if code is not None:
            return code
        found = self._db.query("SELECT code FROM templates WHERE template_id = ?", (template_id,))
        if found:
            code = int(found[0][0])
            self._remember(self.templates, template_id, code)
            return code
        code = self._next("templates")
        self._db.execute(
            "INSERT INTO templates (code, template_id) VALUES (?, ?)", (code, template_id)
        )
        self._pending_templates[template_id] = code
        return code

    def party_set(self, parties: Stakeholders) -> int:
        """The code of ``parties`` (inside a write transaction: may assign one)."""
        code = self.party_sets.get(parties) or self._pending_party_sets.get(parties)
        if code is not None:
            return code
        signatories, observers, stakeholders = stored_parties(parties)
        found = self._db.query(
            "SELECT code FROM party_sets WHERE signatories = ? AND observers = ?",
            (signatories, observers),
        )
        if found:
            code = int(found[0][0])
            self._remember(self.party_sets, parties, code)
            return code
        code = self._next("party_sets")
        self._db.execute(
            "INSERT INTO party_sets (code, signatories, observers, stakeholders)"
            " VALUES (?, ?, ?, ?)",
            (code, signatories, observers, stakeholders),
        )
        self._pending_party_sets[parties] = code
        return code

    def committed(self) -> None:
        """The write transaction committed: its new codes are facts now."""
        for template_id, code in self._pending_templates.items():
            self._remember(self.templates, template_id, code)
        for parties, code in self._pending_party_sets.items():
            self._remember(self.party_sets, parties, code)
        self.rolled_back()

    def mark(self) -> tuple[dict[str, int], dict[Stakeholders, int]]:
        """The codes pending now (a savepoint: :meth:`rolled_back_to`)."""
        return dict(self._pending_templates), dict(self._pending_party_sets)

    def rolled_back_to(self, mark: tuple[dict[str, int], dict[Stakeholders, int]]) -> None:
        """The write transaction rolled back to a savepoint taken at ``mark``: forget
        the codes assigned since."""
        self._pending_templates, self._pending_party_sets = dict(mark[0]), dict(mark[1])

    def rolled_back(self) -> None:
        """The write transaction did not commit: forget the codes it assigned."""
        self._pending_templates.clear()
        self._pending_party_sets.clear()

    def _next(self, table: str) -> int:
        return int(self._db.query(f"SELECT COALESCE(MAX(code), 0) + 1 FROM {table}")[0][0])

    @staticmethod
    def _remember(memo: dict[K, V], key: K, value: V) -> None:
        if len(memo) >= _LIMIT:
            memo.clear()
        memo[key] = value
