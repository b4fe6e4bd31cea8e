"""The Daml model the embedded ledger runs: templates of ``ledger_adapter/daml/Tanpo``.

:data:`TEMPLATES` maps each template id (``#tanpo-collateral:Tanpo.Holding:Holding``)
to its :class:`~ledger_adapter.templates.Template`.
"""

from __future__ import annotations

from ledger_adapter.model.agreement import PLEDGE_AGREEMENT, REBALANCE_BATCH
from ledger_adapter.model.holding import HOLDING
from ledger_adapter.model.obligation import (
    MARGIN_CALL_BATCH,
    MARGIN_OBLIGATION,
    OBLIGATION_COVER,
    cover_of,
)
from ledger_adapter.model.pledge import PLEDGE
from ledger_adapter.model.types import (
    ENUMS,
    HOLDINGS_COLUMN,
    PLEDGE_COLUMN,
    RECORDS,
    TYPES,
    Column,
)
from ledger_adapter.templates import Template

TEMPLATES: dict[str, Template] = {
    t.template_id: t
    for t in (
        HOLDING,
        PLEDGE,
        MARGIN_OBLIGATION,
        OBLIGATION_COVER,
        MARGIN_CALL_BATCH,
        PLEDGE_AGREEMENT,
        REBALANCE_BATCH,
    )
}
"""Every template of the model by template id."""

__all__ = [
    "ENUMS",
    "HOLDING",
    "HOLDINGS_COLUMN",
    "MARGIN_CALL_BATCH",
    "MARGIN_OBLIGATION",
    "OBLIGATION_COVER",
    "PLEDGE",
    "PLEDGE_AGREEMENT",
    "PLEDGE_COLUMN",
    "REBALANCE_BATCH",
    "RECORDS",
    "TEMPLATES",
    "TYPES",
    "Column",
    "Template",
    "cover_of",
]
