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

Cost. A 1,000-move plan is ~4,400 nodes in one transaction, so the per-node path is
kept short (``benchmarks/ledger.py``; instruction counts under callgrind): a contract's
parties are computed once per distinct set and shared
(:meth:`Template.parties <ledger_adapter.templates.Template.parties>`), contracts are
named tuples built in C, the implicit ``Archive`` takes a short path, actors and a
body's authorizers are remembered per (parties, controllers), and contract id
discriminators come from a SHAKE-256 stream in blocks of 32 nodes instead of a hash
call per node. The choice bodies themselves (``ledger_adapter/model``) are about half
of what remains. ``PledgeAgreement_Rebalance`` may run as a fused body
(:mod:`ledger_adapter.fused`: its releases and pledges written out, ~9% fewer
instructions for a plan); any failure there reruns the transaction without it, so
errors are always this module's.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple, NoReturn

from ledger_adapter.errors import (
    AuthorizationError,
    ContractNotFound,
    InterpretationError,
    InvalidArgument,
    is_database_failure,
)
from ledger_adapter.protocol import Command, CreateAndExerciseCommand, CreateCommand
from ledger_adapter.templates import Args, ChoiceBody, Stakeholders, Template
from ledger_adapter.typecheck import TypeChecker

CID_PREFIX = "00"
CID_LENGTH = 66  # "00" + 32-byte discriminator in hex, the length of Canton's V1 contract ids
# The discriminator starts with the offset (12 hex) and node id (6 hex), then 23 bytes
# of the transaction's SHAKE-256 stream: ids sort by creation, so a transaction's
# creates append to one b-tree page.
_SUFFIX_HEX = 46  # 23 bytes
_BLOCK = 32  # discriminators drawn from the stream at a time (736 bytes: ~2 us)
_FIRST_DRAW = 8
"""Nodes whose discriminators are drawn first, a prefix of block 0 (184 bytes): a
one-move transaction has 7 nodes, and drawing and writing out the whole block was
~3.7 us of its commit, against ~1.4 (*ad hoc*, timeit). A larger transaction draws
block 0 again, whole (~2 us once)."""
_MAX_NODES = 1 << 24  # the node id's six hex digits
_HEX3 = [f"{i:03x}" for i in range(4096)]  # half a node id (a formatted int costs 3x more)


class Contract(NamedTuple):
    """An active contract as the interpreter sees it (immutable once created)."""

    contract_id: str
    template: Template
    args: Args
    parties: Stakeholders
    created_offset: int

    @property
    def signatories(self) -> frozenset[str]:
        return self.parties.signatories

    @property
    def observers(self) -> frozenset[str]:
        return self.parties.observers

    @property
    def stakeholders(self) -> frozenset[str]:
        return self.parties.all


def new_contract(
    contract_id: str, template: Template, args: Args, parties: Stakeholders, created_offset: int
) -> Contract:
    """A :class:`Contract` (the fields in order; see :data:`_make_contract`)."""
    return _make_contract((contract_id, template, args, parties, created_offset))


_make_contract: Callable[[tuple[str, Template, Args, Stakeholders, int]], Contract] = (
    functools.partial(tuple.__new__, Contract)
)
"""Builds a :class:`Contract` from its fields in C (a named tuple's own ``__new__`` is a
Python function: twice the cost, for each of the ~5,700 contracts of a large plan)."""


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
    created_keys: list[int] = dataclasses.field(default_factory=list)
    """Each of :attr:`created`'s storage keys (offset x 2^24 + node id), in order."""
    created_discriminators: list[bytes] = dataclasses.field(default_factory=list)
    """Each of :attr:`created`'s discriminators (the 23 bytes its id ends with), in
    order: with :attr:`created_keys` what :func:`ledger_adapter.encoding.contract_key`
    would parse from the ids, taken from the interpreter instead (~1 ms of a large
    transaction's commit)."""
    generic_rerun: bool = False
    """A fused body (:mod:`ledger_adapter.fused`) left this transaction to the generic
    interpreter, which ran it again from the start."""


class Fallback(Exception):  # noqa: N818 - a signal, not an error
    """Raised by a fused body for a case it leaves to the generic interpreter."""


