"""Daml ``Tanpo.Pledge``: one obligation's security interest in one pledge-column entry.

Signatories pledgor and pledgee; ``holdingCid`` is the pledge-column ``Holding`` that
perfects it (the same face). It has no choices of its own: the pledge agreement, which
both signed, archives it on release, substitution or enforcement.
"""

from __future__ import annotations

from ledger_adapter.templates import Template

PLEDGE = Template(
    module="Tanpo.Pledge",
    name="Pledge",
    fields=(
        ("pledgor", "Party"),
        ("pledgee", "Party"),
        ("obligationId", "Text"),
        ("account", "Text"),
        ("isin", "Text"),
        ("face", "Int"),
        ("holdingCid", "ContractId Holding"),
    ),
    signatories=lambda a: [a["pledgor"], a["pledgee"]],
    observers=lambda a: [],
    ensure=lambda a: None if int(a["face"]) > 0 else "face must be positive",
).with_archive()
