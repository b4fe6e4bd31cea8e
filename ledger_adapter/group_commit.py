"""Group commit: submissions that arrive together share one durable database commit.

A submission's cost on the embedded ledger is its Python work (interpretation, rows)
plus one commit, and the commit's fsync is most of it (WAL, ``synchronous=FULL``: one
fsync a commit, whatever it holds). Submitters from several threads (an HTTP server's
request threads, several executors in one process) would otherwise queue behind each
other's fsyncs: while one commit waits on the disk, the others wait on the ledger's
lock. Databases answer this with *group commit* (PostgreSQL's ``commit_delay``; a
Canton participant batches submissions towards its sequencer), and so does the
embedded ledger:

- submitters queue in arrival order; the one at the front (the *leader*) takes the
  ledger's lock, then every submission queued by then (at most :data:`MAX_GROUP`), and
  applies them in order in one database transaction, each inside its own savepoint,
  each at its own offset with its own log row and hash, then commits once;
- a submission refused (contention, authorization, a duplicate) is rolled back to its
  savepoint alone: the others commit; its caller gets its own error;
- no caller is answered before the commit holding its transaction is durable; if that
  commit fails, every member gets the failure (a refused one too: its refusal may rest
  on a group-mate that is not on the ledger) and may resubmit with the same command
  id; where the connection failed at the commit, so that whether it landed cannot be
  known, they are told so (deduplication then reports a landed one as a duplicate);
- a caller interrupted while waiting withdraws its submission unless a leader has
  already taken it (then, as with any interrupted commit, its outcome is unknown to
  it, and resubmitting with the same command id settles it);
- a thread submitting alone is a group of one: no savepoint, the same statements as
  before group commit.

Nothing waits on purpose for others to arrive: a group is what queued while the
previous commit was on the disk, so a lone submitter's latency is unchanged.
"""

from __future__ import annotations

import itertools
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta

from ledger_adapter.errors import InterpretationError, Unavailable
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
    taken: bool = field(default=False)
    """In a group being committed (its caller can no longer withdraw it)."""
    done: bool = field(default=False)
    """Answered: :attr:`outcome` or :attr:`error` is final."""


class GroupCommit:
    """The queue of submitters and the leader's turn (one per ledger).

    As LevelDB's write queue: submitters wait in arrival order; the one at the front
    leads, taking itself and those behind it (at most :data:`MAX_GROUP`) as its group,
    and commits them under the ledger's lock (which keeps readers out of an open
    group); it then answers them, and the next at the front leads. A waiting
    submitter is woken when its group is answered, so a finished caller never waits
    for later groups (Python's lock is not first-come, first-served).
    """

    def __init__(
        self, lock: threading.RLock, commit_group: Callable[[list[Submission]], None]
    ) -> None:
        self._lock = lock
        self._commit_group = commit_group
        self._turn = threading.Condition(threading.Lock())
        self._writers: deque[Submission] = deque()
        self.commits = 0
        """Database commits attempted (groups), for the operator and the tests."""
        self.submissions = 0
        """Submissions those groups held."""
        self._committing = False  # a group is being committed (under the ledger's lock)

    @property
    def queued(self) -> int:
        """Submissions waiting or being committed now."""
        return len(self._writers)

    def submit(self, pending: Submission) -> Transaction:
        """Queue ``pending``; if it reaches the front unanswered, take the ledger's lock,
        then every submission queued by then as its group, and commit them; its outcome."""
        if self._lock._is_owned():  # type: ignore[attr-defined]
            # this thread holds the ledger's lock already: queueing would wait for itself
            if self._committing:  # code a commit runs (a clock, a choice body) submitting
                raise InterpretationError(
                    "submit called while this thread commits a transaction (from a clock"
                    " or a choice body?): a transaction cannot contain another"
                )
            self._commit_alone(pending)  # a caller inside the lock: alone, now
            return _outcome(pending)
        group: list[Submission] = []
        try:
            with self._turn:
                self._writers.append(pending)
                while not pending.done and self._writers[0] is not pending:
                    self._turn.wait()
            if not pending.done:
                with self._lock:  # those queueing while it waits for readers join the group
                    with self._turn:
                        group = list(itertools.islice(self._writers, MAX_GROUP))
                        for member in group:
                            member.taken = True
                    self.commits += 1
                    self.submissions += len(group)
                    self._committing = True
                    try:
                        self._commit_group(group)
                    finally:
                        self._committing = False
        finally:
            if group:
                self._answered(group)
            elif not pending.done:  # interrupted before a group took it: withdraw it
                self._withdraw(pending)
        return _outcome(pending)

    def _commit_alone(self, pending: Submission) -> None:
        pending.taken = True
        try:
            with self._lock:
                self.commits += 1
                self.submissions += 1
                self._committing = True
                try:
                    self._commit_group([pending])
                finally:
                    self._committing = False
        finally:
            if pending.outcome is None and pending.error is None:
                pending.error = _unanswered()
            pending.done = True

    def _withdraw(self, pending: Submission) -> None:
        with self._turn:
            if not pending.taken and pending in self._writers:
                self._writers.remove(pending)
                self._turn.notify_all()

    def _answered(self, group: list[Submission]) -> None:
        """``group`` (the front of the queue) is answered: wake its members and the next."""
        with self._turn:
            try:
                for member in group:
                    if member.outcome is None and member.error is None:  # the leader stopped
                        member.error = _unanswered()
            finally:  # whatever happened above, the queue moves on
                for member in group:
                    self._writers.popleft()
                    member.done = True
                self._turn.notify_all()


def _unanswered() -> Unavailable:
    return Unavailable(
        "the thread committing this submission was interrupted before it could tell"
        " whether it landed: resubmit with the same command id (one that landed is then"
        " reported as a duplicate, within the deduplication window)"
    )


def _outcome(pending: Submission) -> Transaction:
    if pending.error is not None:
        raise pending.error
    if pending.outcome is None:  # pragma: no cover - every path above sets one
        raise Unavailable("the submission was not answered: resubmit with the same command id")
    return pending.outcome


def failed_group(group: list[Submission], error: BaseException, *, landed: bool | None) -> None:
    """The group's database transaction failed with ``error`` and did not commit
    (``landed`` False) or may have (None: the connection failed at the commit). Every
    member fails, those refused on their own too: a refusal may rest on a group-mate's
    effects, which are not on the ledger. Each may be resubmitted with the same
    command id (deduplication applies a transaction that did land at most once)."""
    if landed is False and isinstance(error, Exception):
        shared: BaseException = error
    elif landed is False:
        shared = Unavailable(
            f"the commit was interrupted ({type(error).__name__}); nothing of it is on the"
            " ledger: resubmit with the same command id"
        )
    else:
        shared = Unavailable(
            f"the commit failed ({error!r}) and whether it landed is unknown: resubmit with"
            " the same command id (a transaction that landed is then a duplicate)"
        )
    for member in group:
        member.error = shared
