"""The committed data files are exactly what the generators and extractors make now."""

from __future__ import annotations

from functools import cache
from pathlib import Path

import pytest

from api.cli_data import generated_files
from valuation.haircuts import read_schedules
from valuation.paths import JGB_OUTSTANDING_PARTS, MOF_PAR_CURVE_PARTS, data_dir, shared_file
from valuation.reference_data import extracted_files

DATA = data_dir()


@cache
def _generated() -> dict[Path, str]:
    return generated_files()


@pytest.mark.parametrize("name", ["universe.csv", "sample_book.json"])
def test_generated_files_are_committed_byte_for_byte(name: str) -> None:
    text = _generated()[Path(name)]
    path = DATA / name
    assert path.is_file(), f"{path} is missing: run `tanpo data generate`"
    assert path.read_text(encoding="utf-8") == text, (
        f"{path} differs from its generator: run `tanpo data generate` and commit"
    )


@pytest.mark.skipif(
    shared_file(*MOF_PAR_CURVE_PARTS) is None or shared_file(*JGB_OUTSTANDING_PARTS) is None,
    reason="../shared/data (MOF curve, outstanding by issue) not present (set TANPO_SHARED_DIR)",
)
def test_extracts_equal_the_official_files() -> None:
    curve, outstanding = shared_file(*MOF_PAR_CURVE_PARTS), shared_file(*JGB_OUTSTANDING_PARTS)
    assert curve is not None and outstanding is not None
    for rel, text in extracted_files(curve, outstanding).items():
        path = DATA / rel
        assert path.read_text(encoding="utf-8") == text, f"{path}: run `tanpo data extract`"


def test_every_committed_data_file_is_documented() -> None:
    readme = (DATA / "README.md").read_text(encoding="utf-8")
    for path in sorted(DATA.rglob("*")):
        if path.is_file() and path.suffix in {".csv", ".json"}:
            rel = path.relative_to(DATA)
            documented = str(rel) in readme or (
                rel.parts[0] == "schedules"
                and rel.name in (DATA / "schedules" / "README.md").read_text()
            )
            assert documented, f"{rel} is not described in data/README.md"
    assert sorted(read_schedules(DATA / "schedules")) == ["BCBS-IOSCO", "BOJ", "JSCC"]
