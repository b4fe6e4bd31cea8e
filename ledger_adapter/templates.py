"""How a Daml template is written down for the embedded ledger: fields, parties, choices.

A :class:`Template` is the embedded ledger's reading of one ``template`` in
``ledger_adapter/daml/``: the same name, fields (with their Daml types), signatories,
observers, ``ensure`` clause and choices (name, argument fields, controllers,
consuming or not, body). A choice body is a Python function over an
:class:`UpdateContext`, the counterpart of Daml's ``Update`` monad (``create``,
``exercise``, ``fetch``, ``abort``); the interpreter (:mod:`ledger_adapter.engine`)
enforces authorization and visibility around it exactly as a Daml engine does.

Values are in the Daml-LF JSON encoding (:mod:`ledger_adapter.protocol`): ``Int`` as a
decimal string, ``Decimal`` as a decimal string, ``Optional`` as ``null`` or the value,
enums by constructor name, records as objects, ``TextMap`` as an object.
"""

from __future__ import annotations

import functools
import operator
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, NoReturn, Protocol

PACKAGE_NAME = "tanpo-collateral"
"""The Daml package (``daml.yaml`` ``name``); template ids reference it by name."""

Args = dict[str, Any]
"""A record value (contract arguments, choice argument) in the Daml-LF JSON encoding."""


class UpdateContext(Protocol):
    """What a choice body may do: Daml's ``Update`` actions."""

    def create(self, template: Template, arguments: Args) -> str:
        """``create``: a new contract; returns its id."""
        ...

    def exercise(self, template: Template, contract_id: str, choice: str, argument: Args) -> Any:
        """``exercise``: run ``choice`` on ``contract_id``; returns the choice's result."""
        ...

    def fetch(self, template: Template, contract_id: str) -> Args:
        """``fetch``: an active contract's arguments."""
        ...

    def abort(self, message: str) -> NoReturn:
        """``assertMsg``/``abort``: fail the whole transaction with ``message``."""
        ...


Parties = Callable[[Args], Sequence[str]]
ChoiceParties = Callable[[Args, Args], Sequence[str]]
ChoiceBody = Callable[[UpdateContext, str, Args, Args], Any]


@dataclass(frozen=True, slots=True)
class Record:
    """A Daml ``data`` record type used in choice arguments (``PledgeOrder``...)."""

    name: str
    fields: tuple[tuple[str, str], ...]


@dataclass(frozen=True, slots=True)
class Choice:
    """One choice: ``choice <name> : <result_type> with <fields> controller ... do <body>``.

    ``controllers`` sees the contract's arguments and the choice argument (Daml's
    flexible controllers).
    """

    name: str
    fields: tuple[tuple[str, str], ...]
    result_type: str
    consuming: bool
    controllers: ChoiceParties
    body: ChoiceBody
    archive: bool = False
    """Daml's implicit ``Archive``: controllers the signatories, no body (the
    interpreter takes a short path for it: a plan archives ~500 pledges)."""
    field_names: tuple[str, ...] = field(init=False, default=())
    """The argument's field names, in order."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "field_names", tuple(name for name, _ in self.fields))


@dataclass(frozen=True, slots=True, eq=False)
class Stakeholders:
    """A contract's parties; one shared instance per distinct (signatories, observers).

    Compared and hashed by identity (instances are shared through :func:`stakeholders`),
    so it is a cheap key for what is derived from it.
    """

    signatories: frozenset[str]
    observers: frozenset[str]
    """Observers that are not signatories."""
    all: frozenset[str]
    signatory_list: tuple[str, ...]
    """Signatories, sorted (as stored and shown)."""
    observer_list: tuple[str, ...]


@functools.lru_cache(maxsize=4096)
def stakeholders(signatories: tuple[str, ...], observers: tuple[str, ...]) -> Stakeholders:
    """The shared :class:`Stakeholders` of a contract (a memo: few distinct sets exist)."""
    sig = frozenset(signatories)
    obs = frozenset(observers) - sig
    return Stakeholders(sig, obs, sig | obs, tuple(sorted(sig)), tuple(sorted(obs)))


_MEMO_LIMIT = 4096


@dataclass(frozen=True, slots=True, eq=False)
class Template:
    """One Daml template as the embedded ledger runs it.

    Compared by identity: the interpreter checks a contract's template with ``is``.
    """

    module: str
    name: str
    fields: tuple[tuple[str, str], ...]
    signatories: Parties
    observers: Parties
    ensure: Callable[[Args], str | None]
    choices: Mapping[str, Choice] = field(default_factory=dict)

    field_names: tuple[str, ...] = field(init=False, default=())
    """The contract arguments' field names, in order."""
    contract_id_fields: tuple[str, ...] = field(init=False, default=())
    """Fields holding one contract id (``ContractId T``): what a fetch will follow."""
    template_id: str = field(init=False, default="")
    """``#<package-name>:<Module>:<Entity>`` (package-name reference format)."""
    party_fields: tuple[str, ...] = field(init=False, default=())
    """Fields whose type holds parties: what signatories and observers are computed from."""
    _party_key: Callable[[Args], Any] = field(init=False, repr=False, default=lambda _a: None)
    _party_memo: dict[Any, Stakeholders] = field(init=False, repr=False, default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "field_names", tuple(name for name, _ in self.fields))
        found = tuple(name for name, t in self.fields if t.startswith("ContractId "))
        object.__setattr__(self, "contract_id_fields", found)
        object.__setattr__(self, "template_id", f"#{PACKAGE_NAME}:{self.module}:{self.name}")
        party_fields = tuple(name for name, t in self.fields if "Party" in t)
        object.__setattr__(self, "party_fields", party_fields)
        if party_fields:
            object.__setattr__(self, "_party_key", operator.itemgetter(*party_fields))

    def parties(self, args: Args) -> Stakeholders:
        """The signatories and observers of a contract with ``args``.

        Every template here computes them from its party-typed fields alone (a test
        holds this), so they are remembered by those fields' values: one dictionary
        look-up per create instead of two calls, two sets and a sort.
        """
        try:
            key = self._party_key(args)
            found = self._party_memo.get(key)
        except (KeyError, TypeError):  # a field missing or unhashable (a list of parties)
            return stakeholders(tuple(self.signatories(args)), tuple(self.observers(args)))
        if found is None:
            found = stakeholders(tuple(self.signatories(args)), tuple(self.observers(args)))
            if len(self._party_memo) >= _MEMO_LIMIT:
                self._party_memo.clear()
            self._party_memo[key] = found
        return found

    def with_archive(self) -> Template:
        """This template with Daml's implicit ``Archive`` choice (controllers: signatories)."""
        archive = Choice(
            name="Archive",
            fields=(),
            result_type="()",
            consuming=True,
            controllers=lambda args, _arg: self.signatories(args),
            body=lambda _ctx, _cid, _args, _arg: {},
            archive=True,
        )
        return Template(
            self.module,
            self.name,
            self.fields,
            self.signatories,
            self.observers,
            self.ensure,
            {**self.choices, "Archive": archive},
        )
