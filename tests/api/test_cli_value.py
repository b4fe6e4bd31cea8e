"""``tanpo value``: the contract, and bad input.

The contract tests run the installed console script in a subprocess; the many
bad-input cases call the same entry point in-process (``tests/api/conftest.py``).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from tests.api.conftest import Done, Tanpo
from valuation.cashflows import resolve_cash_flows
from valuation.curve import ZeroCurve
from valuation.jgb import BondKind, Jgb
from valuation.pricing import dirty_prices_from_curve

TANPO = Path(sys.executable).with_name("tanpo")
ISIN = "JP1103801PC7"  # valid check digit (label, not the published code)


class Call:
    """``tanpo value`` on a document written to a file (or on ``path`` as it is)."""

    def __init__(self, tanpo: Tanpo, folder: Path) -> None:
        self.tanpo, self.folder = tanpo, folder

    def __call__(self, document: object, *args: str, path: Path | None = None) -> Done:
        if path is None:
            path = self.folder / "in.json"
            if isinstance(document, bytes):
                path.write_bytes(document)
            else:
                path.write_text(document if isinstance(document, str) else json.dumps(document))
        return self.tanpo("value", str(path), *args)


@pytest.fixture
def call(tanpo: Tanpo, tmp_path: Path) -> Call:
    return Call(tanpo, tmp_path)


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
    # JSDA compound yield: the clean price as c/2 over N = 2T half-years, T NL/365
    # (3603 days / 365 here), solved here by bisection independently of tanpo.
    n = 2 * 3603 / 365

    def price(y: float) -> float:
        v = 1 / (1 + y / 2)
        return float(100 * v**n + 1.7 * (1 - v**n) / y)

    lo, hi = 0.01, 0.03
    for _ in range(100):
        lo, hi = ((lo + hi) / 2, hi) if price((lo + hi) / 2) > 100.22 else (lo, (lo + hi) / 2)
    assert bond["compound_yield"] == pytest.approx(int(lo * 1e5) / 1e5, abs=1e-12)
    # DV01: price change per 100 for a 1bp fall of the compound yield.
    assert bond["dv01"] == pytest.approx(price(lo - 0.5e-4) - price(lo + 0.5e-4), rel=1e-6)
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


def test_a_bad_bond_through_the_console_script(tmp_path: Path) -> None:
    document = {
        "settlement_date": "2025-11-06",
        "bonds": [_bond(clean_price=100.22), _bond(kind="floater")],
    }
    done = _run(tmp_path, document)
    assert done.returncode == 2
    assert done.stderr == (
        f"tanpo: error: bonds[1] ({ISIN}): kind: unknown kind 'floater'; "
        "expected one of fixed, tbill, inflation\n"
    )
    assert [b["isin"] for b in json.loads(done.stdout)["bonds"]] == [ISIN]


@pytest.mark.parametrize(
    ("bad", "field"),
    [
        # the four the issue names
        ({"kind": "floater"}, "kind"),
        ({"maturity_date": "2035-13-20"}, "maturity_date"),
        ({"maturity_date": "2020-09-20"}, "maturity_date"),
        ({"face": -1}, "face"),
        # and hostile variants
        ({"kind": ["fixed"]}, "kind"),
        ({"maturity_date": "20350920"}, "maturity_date"),
        ({"maturity_date": 20350920}, "maturity_date"),
        ({"maturity_date": "2305-09-20", "clean_price": 100.0}, "maturity_date"),
        ({"issue_date": "2025-12-01"}, "issue_date"),
        ({"clean_price": "100"}, "clean_price"),
        ({"clean_price": float("nan")}, "clean_price"),
        ({"clean_price": float("inf")}, "clean_price"),
        ({"clean_price": 1e-300}, "clean_price"),
        ({"clean_price": 1e300}, "clean_price"),
        ({"clean_price": -100.0}, "clean_price"),
        ({"coupon_rate": "0.017"}, "coupon_rate"),
        ({"coupon_rate": 1.7}, "coupon_rate"),
        ({"face": 10**400, "clean_price": 100.0}, "face"),
        ({"face": 1e9}, "face"),
        ({"face": True}, "face"),
        ({"face": "1000000"}, "face"),
        ({"isin": "JP1103801PC4"}, "isin"),
        ({"isin": 1103801}, "isin"),
        ({"kind": "inflation"}, "index_ratio"),
        ({"kind": "inflation", "index_ratio": float("nan")}, "index_ratio"),
        ({"index_ratio": 1.01}, "index_ratio"),
        ({"coupn_rate": 0.01}, "coupn_rate"),
    ],
)
def test_bad_bond_is_named_and_the_good_ones_survive(
    call: Call, bad: dict[str, Any], field: str
) -> None:
    document = {
        "settlement_date": "2025-11-06",
        "bonds": [_bond(clean_price=100.22), _bond(**bad), _bond(clean_price=100.35)],
    }
    done = call(document)
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("tanpo: error: bonds[1]"), lines[0]
    assert f": {field}: " in lines[0], lines[0]
    out = json.loads(done.stdout)
    assert [b["simple_yield"] for b in out["bonds"]] == pytest.approx([0.01674, 0.01658])


@pytest.mark.parametrize("bad", [7, None, "bond", [ISIN, "fixed"], {}])
def test_a_bond_that_is_not_an_object_is_named_by_position(call: Call, bad: object) -> None:
    done = call({"settlement_date": "2025-11-06", "bonds": [bad, _bond(clean_price=100.22)]})
    assert done.returncode == 2
    assert done.stderr.startswith("tanpo: error: bonds[0]: ")
    assert len(json.loads(done.stdout)["bonds"]) == 1


NESTED = "[" * 100_000 + "]" * 100_000


@pytest.mark.parametrize(
    ("document", "needle"),
    [
        ("{not json", "json: not valid JSON"),
        ("", "json: the file is empty"),
        (" \n", "json: the file is empty"),
        (b"\xff\xfe{}", "file: is not UTF-8 text"),
        (NESTED, "json: nested too deeply"),
        (
            [{"settlement_date": "2025-11-06", "bonds": []}],
            "input: document: must be a JSON object",
        ),
        ('"2025-11-06"', "input: document: must be a JSON object"),
        ({"bonds": []}, "input: settlement_date: is required"),
        ({"settlement_date": "2025-02-30", "bonds": []}, "input: settlement_date: "),
        ({"settlement_date": "20251106", "bonds": []}, "input: settlement_date: "),
        ({"settlement_date": 20251106, "bonds": []}, "input: settlement_date: "),
        ({"settlement_date": "0001-01-01", "bonds": []}, "input: settlement_date: 0001-01-01"),
        ({"settlement_date": "2200-01-01", "bonds": []}, "input: settlement_date: 2200-01-01"),
        ({"settlement_date": "2100-12-31", "bonds": []}, "input: settlement_date: 2100-12-31"),
        ({"settlement_date": "2025-11-06"}, "input: bonds: must be a list"),
        ({"settlement_date": "2025-11-06", "bonds": {}}, "input: bonds: must be a list"),
        ({"settlement_date": "2025-11-06", "bonds": [], "curve": []}, "curve: zero_rates: "),
        (
            {"settlement_date": "2025-11-06", "bonds": [], "curve": {"zero_rates": [{"rate": 0}]}},
            "curve: zero_rates[0].tenor_years: None is not a number",
        ),
        (
            {
                "settlement_date": "2025-11-06",
                "bonds": [],
                "curve": {"zero_rates": [{"tenor_years": 1, "rate": 1.7}]},
            },
            "curve: zero_rates[0].rate: 1.7 is not a decimal rate",
        ),
    ],
)
def test_bad_document(call: Call, document: object, needle: str) -> None:
    done = call(document)
    assert done.returncode == 2
    assert needle in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1, done.stderr
    assert done.stdout == ""


def test_the_last_settlement_date_prices_its_longest_bond_on_the_calendar(call: Call) -> None:
    # 2099-12-31 + 50 years, paid after the 31 Dec bank holiday: still inside 2150.
    document = {
        "settlement_date": "2099-12-31",
        "curve": {"zero_rates": [{"tenor_years": 1.0, "rate": 0.01}]},
        "bonds": [_bond(maturity_date="2149-12-31")],
    }
    done = call(document)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["bonds"][0]["model_dirty_price"] > 0


def test_paths_that_are_not_readable_files(call: Call, tmp_path: Path) -> None:
    done = call(None, path=tmp_path)
    assert (done.returncode, done.stderr) == (
        2,
        f"tanpo: error: {tmp_path}: file: cannot read it: Is a directory\n",
    )
    done = call(None, path=tmp_path / "missing.json")
    assert done.returncode == 2 and "cannot read it: No such file or directory" in done.stderr
    if os.geteuid() != 0:  # root reads a mode-000 file anyway
        locked = tmp_path / "locked.json"
        locked.write_text("{}")
        locked.chmod(0)
        done = call(None, path=locked)
        assert done.returncode == 2 and "cannot read it: Permission denied" in done.stderr


def test_output_to_a_directory_is_one_line(call: Call, tmp_path: Path) -> None:
    done = call({"settlement_date": "2025-11-06", "bonds": []}, "-o", str(tmp_path))
    assert done.returncode == 2
    assert done.stderr == f"tanpo: error: {tmp_path}: file: cannot write it: Is a directory\n"


def test_model_dirty_price_from_curve(call: Call) -> None:
    nodes = [{"tenor_years": 0.5, "rate": 0.004}, {"tenor_years": 10.0, "rate": 0.017}]
    document = {
        "settlement_date": "2025-11-06",
        "curve": {"zero_rates": nodes},
        "bonds": [_bond(clean_price=100.22), _bond(face=1_000_000)],
    }
    done = call(document)
    assert done.returncode == 0, done.stderr
    priced, from_curve = json.loads(done.stdout)["bonds"]
    curve = ZeroCurve.from_points([(0.5, 0.004), (10.0, 0.017)])
    jgb = Jgb(ISIN, BondKind.FIXED, 0.017, date(2035, 9, 20))
    (expected,) = dirty_prices_from_curve([jgb], date(2025, 11, 6), curve)
    assert priced["model_dirty_price"] == pytest.approx(expected, abs=1e-9)
    assert from_curve["dirty_price"] == pytest.approx(expected, abs=1e-9)
    assert from_curve["clean_price"] == pytest.approx(expected - 0.2189041, abs=1e-9)


@pytest.mark.parametrize("ratio", [1.05, 0.97])
def test_jgbi_model_price_is_per_100_of_adjusted_principal(call: Call, ratio: float) -> None:
    # The curve discounts real flows (0.1%/2 per 100 of adjusted principal); the
    # redemption is floored at par: 100 / ratio per 100 of adjusted principal when the
    # ratio is below 1.
    settlement = date(2025, 11, 6)
    nodes = [(0.5, -0.01), (10.0, -0.005)]
    jgbi = Jgb(ISIN, BondKind.INFLATION, 0.001, date(2034, 3, 10))
    bond = _bond(kind="inflation", coupon_rate=0.001, maturity_date="2034-03-10")
    done = call(
        {
            "settlement_date": settlement.isoformat(),
            "curve": {"zero_rates": [{"tenor_years": t, "rate": r} for t, r in nodes]},
            "bonds": [{**bond, "index_ratio": ratio, "face": 100_000_000}],
        }
    )
    assert done.returncode == 0, done.stderr
    (out,) = json.loads(done.stdout)["bonds"]
    curve = ZeroCurve.from_points(nodes)
    flows = resolve_cash_flows([jgbi], settlement, [1.0]).flows(0)  # real, redeems 100
    factors = [float(curve.discount_factor((day - settlement).days / 365)) for day, _ in flows]
    real = sum(amount * df for (_, amount), df in zip(flows, factors, strict=True))
    expected = real + (max(ratio, 1.0) / ratio - 1.0) * 100.0 * factors[-1]
    assert out["model_dirty_price"] == pytest.approx(expected, abs=1e-9)
    assert out["dirty_price"] == pytest.approx(expected, abs=1e-9)
    assert out["market_value"] == pytest.approx(
        1e8 * ratio * out["clean_price"] / 100 + out["accrued_amount"], abs=1e-6
    )
