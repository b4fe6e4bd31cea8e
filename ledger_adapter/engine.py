"""The interpreter: runs commands against the active contracts as a Daml engine would.

Given the submitting parties and a way to load active contracts, :func:`interpret`
evaluates the commands in order and returns the transaction's nodes (creates and
exercises, pre-order, with node ids and each exercise's last descendant), or raises
the error Canton would. Rules (DOMAIN.md section 7; Daml ledger model):

- **Authorization.** Top-level actions are authorized by ``act_as``. A create needs all
  its signatories among the authorizers; an exercise needs all the choice's
  controllers; a fetch needs one authorizer among the contract's stakeholders. Inside a
  choice the authorizers are the contract's signatories plus the choice's controllers.
  Otherwise :class:`~ledger_adapter.errors.AuthorizationError`.
- **Visibility.** A contract is used only if one of ``act_as`` + ``read_as`` is a
  stakeholder; otherwise it is :class:`~ledger_adapter.errors.ContractNotFound`, the
  same answer as for an archived contract, so nothing leaks.
- **Consumption.** A consuming exercise archives its contract before the body runs; a
  later use in the same transaction fails as not found. A contract created and archived
  in the same transaction is *transient* (absent from the ACS delta).
- ``ensure`` and ``abort`` failures are
  :class:`~ledger_adapter.errors.InterpretationError`.

Nodes are JSON-ready dicts with short keys (they are stored as they are):
``{"n": id, "k": "c", "cid", "tpl", "args", "sig", "obs"}`` for a create and
``{"n", "k": "e", "cid", "tpl", "ch", "arg", "act", "cons", "sig", "obs", "last"}``
for an exercise (``sig``/``obs``: the target contract's parties). Exercise results are
not kept (the JSON API's ``exerciseResult`` is optional): a batch's result repeats its
pool, and the log would carry it twice.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, NoReturn

from ledger_adapter.errors import (
    AuthorizationError,
    ContractNotFound,
    InterpretationError,
    InvalidArgument,
)
from ledger_adapter.protocol import Command, CreateAndExerciseCommand, CreateCommand
from ledger_adapter.templates import Args, Template, TypeChecker

CID_PREFIX = "00"
CID_LENGTH = 66  # "00" + 32-byte discriminator in hex, the length of Canton's V1 contract ids
# The discriminator starts with the offset (12 hex) and node id (6 hex), then 23 random
# bytes: ids sort by creation, so a transaction's creates append to one b-tree page.


@dataclass(frozen=True, slots=True)
class Contract:
    """An active contract as the interpreter sees it (immutable once created)."""

    contract_id: str
    template: Template
    args: Args
    signatories: frozenset[str]
    observers: frozenset[str]
    created_offset: int
    stakeholders: frozenset[str] = frozenset()
    """Signatories and observers (filled in by :meth:`of`)."""

    @classmethod
    def of(
        cls,
        contract_id: str,
        template: Template,
        args: Args,
        *,
        signatories: frozenset[str],
        observers: frozenset[str],
        created_offset: int,
    ) -> Contract:
        """A contract with its stakeholders computed once."""
        return cls(
            contract_id,
            template,
            args,
            signatories,
            observers,
            created_offset,
            signatories | observers,
        )


Loader = Callable[[Collection[str]], Mapping[str, Contract]]
"""Loads the *active* contracts among the ids given (absent ids: archived or unknown)."""


@dataclass(frozen=True, slots=True)
class Interpretation:
    """What a transaction does: its nodes, the contracts it creates and archives."""

    nodes: list[dict[str, Any]]
    created: dict[str, Contract]
    """Contracts created and still active at the end (transient ones excluded)."""
    archived: list[str]
    """Contracts that were active before the transaction and are archived by it."""
    results: list[Any]


class _Context:
    """The ``Update`` actions of one choice body, under one set of authorizers."""

    __slots__ = ("_authorizers", "_tx")

    def __init__(self, tx: _Transaction, authorizers: frozenset[str]) -> None:
        self._tx = tx
        self._authorizers = authorizers

    def create(self, template: Template, arguments: Args) -> str:
        return self._tx.create(template, arguments, self._authorizers)

    def exercise(self, template: Template, contract_id: str, choice: str, argument: Args) -> Any:
        return self._tx.exercise(template, contract_id, choice, argument, self._authorizers)

    def fetch(self, template: Template, contract_id: str) -> Args:
        contract = self._tx.use(contract_id, template)
        if contract.stakeholders.isdisjoint(self._authorizers):
            raise AuthorizationError(
                f"fetch of {template.name} {contract_id} needs one of its stakeholders"
                f" {sorted(contract.stakeholders)} among the authorizers {sorted(self._authorizers)}"
            )
        return contract.args

    def abort(self, message: str) -> NoReturn:
        raise InterpretationError(message)


class _Transaction:
    def __init__(
        self,
        templates: Mapping[str, Template],
        load: Loader,
        readers: frozenset[str],
        seed: bytes,
        offset: int,
    ) -> None:
        self.templates = templates
        self.load = load
        self.readers = readers
        self.seed = seed
        self.offset = offset
        self.nodes: list[dict[str, Any]] = []
        self.known: dict[str, Contract] = {}
        self.consumed: dict[str, None] = {}
        self.created_here: dict[str, Contract] = {}

    def prefetch(self, contract_ids: Collection[str], *, depth: int = 1) -> None:
        """Load contracts in one query, then (``depth`` more times) those their arguments
        name, such as a pledge's pledge-column entry: one query instead of one per fetch."""
        missing = [cid for cid in contract_ids if cid not in self.known]
        if not missing:
            return
        loaded = self.load(missing)
        self.known.update(loaded)
        if depth > 0:
            named = {
                contract.args[name]
                for contract in loaded.values()
                for name in contract.template.contract_id_fields
                if contract.args.get(name)
            }
            self.prefetch(named, depth=depth - 1)

    def use(self, contract_id: str, template: Template) -> Contract:
        contract = self.known.get(contract_id)
        if contract is None and contract_id not in self.consumed:
            self.prefetch([contract_id])
            contract = self.known.get(contract_id)
        if (
            contract is None
            or contract_id in self.consumed
            or (
                contract_id not in self.created_here
                and contract.stakeholders.isdisjoint(self.readers)
            )
        ):
            raise ContractNotFound([contract_id])
        if contract.template is not template:
            raise InterpretationError(
                f"contract {contract_id} is a {contract.template.name}, not a {template.name}"
            )
        return contract

    def create(self, template: Template, args: Args, authorizers: frozenset[str]) -> str:
        failure = template.ensure(args)
        if failure is not None:
            raise InterpretationError(f"{template.name}: template precondition violated: {failure}")
        signatories = frozenset(template.signatories(args))
        if not signatories <= authorizers:
            raise AuthorizationError(
                f"create of {template.name} needs signatories {sorted(signatories)};"
                f" authorizers are {sorted(authorizers)}"
            )
        node_id = len(self.nodes)
        cid = (
            f"{CID_PREFIX}{self.offset:012x}{node_id:06x}"
            + hashlib.blake2b(self.seed + node_id.to_bytes(4, "big"), digest_size=23).hexdigest()
        )
        observers = frozenset(template.observers(args)) - signatories
        contract = Contract.of(
            cid,
            template,
            args,
            signatories=signatories,
            observers=observers,
            created_offset=self.offset,
        )
        self.known[cid] = contract
        self.created_here[cid] = contract
        self.nodes.append(
            {
                "n": node_id,
                "k": "c",
                "cid": cid,
                "tpl": template.template_id,
                "args": args,
                "sig": sorted(signatories),
                "obs": sorted(observers),
            }
        )
        return cid

    def exercise(
        self,
        template: Template,
        contract_id: str,
        choice_name: str,
        argument: Args,
        authorizers: frozenset[str],
    ) -> Any:
        contract = self.use(contract_id, template)
        choice = template.choices.get(choice_name)
        if choice is None:
            raise InvalidArgument(
                f"template {template.name} has no choice {choice_name!r}", field="choice"
            )
        controllers = frozenset(choice.controllers(contract.args, argument))
        if not controllers or not controllers <= authorizers:
            raise AuthorizationError(
                f"exercise of {template.name}.{choice_name} on {contract_id} needs controllers"
                f" {sorted(controllers)}; authorizers are {sorted(authorizers)}"
            )
        node = {
            "n": len(self.nodes),
            "k": "e",
            "cid": contract_id,
            "tpl": template.template_id,
            "ch": choice_name,
            "arg": argument,
            "act": sorted(controllers),
            "cons": choice.consuming,
            "sig": sorted(contract.signatories),
            "obs": sorted(contract.observers),
            "last": 0,
        }
        self.nodes.append(node)
        if choice.consuming:
            self.consumed[contract_id] = None
        inner = _Context(self, contract.signatories | controllers)
        result = choice.body(inner, contract_id, contract.args, argument)
        node["last"] = len(self.nodes) - 1
        return result


