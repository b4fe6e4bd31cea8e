"""A stored transaction as some parties see it: the projection (DOMAIN.md section 7).

Daml's ledger model: a party sees an action when it is an *informee* of it, and then
it sees the action's whole subtree. Informees of a create: the contract's stakeholders;
of a consuming exercise: the contract's stakeholders and the actors; of a
non-consuming exercise: its signatories and the actors. Two shapes (Canton
``TransactionShape``):

- ledger effects: every create and exercise whose witnesses (informees of the node or
  of an ancestor) include a requested party, with ``witness_parties`` = those parties;
- ACS delta: the created contracts that survive the transaction and the archived
  contracts that existed before it, visible to the requested parties that are their
  stakeholders (Canton's ACS-delta witness rule).
"""

from __future__ import annotations

import dataclasses
import functools
import gc
from collections.abc import Callable, Collection, Mapping, Sequence
from datetime import datetime
from typing import Any, TypeVar

from ledger_adapter.protocol import (
    ArchivedEvent,
    CreatedEvent,
    Event,
    ExercisedEvent,
    Transaction,
    TransactionShape,
)

Node = Mapping[str, Any]
T = TypeVar("T")


def _builder(cls: type[T]) -> Callable[..., T]:
    """A positional constructor of the frozen, slotted dataclass ``cls``: an instance of
    a plain slotted twin (the same slots in the same order, so the same layout), built
    by stores the interpreter specializes, then made a ``cls`` (``__class__``
    assignment, which Python allows between classes of the same layout). A third of
    the cost of the generated ``__init__``, which goes through ``object.__setattr__``
    by name for each field, and half that of setting each slot through its descriptor
    (*ad hoc*, timeit: 1,900 / 1,020 / 590 ns for a :class:`CreatedEvent`; a plan's
    commit returns ~4,300 events). Only for classes without ``__post_init__``
    (nothing to check)."""
    assert dataclasses.is_dataclass(cls) and not hasattr(cls, "__post_init__")
    names = [f.name for f in dataclasses.fields(cls)]
    assert tuple(getattr(cls, "__slots__", ())) == tuple(names)  # the twin's layout
    fields = ", ".join(names)
    source = (
        f"class _Twin:\n    __slots__ = {tuple(names)!r}\n"
        f"    def __init__(self, {fields}):\n"
        + "".join(f"        self.{name} = {name}\n" for name in names)
        + f"def build({fields}):\n    made = _Twin({fields})\n    made.__class__ = _cls\n"
        "    return made\n"
    )
    namespace: dict[str, Any] = {"_cls": cls}
    exec(source, namespace)  # field names of our own dataclass
    build: Callable[..., T] = namespace["build"]
    return build


_created_event = _builder(CreatedEvent)
_archived_event = _builder(ArchivedEvent)


def informees(node: Node) -> frozenset[str]:
    """The parties informed of ``node`` itself (not counting its ancestors)."""
    if node["k"] == "c" or node["cons"]:
        return frozenset(node["sig"]) | frozenset(node["obs"]) | frozenset(node.get("act", ()))
    return frozenset(node["sig"]) | frozenset(node["act"])


def witnesses(nodes: Sequence[Node]) -> list[frozenset[str]]:
    """For each node, the parties that see it: its informees and its ancestors'."""
    out: list[frozenset[str]] = []
    stack: list[tuple[int, frozenset[str]]] = []  # (last descendant, witnesses) of open exercises
    for node in nodes:
        n = node["n"]
        while stack and stack[-1][0] < n:
            stack.pop()
        seen = informees(node) | (stack[-1][1] if stack else frozenset())
        out.append(seen)
        if node["k"] == "e" and node["last"] > n:
            stack.append((node["last"], seen))
    return out


def project(
    *,
    offset: int,
    update_id: str,
    command_id: str | None,
    submitters: frozenset[str],
    workflow_id: str | None,
    effective_at: datetime,
    nodes: Sequence[Node],
    parties: frozenset[str],
    shape: TransactionShape,
    delta: tuple[Collection[str], Collection[str]] | None = None,
    deferred: bool = False,
) -> Transaction:
    """The transaction as ``parties`` see it (possibly without events).

    ``delta`` (the interpreter's: contracts created and still active, contracts
    archived that existed before) saves finding them in the nodes again. ``deferred``:
    the events are projected when first read (:class:`_DeferredTransaction`), so a
    submit returns without building them (~4,300 events for a 1,000-move plan) and a
    caller that reads them does so outside the ledger's lock.
    """
    events = functools.partial(_events, offset, effective_at, nodes, parties, shape, delta)
    command = command_id if submitters & parties else None
    if deferred:
        return _DeferredTransaction.of(
            update_id=update_id,
            offset=offset,
            effective_at=effective_at,
            command_id=command,
            workflow_id=workflow_id,
            compute=events,
        )
    return Transaction(
        update_id=update_id,
        offset=offset,
        effective_at=effective_at,
        record_time=effective_at,
        events=events(),
        command_id=command,
        workflow_id=workflow_id,
    )


