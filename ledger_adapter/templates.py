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

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any, NoReturn, Protocol

from ledger_adapter.errors import InvalidArgument

PACKAGE_NAME = "tanpo-collateral"
"""The Daml package (``daml.yaml`` ``name``); template ids reference it by name."""

Args = dict[str, Any]
"""A record value (contract arguments, choice argument) in the Daml-LF JSON encoding."""

_INT64 = re.compile(r"-?[0-9]{1,19}")
_NUMERIC = re.compile(r"-?[0-9]{1,28}(\.[0-9]{1,10})?")
INT64_MAX = 2**63 - 1


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


@dataclass(frozen=True, slots=True)
class Template:
    """One Daml template as the embedded ledger runs it."""

    module: str
    name: str
    fields: tuple[tuple[str, str], ...]
    signatories: Parties
    observers: Parties
    ensure: Callable[[Args], str | None]
    choices: Mapping[str, Choice] = field(default_factory=dict)

    contract_id_fields: tuple[str, ...] = ()
    """Fields holding one contract id (``ContractId T``): what a fetch will follow."""

    def __post_init__(self) -> None:
        found = tuple(name for name, t in self.fields if t.startswith("ContractId "))
        object.__setattr__(self, "contract_id_fields", found)

    @property
    def template_id(self) -> str:
        """``#<package-name>:<Module>:<Entity>`` (package-name reference format)."""
        return f"#{PACKAGE_NAME}:{self.module}:{self.name}"

    def with_archive(self) -> Template:
        """This template with Daml's implicit ``Archive`` choice (controllers: signatories)."""
        archive = Choice(
            name="Archive",
            fields=(),
            result_type="()",
            consuming=True,
            controllers=lambda args, _arg: self.signatories(args),
            body=lambda _ctx, _cid, _args, _arg: {},
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


# --- value checks (top-level commands come from outside and are validated) ---------


Check = Callable[[Any, list[str]], None]
"""A compiled check: raises on a bad value, appends the contract ids it meets."""


class _BadValueError(Exception):
    """A value does not fit its type; ``path`` grows as the error leaves containers."""

    def __init__(self, message: str) -> None:
        self.message = message
        self.path: list[str] = []


class TypeChecker:
    """Checks values against Daml types written as in the ``.daml`` source.

    Understands ``Party``, ``Text``, ``Int``, ``Decimal``, ``Bool``, ``ContractId T``,
    ``Optional T``, ``[T]``, ``TextMap T``, ``()``, the enums and the records given.
    Each type is compiled once into a closure; a check collects the contract ids it
    meets (what the interpreter prefetches in one query) and builds the path to a bad
    field only when it fails.
    """

    def __init__(self, enums: Mapping[str, frozenset[str]], records: Mapping[str, Record]):
        self._enums = enums
        self._records = records
        self._compiled: dict[str, Check] = {}

    def check_record(
        self,
        fields: Sequence[tuple[str, str]],
        value: object,
        where: str,
        contract_ids: list[str] | None = None,
    ) -> None:
        """Check an object against record ``fields``: no missing, no unknown field."""
        check = self._record_check(tuple(fields))
        self._run(check, value, where, contract_ids)

    def check(
        self, daml_type: str, value: object, where: str, contract_ids: list[str] | None = None
    ) -> None:
        """Check one value; raise :class:`InvalidArgument` naming ``where`` on mismatch."""
        self._run(self.compile(daml_type), value, where, contract_ids)

    @staticmethod
    def _run(check: Check, value: object, where: str, contract_ids: list[str] | None) -> None:
        try:
            check(value, contract_ids if contract_ids is not None else [])
        except _BadValueError as bad:
            raise InvalidArgument(bad.message, field=where + "".join(reversed(bad.path))) from None

    def compile(self, daml_type: str) -> Check:
        """The check of ``daml_type`` (compiled once)."""
        t = daml_type.strip()
        check = self._compiled.get(t)
        if check is None:
            check = self._compile(t)
            self._compiled[t] = check
        return check

    def _record_check(self, fields: tuple[tuple[str, str], ...]) -> Check:
        key = "{" + ";".join(f"{n}:{t}" for n, t in fields) + "}"
        check = self._compiled.get(key)
        if check is not None:
            return check
        names = frozenset(name for name, _ in fields)
        parts = [(name, t.startswith("Optional "), self.compile(t)) for name, t in fields]

        def record(value: Any, cids: list[str]) -> None:
            if not isinstance(value, dict):
                raise _BadValueError(f"expected a record object, got {value!r}")
            if not names.issuperset(value):
                raise _BadValueError(f"unknown field(s) {sorted(set(value) - names)}")
            for name, optional, inner in parts:
                if name not in value and not optional:
                    bad = _BadValueError("missing field")
                    bad.path.append(f".{name}")
                    raise bad
                try:
                    inner(value.get(name), cids)
                except _BadValueError as bad:
                    bad.path.append(f".{name}")
                    raise

        self._compiled[key] = record
        return record

    def _compile(self, t: str) -> Check:
        if t.startswith("Optional "):
            inner = self.compile(t.removeprefix("Optional "))

            def optional(value: Any, cids: list[str]) -> None:
                if value is not None:
                    inner(value, cids)

            return optional
        if t.startswith("[") and t.endswith("]"):
            item_check = self.compile(t[1:-1])

            def list_of(value: Any, cids: list[str]) -> None:
                if not isinstance(value, list):
                    raise _BadValueError(f"expected a list, got {value!r}")
                for i, item in enumerate(value):
                    try:
                        item_check(item, cids)
                    except _BadValueError as bad:
                        bad.path.append(f"[{i}]")
                        raise

            return list_of
        if t.startswith("TextMap "):
            value_check = self.compile(t.removeprefix("TextMap "))

            def text_map(value: Any, cids: list[str]) -> None:
                if not isinstance(value, dict):
                    raise _BadValueError(f"expected an object (TextMap), got {value!r}")
                for key, item in value.items():
                    try:
                        value_check(item, cids)
                    except _BadValueError as bad:
                        bad.path.append(f"[{key}]")
                        raise

            return text_map
        if t.startswith("ContractId "):

            def contract_id(value: Any, cids: list[str]) -> None:
                if not isinstance(value, str) or not value:
                    raise _BadValueError(f"expected a {t} string, got {value!r}")
                cids.append(value)

            return contract_id
        if t in ("Party", "Text"):
            nonempty = t == "Party"

            def text(value: Any, _cids: list[str]) -> None:
                if not isinstance(value, str) or (nonempty and (not value or "," in value)):
                    raise _BadValueError(f"expected a {t} string, got {value!r}")

            return text
        if t == "Int":

            def int64(value: Any, _cids: list[str]) -> None:
                if not isinstance(value, str) or not _INT64.fullmatch(value):
                    raise _BadValueError(f"expected an Int64 as a string, got {value!r}")
                if abs(int(value)) > INT64_MAX:
                    raise _BadValueError(f"{value} overflows Int64")

            return int64
        if t == "Decimal":

            def numeric(value: Any, _cids: list[str]) -> None:
                if not isinstance(value, str) or not _NUMERIC.fullmatch(value):
                    raise _BadValueError(f"expected a Numeric 10 as a string, got {value!r}")

            return numeric
        if t == "Bool":

            def boolean(value: Any, _cids: list[str]) -> None:
                if not isinstance(value, bool):
                    raise _BadValueError(f"expected true or false, got {value!r}")

            return boolean
        if t == "()":

            def unit(value: Any, _cids: list[str]) -> None:
                if value not in (None, {}):
                    raise _BadValueError(f"expected unit {{}}, got {value!r}")

            return unit
        if t in self._enums:
            allowed = self._enums[t]

            def enum(value: Any, _cids: list[str]) -> None:
                if value not in allowed:
                    raise _BadValueError(f"{value!r} is not one of {', '.join(sorted(allowed))}")

            return enum
        if t in self._records:
            return self._record_check(self._records[t].fields)
        raise AssertionError(f"unknown Daml type {t!r}")  # a registry bug, not bad input


def decimal_of(text: str, where: str) -> Decimal:
    """A Daml ``Decimal`` (JSON string) as :class:`~decimal.Decimal`."""
    try:
        return Decimal(text)
    except (InvalidOperation, TypeError) as exc:
        raise InvalidArgument(f"{text!r} is not a decimal", field=where) from exc