def _template(templates: Mapping[str, Template], template_id: str) -> Template:
    template = templates.get(template_id)
    if template is None:
        raise InvalidArgument(f"unknown template {template_id!r}", field="templateId")
    return template


def _checked_create_args(
    types: TypeChecker, template: Template, args: Mapping[str, Any], cids: list[str]
) -> Args:
    types.check_record(template.fields, dict(args), "createArguments", cids)
    return {name: args.get(name) for name, _ in template.fields}


def _checked_choice_arg(
    types: TypeChecker,
    template: Template,
    choice: str,
    argument: Mapping[str, Any],
    cids: list[str],
) -> Args:
    spec = template.choices.get(choice)
    if spec is None:
        raise InvalidArgument(f"template {template.name} has no choice {choice!r}", field="choice")
    types.check_record(spec.fields, dict(argument), "choiceArgument", cids)
    return {name: argument.get(name) for name, _ in spec.fields}


def interpret(
    commands: Sequence[Command],
    *,
    act_as: frozenset[str],
    read_as: frozenset[str],
    templates: Mapping[str, Template],
    types: TypeChecker,
    load: Loader,
    seed: bytes,
    offset: int,
) -> Interpretation:
    """Run ``commands`` as one transaction at ``offset``; raise on the first failure.

    ``seed`` (unique per transaction) makes contract ids unique: ``"00"`` + offset +
    node id + BLAKE2b-184(seed, node id), in hex.
    """
    tx = _Transaction(templates, load, act_as | read_as, seed, offset)
    referenced: list[str] = []  # every contract id the commands name, to load in one query
    checked: list[tuple[Command, Template, Args | None, Args | None]] = []
    for command in commands:
        template = _template(templates, command.template_id)
        create_args = choice_arg = None
        if isinstance(command, CreateCommand | CreateAndExerciseCommand):
            create_args = _checked_create_args(types, template, command.arguments, referenced)
        if not isinstance(command, CreateCommand):
            choice_arg = _checked_choice_arg(
                types, template, command.choice, command.argument, referenced
            )
            if not isinstance(command, CreateAndExerciseCommand):
                referenced.append(command.contract_id)
        checked.append((command, template, create_args, choice_arg))
    tx.prefetch(dict.fromkeys(referenced))
    results: list[Any] = []
    for command, template, create_args, choice_arg in checked:
        if isinstance(command, CreateCommand):
            assert create_args is not None
            results.append(tx.create(template, create_args, act_as))
        elif isinstance(command, CreateAndExerciseCommand):
            assert create_args is not None and choice_arg is not None
            cid = tx.create(template, create_args, act_as)
            results.append(tx.exercise(template, cid, command.choice, choice_arg, act_as))
        else:
            assert choice_arg is not None
            results.append(
                tx.exercise(template, command.contract_id, command.choice, choice_arg, act_as)
            )
    created = {cid: c for cid, c in tx.created_here.items() if cid not in tx.consumed}
    archived = [cid for cid in tx.consumed if cid not in tx.created_here]
    return Interpretation(tx.nodes, created, archived, results)
