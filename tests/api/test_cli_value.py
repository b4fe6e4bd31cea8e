"""``tanpo value`` run as the real console script: the contract, and bad input."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

TANPO = Path(sys.executable).with_name("tanpo")
ISIN = "JP1103801PC7"  # valid check digit (label, not the published code)


def _run(tmp_path: Path, document: object, *args: str) -> subprocess.CompletedProcess[str]:
    path = tmp_path / "in.json"
    path.write_text(document if isinstance(document, str) else json.dumps(document))
    env = {k: v for k, v in os.environ.items() if k != "TANPO_DEBUG"}
    return subprocess.run(
        [str(TANPO), "value", str(path), *args],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        check=False,
    )


def _bond(**fields: Any) -> dict[str, Any]:
    bond: dict[str, Any] = {
        "isin": ISIN,
        "kind": "fixed",
        "coupon_rate": 0.017,
        "maturity_date": "2035-09-20",
    }
    bond.update(fields)
    return bond


def test_issue_example_10y_380(tmp_path: Path) -> None:
    done = _run(
        tmp_path,
        {
            "settlement_date": "2025-11-06",
            "bonds": [_bond(clean_price=100.22, face=1_000_000_000)],
        },
    )
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout)
    assert out["settlement_date"] == "2025-11-06"
    (bond,) = out["bonds"]
    assert bond["isin"] == ISIN
    assert bond["simple_yield"] == pytest.approx(0.01674, abs=1e-12)  # MOF: 1.674%
    assert bond["accrued_interest"] == pytest.approx(0.2189041, abs=1e-12)  # 47 days
    assert bond["dirty_price"] == pytest.approx(100.4389041, abs=1e-9)
    assert 0.0167 < bond["compound_yield"] < 0.0168
    assert 0.08 < bond["dv01"] < 0.10
    assert bond["accrued_amount"] == 2_189_041
    assert bond["market_value"] == pytest.approx(1_004_389_041, abs=1)
    assert "model_dirty_price" not in bond


def test_tbill_and_jgbi_and_output_file(tmp_path: Path) -> None:
    document = {
        "settlement_date": "2019-12-02",
        "bonds": [
            {
                "isin": ISIN,
                "kind": "tbill",
                "maturity_date": "2020-03-09",
                "clean_price": 100.0405,
                "face": 100_000_000,
            },
            _bond(
                kind="inflation",
                coupon_rate=0.001,
                maturity_date="2029-03-10",
                clean_price=101.5,
                index_ratio=1.01,
                face=100_000_000,
            ),
        ],
    }
    out_path = tmp_path / "out.json"
    done = _run(tmp_path, document, "-o", str(out_path))
    assert done.returncode == 0, done.stderr
    assert done.stdout == ""
    bill, jgbi = json.loads(out_path.read_text())["bonds"]
    assert bill["simple_yield"] == pytest.approx(-0.001507, abs=1e-12)  # MOF T-bill #873
    assert bill["accrued_interest"] == 0.0
    # JGBi: 0.1 x 83/365 = 0.0227397 per 100 of adjusted principal
    assert jgbi["accrued_interest"] == pytest.approx(0.0227397, abs=1e-12)
    assert jgbi["accrued_amount"] == 22_967  # 1e8 x 1.01 x 0.0227397 / 100, truncated
    assert jgbi["market_value"] == pytest.approx(1e8 * 1.01 * 101.5 / 100 + 22_967)


@pytest.mark.parametrize(
    ("bad", "field"),
    [
        ({"kind": "floater"}, "kind"),
        ({"maturity_date": "2035-13-20"}, "maturity_date"),
        ({"maturity_date": "2020-09-20"}, "maturity_date"),
        ({"face": -1}, "face"),
        ({"clean_price": "100"}, "clean_price"),
        ({"isin": "JP1103801PC4"}, "isin"),
        ({"kind": "inflation"}, "index_ratio"),
        ({"coupn_rate": 0.01}, "coupn_rate"),
    ],
)
def test_bad_bond_is_named_and_the_good_ones_survive(
    tmp_path: Path, bad: dict[str, Any], field: str
) -> None:
    document = {
        "settlement_date": "2025-11-06",
        "bonds": [_bond(clean_price=100.22), _bond(**bad), _bond(clean_price=100.35)],
    }
    done = _run(tmp_path, document)
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("tanpo: error: bonds[1]")
    assert f": {field}: " in lines[0]
    assert "Traceback" not in done.stderr
    out = json.loads(done.stdout)
    assert [b["simple_yield"] for b in out["bonds"]] == pytest.approx([0.01674, 0.01658])


@pytest.mark.parametrize(
    ("document", "needle"),
    [
        ("{not json", "not valid JSON"),
        ({"bonds": []}, "settlement_date: is required"),
        ({"settlement_date": "2025-02-30", "bonds": []}, "settlement_date"),
        ({"settlement_date": "2025-11-06", "bonds": {}}, "bonds"),
    ],
)
def test_bad_document(tmp_path: Path, document: object, needle: str) -> None:
    done = _run(tmp_path, document)
    assert done.returncode == 2
    assert needle in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1
    assert "Traceback" not in done.stderr


def test_model_dirty_price_from_curve(tmp_path: Path) -> None:
    from datetime import date

    from valuation.curve import ZeroCurve
    from valuation.jgb import BondKind, Jgb
    from valuation.pricing import dirty_prices_from_curve

    nodes = [{"tenor_years": 0.5, "rate": 0.004}, {"tenor_years": 10.0, "rate": 0.017}]
    document = {
        "settlement_date": "2025-11-06",
        "curve": {"zero_rates": nodes},
        "bonds": [_bond(clean_price=100.22), _bond(face=1_000_000)],
    }
    done = _run(tmp_path, document)
    assert done.returncode == 0, done.stderr
    priced, from_curve = json.loads(done.stdout)["bonds"]
    curve = ZeroCurve.from_points([(0.5, 0.004), (10.0, 0.017)])
    jgb = Jgb(ISIN, BondKind.FIXED, 0.017, date(2035, 9, 20))
    (expected,) = dirty_prices_from_curve([jgb], date(2025, 11, 6), curve)
    assert priced["model_dirty_price"] == pytest.approx(expected, abs=1e-9)
    assert from_curve["dirty_price"] == pytest.approx(expected, abs=1e-9)
    assert from_curve["clean_price"] == pytest.approx(expected - 0.2189041, abs=1e-9)
