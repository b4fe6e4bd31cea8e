"""The root of tanpo's errors and the input error every layer raises.

Every error tanpo raises on purpose derives from :class:`TanpoError`, so the CLI and
the HTTP layer can turn it into a one-line message (never a traceback). An
:class:`InputError` always names the record and the field at fault, e.g.
``bonds[2] (JP1103801PC7): maturity_date: '2035-13-20' is not a date (YYYY-MM-DD)``.
"""

from __future__ import annotations

from collections.abc import Sequence


class TanpoError(Exception):
    """Root of every error tanpo raises on purpose."""


class InputError(TanpoError, ValueError):
    """A record of some input has a bad field.

    Parameters
    ----------
    record
        Which record: ``"bonds[2] (JP1103801PC7)"``, ``"obligation JSCC-IRS-IM"``.
    field
        The field at fault, as spelled in the input (``"maturity_date"``).
    message
        What is wrong and, where it helps, how to fix it.
    """

    def __init__(self, record: str, field: str, message: str) -> None:
        self.record = record
        self.field = field
        self.message = message
        super().__init__(f"{record}: {field}: {message}")


class MultipleInputError(TanpoError, ValueError):
    """Several :class:`InputError` found in one input, reported together."""

    def __init__(self, errors: Sequence[InputError]) -> None:
        if not errors:
            raise ValueError("MultipleInputError needs at least one error")
        self.errors = tuple(errors)
        lines = "\n".join(str(e) for e in self.errors)
        super().__init__(f"{len(self.errors)} input error(s):\n{lines}")
