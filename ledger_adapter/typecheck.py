"""Checks command values against Daml types, as a Daml engine type-checks its input.

Commands come from outside (the CLI, the JSON API), so every create argument and choice
argument is checked against the template's or choice's fields before interpretation:
``Party``, ``Text``, ``Int`` (Int64 as a decimal string), ``Decimal`` (Numeric 10),
``Bool``, ``ContractId T``, ``Optional T``, ``[T]``, ``TextMap T``, ``()``, the enums and
the records of the model (a type in parentheses, ``Optional (TextMap Decimal)``, as itself), in the Daml-LF JSON encoding (:mod:`ledger_adapter.protocol`).

Two forms of each check. The *detailed* check is a tree of closures that raises
:class:`~ledger_adapter.errors.InvalidArgument` naming the field at fault
(``choiceArgument.steps[0].pledges[3].face``). The *fast* check is a predicate compiled
once per record type into straight-line Python (one function per record, lists and
optionals as inline loops): a 1,000-move plan's argument has ~1,400 records, and the
closures cost a call per field. A value the fast check refuses is checked again by the
detailed one, which says why; the two are held together by tests.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from ledger_adapter.errors import InvalidArgument
from ledger_adapter.templates import Record

_INT64 = re.compile(r"-?[0-9]{1,19}")
_NUMERIC = re.compile(r"-?[0-9]{1,28}(\.[0-9]{1,10})?")
INT64_MAX = 2**63 - 1
INT64_MIN = -(2**63)

Check = Callable[[Any, list[str]], None]
"""A compiled check: raises on a bad value, appends the contract ids it meets."""

Predicate = Callable[[Any, list[str]], bool]
"""A fast check: whether a value fits; appends the contract ids it meets."""


class _BadValueError(Exception):
    """A value does not fit its type; ``path`` grows as the error leaves containers."""

    def __init__(self, message: str) -> None:
        self.message = message
        self.path: list[str] = []


class TypeChecker:
    """Checks values against Daml types written as in the ``.daml`` source.

    Understands ``Party``, ``Text``, ``Int``, ``Decimal``, ``Bool``, ``ContractId T``,
    ``Optional T``, ``[T]``, ``TextMap T``, ``()``, the enums and the records given.
    Each type is compiled once; a check collects the contract ids it meets (what the
    interpreter prefetches in one query) and builds the path to a bad field only when
    it fails.
    """

    def __init__(self, enums: Mapping[str, frozenset[str]], records: Mapping[str, Record]):
        self._enums = enums
        self._records = records
        self._compiled: dict[str, Check] = {}
        self._by_fields: dict[tuple[tuple[str, str], ...], tuple[Predicate, Check]] = {}
        self._fast = _FastCompiler(enums, records)

    def check_record(
        self,
        fields: Sequence[tuple[str, str]],
        value: object,
        where: str,
        contract_ids: list[str] | None = None,
    ) -> None:
        """Check an object against record ``fields``: no missing, no unknown field."""
        key = tuple(fields)
        compiled = self._by_fields.get(key)
        if compiled is None:
            compiled = self._by_fields[key] = (
                self._fast.record(key),
                self._record_check(key),
            )
        cids = contract_ids if contract_ids is not None else []
        before = len(cids)
        if compiled[0](value, cids):
            return
        del cids[before:]
        self._run(compiled[1], value, where, cids)  # raises, naming the field

    def fast_check(self, fields: Sequence[tuple[str, str]]) -> Predicate:
        """The fast check of a record with ``fields`` (for tests)."""
        return self._fast.record(tuple(fields))

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
        if len(t) > 2 and t.startswith("(") and t.endswith(")"):  # (TextMap Decimal)
            return self.compile(t[1:-1])
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
                if not INT64_MIN <= int(value) <= INT64_MAX:
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
                if not isinstance(value, str) or value not in allowed:
                    raise _BadValueError(f"{value!r} is not one of {', '.join(sorted(allowed))}")

            return enum
        if t in self._records:
            return self._record_check(self._records[t].fields)
        raise AssertionError(f"unknown Daml type {t!r}")  # a registry bug, not bad input


def _int64(text: str) -> bool:
    """An Int64 in its JSON encoding (a decimal string in range)."""
    return _INT64.fullmatch(text) is not None and (
        len(text) < 19 or INT64_MIN <= int(text) <= INT64_MAX
    )


class _FastCompiler:
    """Compiles Daml types into predicates: one generated function per record type.

    The generated code is straight-line: per field one ``get`` (a required field that
    is absent gets ``_absent``, which no test accepts: no separate ``in`` test) and one
    ``isinstance`` or regular-expression test; lists, optionals and text maps are inline loops; a
    nested record is a call to its own function. It must accept exactly what the
    detailed check accepts (tests hold the two together).
    """

    def __init__(self, enums: Mapping[str, frozenset[str]], records: Mapping[str, Record]):
        self._enums = enums
        self._records = records
        self._functions: dict[tuple[tuple[str, str], ...], Predicate] = {}
        self._namespace: dict[str, Any] = {
            "_int64": _int64,
            "_int64_text": _INT64.fullmatch,
            "_numeric": _NUMERIC.fullmatch,
            "_absent": object(),
        }
        self._counter = 0

    def record(self, fields: tuple[tuple[str, str], ...]) -> Predicate:
        found = self._functions.get(fields)
        if found is not None:
            return found
        self._counter += 1
        name = f"_record_{self._counter}"
        self._namespace[f"{name}_names"] = frozenset(n for n, _ in fields)
        lines = [
            f"def {name}(value, cids):",
            f"    if not isinstance(value, dict) or not {name}_names.issuperset(value):",
            "        return False",
        ]
        for i, (field_name, daml_type) in enumerate(fields):
            var = f"f{i}"
            t = daml_type.strip()
            if t.startswith("Optional "):  # an absent optional field is None
                lines.append(f"    {var} = value.get({field_name!r})")
            else:  # absent: _absent, which no check below accepts
                lines.append(f"    {var} = value.get({field_name!r}, _absent)")
            lines.extend(self._statements(t, var, 1))
        lines.append("    return True")
        exec("\n".join(lines), self._namespace)  # our own templates' field names (repr'd)
        function: Predicate = self._namespace[name]
        self._functions[fields] = function
        return function

    def _statements(self, t: str, var: str, depth: int) -> list[str]:
        """Lines that ``return False`` unless ``var`` fits ``t`` (at indent ``depth``)."""
        pad = "    " * depth
        fail = f"{pad}    return False"
        if len(t) > 2 and t.startswith("(") and t.endswith(")"):  # (TextMap Decimal)
            return self._statements(t[1:-1].strip(), var, depth)
        if t.startswith("Optional "):
            inner = self._statements(t.removeprefix("Optional ").strip(), var, depth + 1)
            return [f"{pad}if {var} is not None:", *inner] if inner else []
        if t.startswith("[") and t.endswith("]"):
            item = f"{var}_"
            return [
                f"{pad}if not isinstance({var}, list):",
                fail,
                f"{pad}for {item} in {var}:",
                *(self._statements(t[1:-1].strip(), item, depth + 1) or [f"{pad}    pass"]),
            ]
        if t.startswith("TextMap "):
            item = f"{var}_"
            inner = self._statements(t.removeprefix("TextMap ").strip(), item, depth + 1)
            return [
                f"{pad}if not isinstance({var}, dict):",
                fail,
                f"{pad}for {item} in {var}.values():",
                *(inner or [f"{pad}    pass"]),
            ]
        if t.startswith("ContractId "):
            return [
                f"{pad}if not isinstance({var}, str) or not {var}:",
                fail,
                f"{pad}cids.append({var})",
            ]
        if t == "Party":
            return [f"{pad}if not isinstance({var}, str) or not {var} or ',' in {var}:", fail]
        if t == "Text":
            return [f"{pad}if not isinstance({var}, str):", fail]
        if t == "Int":  # _int64 inline: a call less for the usual short text
            return [
                f"{pad}if not isinstance({var}, str) or _int64_text({var}) is None"
                f" or (len({var}) >= 19 and not _int64({var})):",
                fail,
            ]
        if t == "Decimal":
            return [f"{pad}if not isinstance({var}, str) or _numeric({var}) is None:", fail]
        if t == "Bool":
            return [f"{pad}if not isinstance({var}, bool):", fail]
        if t == "()":
            return [f"{pad}if {var} not in (None, {{}}):", fail]
        if t in self._enums:
            enum = f"_enum_{len(self._namespace)}"
            self._namespace[enum] = self._enums[t]
            return [f"{pad}if not isinstance({var}, str) or {var} not in {enum}:", fail]
        if t in self._records:
            function = f"_call_{len(self._namespace)}"
            self._namespace[function] = self.record(self._records[t].fields)
            return [f"{pad}if not {function}({var}, cids):", fail]
        raise AssertionError(f"unknown Daml type {t!r}")  # a registry bug, not bad input
