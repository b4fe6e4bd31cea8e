"""One parser for every closed set tanpo reads from input (STYLE: a StrEnum with a parser).

A :class:`ClosedSet` is a :class:`~enum.StrEnum` whose ``parse`` reads a member from
input text, ignoring case and surrounding blanks, and names the record and field of
anything else in an :class:`~valuation.errors.InputError` listing what is allowed.
Every enum that reads input (bond kinds, JGB programs, plan move actions, optimize
methods) derives from it instead of carrying its own copy of the parser.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Self

from valuation.errors import InputError


class ClosedSet(StrEnum):
    """A StrEnum read from input; :meth:`noun` names it in messages (default: the class
    name in lower case)."""

    @classmethod
    def noun(cls) -> str:
        """What one member is called in an error message and as the default field."""
        return cls.__name__.lower()

    @classmethod
    def parse(cls, value: object, record: str = "input", field: str | None = None) -> Self:
        """The member named by ``value`` (any case), or an :class:`InputError` on
        ``record``/``field`` (default field: :meth:`noun`) listing the members."""
        text = str(value).strip().casefold()
        for member in cls:
            if member.value.casefold() == text:
                return member
        known = ", ".join(m.value for m in cls)
        raise InputError(
            record, field or cls.noun(), f"unknown {cls.noun()} {value!r}; expected one of {known}"
        )
