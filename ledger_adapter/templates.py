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


class TypeChecker:
    """Checks values against Daml types written as in the ``.daml`` source.

    Understands ``Party``, ``Text``, ``Int``, ``Decimal``, ``Bool``, ``ContractId T``,
    ``Optional T``, ``[T]``, ``TextMap T``, ``()``, the enums and the records given.
    """

    def __init__(self, enums: Mapping[str, frozenset[str]], records: Mapping[str, Record]):
        self._enums = enums
        self._records = records

    def check_record(self, fields: Sequence[tuple[str, str]], value: object, where: str) -> None:
        """Check an object against record ``fields``: no missing, no unknown field."""
        if not isinstance(value, dict):
            raise InvalidArgument(f"expected a record object, got {value!r}", field=where)
        names = {name for name, _ in fields}
        unknown = sorted(set(value) - names)
        if unknown:
            raise InvalidArgument(f"unknown field(s) {unknown}", field=where)
        for name, daml_type in fields:
            if name not in value and not daml_type.startswith("Optional "):
                raise InvalidArgument("missing field", field=f"{where}.{name}")
            self.check(daml_type, value.get(name), f"{where}.{name}")

    def check(self, daml_type: str, value: object, where: str) -> None:
        """Check one value; raise :class:`InvalidArgument` naming ``where`` on mismatch."""
        t = daml_type.strip()
        if t.startswith("Optional "):
            if value is not None:
                self.check(t.removeprefix("Optional "), value, where)
        elif t.startswith("[") and t.endswith("]"):
            if not isinstance(value, list):
                raise InvalidArgument(f"expected a list, got {value!r}", field=where)
            for i, item in enumerate(value):
                self.check(t[1:-1], item, f"{where}[{i}]")
        elif t.startswith("TextMap "):
            if not isinstance(value, dict):
                raise InvalidArgument(f"expected an object (TextMap), got {value!r}", field=where)
            for key, item in value.items():
                self.check(t.removeprefix("TextMap "), item, f"{where}[{key}]")
        elif t in ("Party", "Text") or t.startswith("ContractId "):
            if not isinstance(value, str) or (t != "Text" and not value):
                raise InvalidArgument(f"expected a {t} string, got {value!r}", field=where)
        elif t == "Int":
            if not isinstance(value, str) or not _INT64.fullmatch(value):
                raise InvalidArgument(f"expected an Int64 as a string, got {value!r}", field=where)
            if abs(int(value)) > INT64_MAX:
                raise InvalidArgument(f"{value} overflows Int64", field=where)
        elif t == "Decimal":
            if not isinstance(value, str) or not _NUMERIC.fullmatch(value):
                raise InvalidArgument(
                    f"expected a Numeric 10 as a string, got {value!r}", field=where
                )
        elif t == "Bool":
            if not isinstance(value, bool):
                raise InvalidArgument(f"expected true or false, got {value!r}", field=where)
        elif t == "()":
            if value not in (None, {}):
                raise InvalidArgument(f"expected unit {{}}, got {value!r}", field=where)
        elif t in self._enums:
            if value not in self._enums[t]:
                allowed = ", ".join(sorted(self._enums[t]))
                raise InvalidArgument(f"{value!r} is not one of {allowed}", field=where)
        elif t in self._records:
            self.check_record(self._records[t].fields, value, where)
        else:  # pragma: no cover - a registry bug, not bad input
            raise AssertionError(f"unknown Daml type {t!r} at {where}")


def decimal_of(text: str, where: str) -> Decimal:
    """A Daml ``Decimal`` (JSON string) as :class:`~decimal.Decimal`."""
    try:
        return Decimal(text)
    except (InvalidOperation, TypeError) as exc:
        raise InvalidArgument(f"{text!r} is not a decimal", field=where) from exc