FusedBodies = Mapping[ChoiceBody, ChoiceBody]
"""Fused choice bodies by the generic body they stand in for
(:mod:`ledger_adapter.fused`): each produces exactly what the generic body would, or
raises :class:`Fallback`."""


class _Transaction:
    """One transaction being interpreted; also the ``Update`` context of choice bodies.

    ``authorizers`` are those of the action running now: ``act_as`` at the top level,
    the contract's signatories and the choice's controllers inside a choice body (set
    around the body's call, so a body's ``create``/``exercise`` is one call, not two).
    ``known`` holds the contracts this transaction may use: loaded, visible and not
    consumed yet, or created here; ``gone`` those it may not (consumed here, or loaded
    but invisible to the submitting parties), which are never loaded again.
    """

    def __init__(  # noqa: PLR0917
        self,
        load: Loader,
        act_as: frozenset[str],
        readers: frozenset[str],
        seed: bytes,
        offset: int,
        fused: FusedBodies | None = None,
    ) -> None:
        self.load = load
        self.fused = fused
        self.authorizers = act_as
        self.readers = readers
        self.seed = seed
        self.offset = offset
        self.cid_prefix = f"{CID_PREFIX}{offset:012x}"
        self.suffixes = ""
        self.block_end = 0  # the node id after the block that suffixes covers
        self.blocks: dict[int, bytes] = {}  # the stream's blocks drawn, by block number
        self.nodes: list[dict[str, Any]] = []
        self.known: dict[str, Contract] = {}
        self.gone: set[str] = set()
        self.consumed: dict[str, None] = {}
        self.created_here: dict[str, Contract] = {}
        self.created_nodes: list[int] = []  # the node id of each of created_here, in order
        self.authority: dict[tuple[Any, ...], tuple[tuple[str, ...], frozenset[str]]] = {}

    def prefetch(self, contract_ids: Collection[str], *, depth: int = 1) -> None:
        """Load contracts in one query, then (``depth`` more times) those their arguments
        name, such as a pledge's pledge-column entry: one query instead of one per fetch."""
        known, gone = self.known, self.gone
        missing = [cid for cid in contract_ids if cid not in known and cid not in gone]
        if not missing:
            return
        loaded = self.load(missing)
        readers = self.readers
        for cid, contract in loaded.items():
            if contract.parties.all.isdisjoint(readers):
                gone.add(cid)  # not a stakeholder: as if it did not exist
            else:
                known[cid] = contract
        if depth > 0:
            named = {
                contract.args[name]
                for contract in loaded.values()
                for name in contract.template.contract_id_fields
                if contract.args.get(name)
            }
            if named:
                self.prefetch(named, depth=depth - 1)

    def use(self, contract_id: str, template: Template) -> Contract:
        contract = self.known.get(contract_id)
        if contract is None:
            if contract_id not in self.gone:
                self.prefetch([contract_id])
                contract = self.known.get(contract_id)
            if contract is None:
                raise ContractNotFound([contract_id])
        if contract.template is not template:
            raise InterpretationError(
                f"contract {contract_id} is a {contract.template.name}, not a {template.name}"
            )
        return contract

    def _consume(self, contract_id: str) -> None:
        del self.known[contract_id]
        self.gone.add(contract_id)
        self.consumed[contract_id] = None

    # --- the Update actions ---------------------------------------------------------

    def fetch(self, template: Template, contract_id: str) -> Args:
        contract = self.known.get(contract_id)
        if contract is None or contract.template is not template:
            contract = self.use(contract_id, template)  # load it, or raise
        if contract.parties.all.isdisjoint(self.authorizers):
            raise AuthorizationError(
                f"fetch of {template.name} {contract_id} needs one of its stakeholders"
                f" {sorted(contract.parties.all)} among the authorizers {sorted(self.authorizers)}"
            )
        return contract.args

    def abort(self, message: str) -> NoReturn:
        raise InterpretationError(message)

    def create(self, template: Template, args: Args) -> str:
        failure = template.ensure(args)
        if failure is not None:
            raise InterpretationError(f"{template.name}: template precondition violated: {failure}")
        parties = template.parties(args)
        if not parties.signatories <= self.authorizers:
            raise AuthorizationError(
                f"create of {template.name} needs signatories {sorted(parties.signatories)};"
                f" authorizers are {sorted(self.authorizers)}"
            )
        return self.add_create(template, args, parties)

    def add_create(self, template: Template, args: Args, parties: Stakeholders) -> str:
        """The create node of a contract whose ``ensure`` and signatories have been
        checked (by :meth:`create`, or by a fused body that knows they hold)."""
        nodes = self.nodes
        node_id = len(nodes)
        if node_id >= self.block_end:  # draw the block of discriminators that holds node_id
            if node_id >= _MAX_NODES:
                raise InterpretationError(f"a transaction has at most {_MAX_NODES} nodes")
            block = node_id // _BLOCK
            # the first nodes' part of block 0 first (SHAKE's output for a shorter length
            # is a prefix of the longer one's: the same discriminators)
            end = _FIRST_DRAW if node_id < _FIRST_DRAW else (block + 1) * _BLOCK
            stream = hashlib.shake_256(self.seed + block.to_bytes(4, "big"))
            drawn = self.blocks[block] = stream.digest((end - block * _BLOCK) * _SUFFIX_HEX // 2)
            self.suffixes = drawn.hex()
            self.block_end = end
        start = (node_id % _BLOCK) * _SUFFIX_HEX
        high, low = _HEX3[node_id >> 12], _HEX3[node_id & 0xFFF]  # node id: 6 hex digits
        cid = f"{self.cid_prefix}{high}{low}{self.suffixes[start : start + _SUFFIX_HEX]}"
        contract = _make_contract((cid, template, args, parties, self.offset))
        self.known[cid] = contract
        self.created_here[cid] = contract
        self.created_nodes.append(node_id)
        nodes.append(
            {
                "n": node_id,
                "k": "c",
                "cid": cid,
                "tpl": template.template_id,
                "args": args,
                "sig": parties.signatory_list,
                "obs": parties.observer_list,
            }
        )
        return cid

    def exercise(
        self, template: Template, contract_id: str, choice_name: str, argument: Args
    ) -> Any:
        contract = self.known.get(contract_id)
        if contract is None or contract.template is not template:
            contract = self.use(contract_id, template)  # load it, or raise
        choice = template.choices.get(choice_name)
        if choice is None:
            raise InvalidArgument(
                f"template {template.name} has no choice {choice_name!r}", field="choice"
            )
        parties = contract.parties
        authorizers = self.authorizers
        if choice.archive:  # controllers: the signatories; no body, no consequences
            if not parties.signatories <= authorizers:
                raise AuthorizationError(
                    f"exercise of {template.name}.Archive on {contract_id} needs controllers"
                    f" {list(parties.signatory_list)}; authorizers are {sorted(authorizers)}"
                )
            node_id = len(self.nodes)
            self.nodes.append(
                {
                    "n": node_id,
                    "k": "e",
                    "cid": contract_id,
                    "tpl": template.template_id,
                    "ch": choice_name,
                    "arg": argument,
                    "act": parties.signatory_list,
                    "cons": True,
                    "sig": parties.signatory_list,
                    "obs": parties.observer_list,
                    "last": node_id,
                }
            )
            self._consume(contract_id)
            return {}
        controllers = choice.controllers(contract.args, argument)
        if not controllers or not authorizers.issuperset(controllers):
            raise AuthorizationError(
                f"exercise of {template.name}.{choice_name} on {contract_id} needs controllers"
                f" {sorted(set(controllers))}; authorizers are {sorted(authorizers)}"
            )
        key = (parties, *controllers)
        authority = self.authority.get(key)
        if authority is None:  # (actors as stored, the body's authorizers): few distinct
            authority = (tuple(sorted(set(controllers))), parties.signatories.union(controllers))
            self.authority[key] = authority
        nodes = self.nodes
        node = {
            "n": len(nodes),
            "k": "e",
            "cid": contract_id,
            "tpl": template.template_id,
            "ch": choice_name,
            "arg": argument,
            "act": authority[0],
            "cons": choice.consuming,
            "sig": parties.signatory_list,
            "obs": parties.observer_list,
            "last": 0,
        }
        nodes.append(node)
        if choice.consuming:
            del self.known[contract_id]
            self.gone.add(contract_id)
            self.consumed[contract_id] = None
        self.authorizers = authority[1]
        body = choice.body
        if self.fused is not None:
            body = self.fused.get(body, body)
        try:
            result = body(self, contract_id, contract.args, argument)
        finally:
            self.authorizers = authorizers
        node["last"] = len(nodes) - 1
        return result


InterpreterState = _Transaction
"""The interpreter's transaction state, for fused bodies (:mod:`ledger_adapter.fused`)."""


def _template(templates: Mapping[str, Template], template_id: str) -> Template:
    template = templates.get(template_id)
    if template is None:
        raise InvalidArgument(f"unknown template {template_id!r}", field="templateId")
    return template


def _checked_create_args(
    types: TypeChecker, template: Template, args: Mapping[str, Any], cids: list[str]
) -> Args:
    types.check_record(
        template.fields, args if type(args) is dict else dict(args), "createArguments", cids
    )
    get = args.get
    return {name: get(name) for name in template.field_names}  # absent optionals: None


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
    types.check_record(
        spec.fields, argument if type(argument) is dict else dict(argument), "choiceArgument", cids
    )
    get = argument.get
    return {name: get(name) for name in spec.field_names}  # absent optionals: None


_CREATING = (CreateCommand, CreateAndExerciseCommand)


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
    fused: FusedBodies | None = None,
) -> Interpretation:
    """Run ``commands`` as one transaction at ``offset``; raise on the first failure.

    ``seed`` (unique per transaction) makes contract ids unguessable: ``"00"`` + offset
    + node id + 23 bytes of SHAKE-256(seed, block of 32 nodes), in hex.

    ``fused`` bodies run in place of their choices' generic bodies; when one raises
    :class:`Fallback` (a failure, or a case it does not handle), the whole transaction
    is interpreted again without them, so the outcome, failures included, is always
    the generic interpreter's; a database failure the body met is raised as it is
    (:func:`~ledger_adapter.errors.is_database_failure`: interpreting again cannot
    change it, and after SQLite rolled the transaction back it would run outside one).
    """
    readers = act_as | read_as
    if fused:
        try:
            tx = _Transaction(load, act_as, readers, seed, offset, fused)
            return _interpret(commands, templates, types, tx)
        except Fallback as signal:
            if signal.__cause__ is not None and is_database_failure(signal.__cause__):
                raise signal.__cause__ from None  # the generic would meet it too, or worse
            tx = _Transaction(load, act_as, readers, seed, offset)
            return dataclasses.replace(
                _interpret(commands, templates, types, tx), generic_rerun=True
            )
    return _interpret(commands, templates, types, _Transaction(load, act_as, readers, seed, offset))


