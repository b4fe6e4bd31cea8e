"""The optimizer's problem: securities, positions, schedules, obligations, costs, limits.

A :class:`Problem` is the *definition* of one optimization run as the problem contract
(issue "Part 2") states it; :mod:`optimizer.contract` parses and validates the JSON
form into it, and :mod:`optimizer.costmodel` resolves it into flat arrays for the
kernels and the model.

Units: face amounts in integer yen, prices per 100 face (dirty), money in yen,
opportunity costs in basis points per year of market value, rates as decimals.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date

from valuation.haircuts import HaircutSchedule
from valuation.jgb import Jgb


@dataclass(frozen=True, slots=True)
class Security:
    """A JGB as the optimizer sees it: the term sheet plus today's price and cost.

    Parameters
    ----------
    bond
        The definition (ISIN, kind, coupon, maturity).
    dirty_price
        Price per 100 face including accrued interest (from ``clean_price`` when the
        input gives that: clean + :func:`valuation.accrued.accrued_interest`); for a
        JGBi per 100 of *adjusted* principal, as the market quotes it.
    opportunity_cost_bp
        What pledging it costs the owner, in basis points per year of market value
        (repo specialness or internal funding value; DOMAIN.md section 5).
    clean_price
        The clean price when the input gave one (kept for the report).
    scenario_dirty_prices
        Dirty prices under named stress scenarios (``{"up100": 95.2}``), for the
        stress-robust cover.
    index_ratio
        The JGBi indexation coefficient (1 for every other kind): market value =
        face x index_ratio x dirty_price / 100 (DOMAIN.md section 3;
        :mod:`valuation.inflation`).
    """

    bond: Jgb
    dirty_price: float
    opportunity_cost_bp: float
    clean_price: float | None = None
    scenario_dirty_prices: Mapping[str, float] = field(default_factory=dict)
    index_ratio: float = 1.0

    @property
    def isin(self) -> str:
        """The bond's ISIN."""
        return self.bond.isin


@dataclass(frozen=True, slots=True)
class Position:
    """What one owner holds of one ISIN in one account, merged over its input rows.

    Parameters
    ----------
    owner, account, isin
        The position's key.
    face
        Total face held (free and pledged parts), integer yen.
    pledged
        Face pledged now, by obligation id.
    """

    owner: str
    account: str
    isin: str
    face: int
    pledged: Mapping[str, int] = field(default_factory=dict)

    @property
    def key(self) -> tuple[str, str, str]:
        """``(owner, account, isin)``."""
        return (self.owner, self.account, self.isin)

    @property
    def pledged_face(self) -> int:
        """Face pledged now to any obligation."""
        return sum(self.pledged.values())

    @property
    def free_face(self) -> int:
        """Face not pledged now."""
        return self.face - self.pledged_face


@dataclass(frozen=True, slots=True)
class Obligation:
    """A margin obligation: a pledgor owes a pledgee collateral worth ``required_value``.

    Parameters
    ----------
    id
        Obligation id (``"JSCC-IRS-IM"``).
    pledgor, pledgee
        Who pledges (an owner of positions) and who receives.
    schedule
        Id of the :class:`~valuation.haircuts.HaircutSchedule` that prices the cover.
    required_value
        Collateral value required, yen.
    lot_face
        Face moves in whole multiples of this (yen).
    min_pledge_face
        A (account, ISIN) pledged at all carries at least this face (``None``: one lot).
    max_isins
        At most this many distinct ISINs pledged (``None``: no cap).
    min_transfer_value
        Each move (pledge or release) carries at least this market value in yen,
        except a release of the whole pledge (``None``: no minimum).
    stress_scenarios
        Scenario names under which the cover must also hold (stress-robust cover).
    """

    id: str
    pledgor: str
    pledgee: str
    schedule: str
    required_value: float
    lot_face: int
    min_pledge_face: int | None = None
    max_isins: int | None = None
    min_transfer_value: float | None = None
    stress_scenarios: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Costs:
    """Cost parameters of the objective.

    Parameters
    ----------
    horizon_days
        How long the allocation stays (opportunity cost accrues over this).
    move_cost
        Yen per move (settlement fee and operations).
    shortfall_penalty_per_yen
        Penalty per yen of required value left uncovered.
    """

    horizon_days: float = 1.0
    move_cost: float = 0.0
    shortfall_penalty_per_yen: float = 1.0


@dataclass(frozen=True, slots=True)
class Limits:
    """Operational limits: ``max_moves`` caps the moves of one run (``None``: no cap)."""

    max_moves: int | None = None


@dataclass(frozen=True, slots=True)
class SolverOptions:
    """How hard to try.

    Parameters
    ----------
    time_limit_s
        Wall-clock budget of the whole optimize call.
    mip_rel_gap
        Stop once (objective - bound) / objective is at most this.
    threads
        Solver threads (``None``: HiGHS decides).
    seed
        Random seed for the solver, so runs repeat.
    """

    time_limit_s: float = 30.0
    mip_rel_gap: float = 1e-4
    threads: int | None = None
    seed: int = 0


@dataclass(frozen=True, slots=True)
class Problem:
    """One optimization run, validated (build it with :func:`optimizer.contract.parse_problem`)."""

    settlement_date: date
    securities: tuple[Security, ...]
    positions: tuple[Position, ...]
    schedules: Mapping[str, HaircutSchedule]
    obligations: tuple[Obligation, ...]
    costs: Costs = Costs()
    limits: Limits = Limits()
    solver: SolverOptions = SolverOptions()
    _security_index: dict[str, int] = field(init=False, repr=False, compare=False)
    _obligation_index: dict[str, int] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(
            self, "_security_index", {s.isin: i for i, s in enumerate(self.securities)}
        )
        object.__setattr__(
            self, "_obligation_index", {o.id: i for i, o in enumerate(self.obligations)}
        )

    def security(self, isin: str) -> Security:
        """The security with this ISIN (``KeyError`` when unknown)."""
        return self.securities[self._security_index[isin]]

    def security_index(self, isin: str) -> int:
        """Position of the ISIN in :attr:`securities`."""
        return self._security_index[isin]

    def obligation(self, obligation_id: str) -> Obligation:
        """The obligation with this id (``KeyError`` when unknown)."""
        return self.obligations[self._obligation_index[obligation_id]]

    def obligation_index(self, obligation_id: str) -> int:
        """Position of the obligation in :attr:`obligations`."""
        return self._obligation_index[obligation_id]