def _events(  # noqa: PLR0917 - called through one partial, in this order
    offset: int,
    effective_at: datetime,
    nodes: Sequence[Node],
    parties: frozenset[str],
    shape: TransactionShape,
    delta: tuple[Collection[str], Collection[str]] | None,
) -> tuple[Event, ...]:
    """The events of :func:`project`."""
    events: list[Event] = []
    wit: tuple[str, ...]
    if shape is TransactionShape.LEDGER_EFFECTS:
        for node, seen in zip(nodes, witnesses(nodes), strict=True):
            wit = tuple(sorted(seen & parties))
            if wit:
                events.append(_event(node, offset, effective_at, wit))
        return tuple(events)
    if delta is None:
        created = {node["cid"] for node in nodes if node["k"] == "c"}
        consumed = {node["cid"] for node in nodes if node["k"] == "e" and node["cons"]}
        alive: Collection[str] = created - consumed
        gone: Collection[str] = consumed - created
    else:
        alive, gone = delta[0], set(delta[1])
    (single,) = parties if len(parties) == 1 else (None,)
    for node in nodes:
        cid = node["cid"]
        created = node["k"] == "c"
        if cid not in alive if created else cid not in gone or not node["cons"]:
            continue
        sig, obs = node["sig"], node["obs"]
        if single is not None:  # the usual case: one submitting party, no sorting
            if single not in sig and single not in obs:
                continue
            wit = (single,)
        else:
            wit = tuple(sorted(p for p in parties if p in sig or p in obs))
            if not wit:
                continue
        n, tpl = node["n"], node["tpl"]
        if created:
            args = node["args"]
            events.append(
                _created_event(offset, n, cid, tpl, args, tuple(sig), tuple(obs), wit, effective_at)
            )
        else:
            events.append(_archived_event(offset, n, cid, tpl, wit))
    return tuple(events)


_FIELDS = tuple(f.name for f in dataclasses.fields(Transaction))
_SLOTS: dict[str, Any] = {name: vars(Transaction)[name] for name in _FIELDS}
"""The slots of :class:`Transaction` (member descriptors), to set and read them directly."""


class _DeferredTransaction(Transaction):
    """A :class:`Transaction` whose ``events`` are projected on first access.

    The same value in every way a caller can tell: ``events`` is the same tuple, it
    equals (both ways) and hashes as the eager transaction with the same fields, its
    ``repr`` and pickle are a :class:`Transaction`'s. The nodes are kept until the
    events are made.
    """

    __slots__ = ("_compute",)

    @classmethod
    def of(
        cls,
        *,
        update_id: str,
        offset: int,
        effective_at: datetime,
        command_id: str | None,
        workflow_id: str | None,
        compute: Callable[[], tuple[Event, ...]],
    ) -> _DeferredTransaction:
        tx = object.__new__(cls)
        _set_update_id(tx, update_id)
        _set_offset(tx, offset)
        _set_effective_at(tx, effective_at)
        _set_record_time(tx, effective_at)
        _set_command_id(tx, command_id)
        _set_workflow_id(tx, workflow_id)
        _COMPUTE.__set__(tx, compute)
        return tx

    @property
    def events(self) -> tuple[Event, ...]:
        events: tuple[Event, ...]
        compute = _COMPUTE.__get__(self)  # None once made or given (two threads may both
        # make them: equal)
        if compute is None:
            events = _get_events(self)
            return events
        paused = gc.isenabled()  # as inside submit: thousands of acyclic objects
        if paused:
            gc.disable()
        try:
            events = compute()
        finally:
            if paused:
                gc.enable()
        _SLOTS["events"].__set__(self, events)
        _COMPUTE.__set__(self, None)  # let the nodes go
        return events

    @events.setter
    def events(self, value: tuple[Event, ...]) -> None:  # dataclasses.replace's __init__
        _SLOTS["events"].__set__(self, value)
        _COMPUTE.__set__(self, None)

    def eager(self) -> Transaction:
        """The same transaction as a plain :class:`Transaction`."""
        return Transaction(*(getattr(self, name) for name in _FIELDS))

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Transaction):
            return NotImplemented
        return all(getattr(self, n) == getattr(other, n) for n in _FIELDS)

    def __hash__(self) -> int:
        return hash(self.eager())

    def __repr__(self) -> str:
        return repr(self.eager())

    def __reduce__(self) -> tuple[Any, ...]:
        return (Transaction, tuple(getattr(self, name) for name in _FIELDS))


_COMPUTE: Any = vars(_DeferredTransaction)["_compute"]
_get_events = _SLOTS["events"].__get__
_set_update_id = _SLOTS["update_id"].__set__
_set_offset = _SLOTS["offset"].__set__
_set_effective_at = _SLOTS["effective_at"].__set__
_set_record_time = _SLOTS["record_time"].__set__
_set_command_id = _SLOTS["command_id"].__set__
_set_workflow_id = _SLOTS["workflow_id"].__set__


def _event(node: Node, offset: int, effective_at: datetime, wit: tuple[str, ...]) -> Event:
    if node["k"] == "c":
        return CreatedEvent(
            offset=offset,
            node_id=node["n"],
            contract_id=node["cid"],
            template_id=node["tpl"],
            arguments=node["args"],
            signatories=tuple(node["sig"]),
            observers=tuple(node["obs"]),
            witness_parties=wit,
            created_at=effective_at,
        )
    return ExercisedEvent(
        offset=offset,
        node_id=node["n"],
        contract_id=node["cid"],
        template_id=node["tpl"],
        choice=node["ch"],
        argument=node["arg"],
        acting_parties=tuple(node["act"]),
        consuming=node["cons"],
        witness_parties=wit,
        last_descendant_node_id=node["last"],
    )
