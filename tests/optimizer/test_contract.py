"""The problem contract: parsing, merging split holdings, and errors naming the record."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from optimizer.contract import load_problem, parse_problem
from tests.optimizer.factory import LOT, bond, holding, isin, obligation, problem
from valuation.errors import InputError, MultipleInputError


def _base() -> dict:
    return problem(
        [bond(1, opportunity_cost_bp=2.0), bond(2, opportunity_cost_bp=5.0)],
        [holding(1, 10), holding(2, 5, pledged_to="IM"), holding(2, 3)],
        [obligation("IM", 4)],
    )


def test_valid_problem_parses_and_merges_split_holdings() -> None:
    p = parse_problem(_base())
    assert [s.isin for s in p.securities] == [isin(1), isin(2)]
    positions = {pos.isin: pos for pos in p.positions}
    assert len(p.positions) == 2
    merged = positions[isin(2)]
    assert merged.face == 8 * LOT and merged.pledged == {"IM": 5 * LOT}
    assert merged.free_face == 3 * LOT
    assert p.obligation("IM").lot_face == LOT


def _errors(data: dict) -> list[InputError]:
    with pytest.raises((InputError, MultipleInputError)) as info:
        parse_problem(data)
    exc = info.value
    return list(exc.errors) if isinstance(exc, MultipleInputError) else [exc]


@pytest.mark.parametrize(
    ("mutate", "record", "field", "words"),
    [
        (lambda d: d["holdings"][1].update(face=LOT + 5), "holdings[1]", "face", "not a multiple"),
        (lambda d: d["holdings"][0].update(isin=isin(7)), "holdings[0]", "isin", "unknown ISIN"),
        (lambda d: d["obligations"][0].update(schedule="NOPE"), "obligations[0] (IM)", "schedule", "unknown schedule"),
        (lambda d: d["holdings"][0].update(face=-LOT), "holdings[0]", "face", "negative"),
        (lambda d: d["obligations"][0].update(pledgor="GHOST"), "obligations[0] (IM)", "pledgor", "holds nothing"),
        (lambda d: d["holdings"][1].update(pledged_to="XX"), "holdings[1]", "pledged_to", "unknown obligation"),
        (lambda d: d["securities"][0].update(opportunity_cost_bp=-1), "securities[0]", "opportunity_cost_bp", "negative"),
        (lambda d: d["obligations"][0].update(required_value=-5), "obligations[0] (IM)", "required_value", "negative"),
        (lambda d: d["securities"][0].pop("dirty_price"), "securities[0]", "dirty_price", "missing"),
        (lambda d: d["securities"][1].update(isin=isin(1)), "securities[1]", "isin", "duplicate"),
        (lambda d: d["obligations"][0].update(lot_face=0), "obligations[0] (IM)", "lot_face", ">= 1"),
        (lambda d: d["schedules"][0]["haircuts"][0].update(haircut=1.5), "schedules[0] (S) haircuts[0]", "haircut", "above"),
        (lambda d: d["costs"].update(move_cost=-1), "costs", "move_cost", "negative"),
        (lambda d: d["securities"][0].update(maturity_date="2026-11-01"), "securities[0]", "maturity_date", "not after"),
        (lambda d: d.update(settlement_date=20261125), "problem", "settlement_date", "not a date"),
        (lambda d: d["securities"][0].update(maturity_date="2035/09/20"), "securities[0]", "maturity_date", "not a date"),
        (lambda d: d["holdings"][0].update(face=float("nan")), "holdings[0]", "face", "not finite"),
        (lambda d: d["holdings"][0].update(face="100000000"), "holdings[0]", "face", "not a number"),
        (lambda d: d["holdings"][0].update(face=100_000_000.5), "holdings[0]", "face", "whole number"),
        (lambda d: d["holdings"][0].pop("owner"), "holdings[0]", "owner", "missing"),
        (lambda d: d["holdings"][0].update(account=7), "holdings[0]", "account", "non-empty string"),
        (lambda d: d["obligations"].append(dict(d["obligations"][0])), "obligations[1] (IM)", "id", "duplicate"),
        (lambda d: d["schedules"].append(dict(d["schedules"][0])), "schedules[1] (S)", "id", "duplicate"),
        (lambda d: d["securities"][0].update(kind="inflation"), "securities[0]", "index_ratio", "missing"),
        (lambda d: d["securities"][0].update(kind="inflation", index_ratio=float("nan")), "securities[0]", "index_ratio", "positive ratio"),
        (lambda d: d["securities"][0].update(index_ratio=1.02), "securities[0]", "index_ratio", "given for a fixed"),
        (lambda d: d["schedules"][0].update(kind_haircuts={"fixed": 0.01}), "schedules[0] (S)", "kind_haircuts[fixed]", "list"),
        (lambda d: d["schedules"][0].update(excluded_isins=[5]), "schedules[0] (S)", "excluded_isins[0]", "not an ISIN"),
        (lambda d: d["securities"][0].update(kind="bond"), "securities[0]", "kind", "unknown kind"),
        (lambda d: d.update(holdings={"owner": "BANK"}), "problem", "holdings", "must be a list"),
        (lambda d: d["holdings"].__setitem__(0, ["BANK"]), "holdings[0]", "(record)", "expected an object"),
    ],
)  # fmt: skip
def test_bad_input_names_record_and_field(mutate, record: str, field: str, words: str) -> None:
    data = _base()
    mutate(data)
    errors = _errors(data)
    assert any(
        e.record.startswith(record) and e.field == field and words in e.message for e in errors
    ), errors


def test_every_bad_record_is_reported_together() -> None:
    data = _base()
    data["holdings"][0]["face"] = -1
    data["holdings"][1]["isin"] = isin(7)
    data["obligations"][0]["schedule"] = "NOPE"
    errors = _errors(data)
    # holdings[1] is pledged to IM, whose own error is not repeated as "unknown obligation"
    assert not any("unknown obligation" in e.message for e in errors), errors
    assert {e.record.split(" ")[0] for e in errors} >= {
        "holdings[0]",
        "holdings[1]",
        "obligations[0]",
    }


def test_pledge_to_another_pledgors_obligation_is_refused() -> None:
    data = _base()
    data["holdings"].append(holding(1, 1, owner="OTHER", pledged_to="IM"))
    errors = _errors(data)
    assert any(e.field == "pledged_to" and "owed by BANK" in e.message for e in errors)


def test_clean_price_becomes_dirty_with_jgb_accrued_interest() -> None:
    """Coupon 1% paid 20 Mar/Sep, settlement 2026-11-25: 66 days since 20 Sep.

    Accrued = 1.0 x 66 / 365 = 0.1808219 (truncated to 7 decimals), so dirty = 99.5 + that.
    """
    data = _base()
    del data["securities"][0]["dirty_price"]
    data["securities"][0]["clean_price"] = 99.5
    p = parse_problem(data)
    assert p.securities[0].dirty_price == pytest.approx(99.5 + 0.1808219, abs=1e-9)


def test_load_problem_reports_bad_json_with_the_file(tmp_path: Path) -> None:
    path = tmp_path / "p.json"
    path.write_text("{not json")
    with pytest.raises(InputError, match=r"p\.json"):
        load_problem(path)
    path.write_text(json.dumps(_base()))
    assert load_problem(path).obligations[0].id == "IM"


def test_pledgor_holding_nothing_names_its_own_row_after_a_bad_one() -> None:
    """obligations[0] is bad (unknown schedule); obligations[1] owed by GHOST is named
    as obligations[1], not by its place among the valid ones."""
    data = _base()
    data["obligations"].insert(0, obligation("BAD", 1, schedule_id="NOPE"))
    data["obligations"][1]["pledgor"] = "GHOST"
    errors = _errors(data)
    assert any(e.record == "obligations[1] (IM)" and e.field == "pledgor" for e in errors), errors


def test_jgbi_takes_its_index_ratio_and_clean_price() -> None:
    """A JGBi (coupon 0.5%, paid 10 Mar/Sep) settling 2026-11-25: 76 days since 10 Sep,
    accrued 0.5 x 76 / 365 = 0.1041095 per 100 of adjusted principal, so clean 101.0
    gives dirty 101.1041095; the index ratio 1.06 scales money, not the price."""
    data = _base()
    data["securities"][0].update(kind="inflation", coupon_rate=0.005, maturity_date="2034-03-10",
                                 index_ratio=1.06, clean_price=101.0)  # fmt: skip
    del data["securities"][0]["dirty_price"]
    security = parse_problem(data).securities[0]
    assert security.index_ratio == 1.06
    assert security.dirty_price == pytest.approx(101.0 + 0.1041095, abs=1e-9)
    assert parse_problem(_base()).securities[0].index_ratio == 1.0


def test_faces_beyond_double_precision_are_kept_exactly() -> None:
    data = _base()
    data["holdings"][0]["face"] = 10**17 + 1
    positions = {p.isin: p for p in parse_problem(data).positions}
    assert positions[isin(1)].face == 10**17 + 1


@pytest.mark.parametrize(
    ("content", "words"),
    [(b"", "is empty"), (b"  \n", "is empty"), (b"\xff\xfe{}", "not UTF-8"), (b"[1, 2", "line 1")],
)
def test_unreadable_files_are_one_input_error(tmp_path: Path, content: bytes, words: str) -> None:
    path = tmp_path / "p.json"
    path.write_bytes(content)
    with pytest.raises(InputError, match=words):
        load_problem(path)
    with pytest.raises(InputError, match="cannot read"):
        load_problem(tmp_path)
