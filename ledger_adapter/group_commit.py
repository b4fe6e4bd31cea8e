"""Group commit: submissions that arrive together share one durable database commit.

A submission's cost on the embedded ledger is its Python work (interpretation, rows)
plus one commit, and the commit's fsync is most of it (WAL, ``synchronous=FULL``: one
fsync a commit, whatever it holds). Submitters from several threads (an HTTP server's
request threads, several executors in one process) would otherwise queue behind each
other's fsyncs: while one commit waits on the disk, the others wait on the ledger's
lock. Databases answer this with *group commit* (PostgreSQL's ``commit_delay``; a
Canton participant batches submissions towards its sequencer), and so does the
embedded ledger:

- a submission joins a queue, then takes the ledger's lock; whoever holds the lock
  (the *leader*) takes every submission queued by then (at most :data:`MAX_GROUP`)
  and applies them in arrival order in one database transaction, each inside its own
  savepoint, each at its own offset with its own log row and hash, then commits once;
- a submission that fails (contention, authorization, a duplicate) is rolled back to
  its savepoint alone: the others commit; its caller gets its own error;
- no caller is answered before the commit holding its transaction is durable; if that
  commit fails, every submission in the group gets the failure, none is on the ledger,
  and each may be resubmitted with the same command id;
- a thread submitting alone is a group of one: no savepoint, the same statements as
  before group commit.

Nothing waits on purpose for others to arrive: a group is what queued while the
previous commit was on the disk, so a lone submitter's latency is unchanged.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta

from ledger_adapter.errors import DuplicateCommand, Unavailable
from ledger_adapter.protocol import Command, Transaction, TransactionShape

MAX_GROUP = 64
"""Submissions committed together at most (a leader's own caller waits for them all)."""


@dataclass(slots=True, eq=False)
class Submission:
    """One caller's submission, checked, waiting for its group's commit."""

    commands: list[Command]
    acting: frozenset[str]
    reading: frozenset[str]
    act_key: str
    command_id: str
    user_id: str
    submission_id: str | None
    window: timedelta
    workflow_id: str | None
    shape: TransactionShape
    outcome: Transaction | None = None
    error: BaseException | None = None
    done: bool = field(default=False)


class GroupCommit:
    """The queue and the leader's turn (one per ledger, sharing the ledger's lock)."""

    def __init__(
        self, lock: threading.RLock, commit_group: Callable[[list[Submission]], None]
    ) -> None:
        self._lock = lock
        self._commit_group = commit_group
        self._queue: deque[Submission] = deque()
        self.commits = 0
        """Database commits attempted (groups), for the operator and the tests."""
        self.submissions = 0
        """Submissions those groups held."""

    @property
    def queued(self) -> int:
        """Submissions waiting for a leader now."""
        return len(self._queue)

    def submit(self, pending: Submission) -> Transaction:
        """Queue ``pending``; lead groups until it has been committed; its outcome."""
        self._queue.append(pending)  # deque.append is atomic
        with self._lock:
            while not pending.done:
                group = self._take()
                self.commits += 1
                self.submissions += len(group)
                try:
                    self._commit_group(group)
                finally:
                    for member in group:
                        member.done = True
        if pending.error is not None:
            raise pending.error
        assert pending.outcome is not None
        return pending.outcome

    def _take(self) -> list[Submission]:
        queue = self._queue
        group = [queue.popleft()]
        while queue and len(group) < MAX_GROUP:
            group.append(queue.popleft())
        return group


def failed_group(group: list[Submission], error: BaseException) -> None:
    """The group's database transaction failed with ``error``: nothing of it is on the
    ledger. A submission applied inside it, or not yet reached, fails with ``error``
    (an interruption of the leader's thread: :class:`Unavailable`, to resubmit); one
    answered as a duplicate fails so too (its original may have been in the group); a
    submission refused on its own keeps its own error."""
    shared = (
        error
        if isinstance(error, Exception)
        else Unavailable(
            f"the commit was interrupted ({type(error).__name__}); nothing of it is on the"
            " ledger: resubmit with the same command id"
        )
    )
    for member in group:
        if member.error is None or isinstance(member.error, DuplicateCommand):
            member.error = shared
