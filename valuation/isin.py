"""ISIN check digits for Japanese securities.

An ISIN is ``JP`` + a 9-character national code + one check digit. Letters map to
10..35 (A=10, ..., Z=35); the check digit is the Luhn (mod 10) digit over the resulting
string of digits (ISO 6166; SICC code specification). ``JP1103451GC0`` and
``JP1300041009`` are valid.
"""

from __future__ import annotations

import re

from valuation.errors import InputError

_ISIN_RE = re.compile(r"^[A-Z]{2}[A-Z0-9]{9}[0-9]$")


def _digits(body: str) -> str:
    return "".join(str(int(ch, 36)) for ch in body)


def isin_check_digit(body: str) -> int:
    """The check digit for the first 11 characters of an ISIN.

    >>> isin_check_digit("JP1103451GC")
    0
    """
    if len(body) != 11 or not body.isalnum() or body.upper() != body:
        raise ValueError(f"ISIN body must be 11 upper-case letters/digits, got {body!r}")
    digits = _digits(body)
    total = 0
    # Luhn: from the rightmost digit of the body, double every other digit (the check
    # digit itself would sit to the right, so the rightmost body digit is doubled).
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2 == 0:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return (10 - total % 10) % 10


def make_isin(body: str) -> str:
    """``body`` (11 characters, e.g. ``"JP1103451GC"``) with its check digit appended."""
    return f"{body}{isin_check_digit(body)}"


def is_valid_isin(isin: str) -> bool:
    """Whether ``isin`` has the ISIN shape and a correct check digit."""
    if not _ISIN_RE.match(isin):
        return False
    return isin_check_digit(isin[:11]) == int(isin[11])


def check_isin(isin: str, record: str) -> str:
    """Return ``isin`` if valid, else raise :class:`InputError` naming ``record``."""
    if not isinstance(isin, str) or not _ISIN_RE.match(isin):
        raise InputError(
            record, "isin", f"{isin!r} is not an ISIN (2 letters, 9 characters, 1 digit)"
        )
    expected = isin_check_digit(isin[:11])
    if expected != int(isin[11]):
        raise InputError(
            record, "isin", f"{isin!r} has check digit {isin[11]}, expected {expected}"
        )
    return isin