def _interpret(
    commands: Sequence[Command],
    templates: Mapping[str, Template],
    types: TypeChecker,
    tx: _Transaction,
) -> Interpretation:
    referenced: list[str] = []  # every contract id the commands name, to load in one query
    checked: list[tuple[Command, Template, Args | None, Args | None]] = []
    for command in commands:
        template = _template(templates, command.template_id)
        create_args = choice_arg = None
        if isinstance(command, _CREATING):
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
    for command, template, create_args, choice_arg in checked:  # authorized by act_as
        if isinstance(command, CreateCommand):
            assert create_args is not None
            results.append(tx.create(template, create_args))
        elif isinstance(command, CreateAndExerciseCommand):
            assert create_args is not None and choice_arg is not None
            cid = tx.create(template, create_args)
            results.append(tx.exercise(template, cid, command.choice, choice_arg))
        else:
            assert choice_arg is not None
            results.append(tx.exercise(template, command.contract_id, command.choice, choice_arg))
    consumed, blocks, key_base = tx.consumed, tx.blocks, tx.offset << 24
    created: dict[str, Contract] = {}
    keys: list[int] = []
    discriminators: list[bytes] = []
    width = _SUFFIX_HEX // 2
    for (cid, contract), node_id in zip(tx.created_here.items(), tx.created_nodes, strict=True):
        if cid not in consumed:  # else transient
            created[cid] = contract
            keys.append(key_base | node_id)
            start = (node_id % _BLOCK) * width
            discriminators.append(blocks[node_id // _BLOCK][start : start + width])
    archived = [cid for cid in consumed if cid not in tx.created_here]
    return Interpretation(tx.nodes, created, archived, results, keys, discriminators)
