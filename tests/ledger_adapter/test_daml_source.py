"""The Daml source in ledger_adapter/daml and the embedded ledger's templates agree.

No Daml SDK can be installed here, so this parses the ``.daml`` modules (the subset of
syntax they use: one field per line in ``with`` blocks) and holds template names,
modules, fields with their types, choices with their argument fields, result types and
consuming flags, the records and the enum to the Python registry.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from ledger_adapter.model import ENUMS, RECORDS, TEMPLATES
from ledger_adapter.templates import PACKAGE_NAME

DAML = Path(__file__).resolve().parents[2] / "ledger_adapter" / "daml"
FIELD = re.compile(r"^\s+(\w+) : (.+?)\s*$")


def _block_fields(lines: list[str], start: int) -> tuple[list[tuple[str, str]], int]:
    """Fields of the ``with`` block beginning after line ``start``."""
    fields, i = [], start + 1
    while i < len(lines) and (m := FIELD.match(lines[i])):
        fields.append((m.group(1), m.group(2)))
        i += 1
    return fields, i


def parse_daml() -> tuple[dict[str, dict], dict[str, list[tuple[str, str]]], dict[str, set[str]]]:
    templates: dict[str, dict] = {}
    records: dict[str, list[tuple[str, str]]] = {}
    enums: dict[str, set[str]] = {}
    for path in sorted((DAML / "daml").rglob("*.daml")):
        lines = path.read_text(encoding="utf-8").splitlines()
        module = next(x.split()[1] for x in lines if x.startswith("module "))
        current = None
        for i, line in enumerate(lines):
            if m := re.match(r"^template (\w+)$", line):
                assert lines[i + 1].strip() == "with", f"{path}:{i + 2}"
                fields, _ = _block_fields(lines, i + 1)
                current = {"module": module, "fields": fields, "choices": {}}
                templates[m.group(1)] = current
            elif m := re.match(r"^data (\w+) = (\w+) with$", line):
                records[m.group(1)], _ = _block_fields(lines, i)
            elif m := re.match(r"^data (\w+) = ([\w |]+)$", line):
                enums[m.group(1)] = {c.strip() for c in m.group(2).split("|")}
            elif m := re.match(r"^    (nonconsuming )?choice (\w+) : (.+)$", line):
                assert current is not None
                fields: list[tuple[str, str]] = []
                if lines[i + 1].strip() == "with":
                    fields, _ = _block_fields(lines, i + 1)
                current["choices"][m.group(2)] = {
                    "consuming": m.group(1) is None,
                    "result": m.group(3).strip(),
                    "fields": fields,
                }
    return templates, records, enums


def test_daml_yaml_names_the_package() -> None:
    config = yaml.safe_load((DAML / "daml.yaml").read_text(encoding="utf-8"))
    assert config["name"] == PACKAGE_NAME
    assert config["source"] == "daml"


def test_templates_match() -> None:
    daml, _, _ = parse_daml()
    python = {t.name: t for t in TEMPLATES.values()}
    assert set(daml) == set(python)
    for name, t in python.items():
        d = daml[name]
        assert d["module"] == t.module, name
        assert d["fields"] == list(t.fields), name
        ours = {c: spec for c, spec in t.choices.items() if c != "Archive"}
        assert set(d["choices"]) == set(ours), name
        for choice, spec in ours.items():
            dc = d["choices"][choice]
            assert dc["fields"] == list(spec.fields), f"{name}.{choice}"
            assert dc["consuming"] == spec.consuming, f"{name}.{choice}"
            assert dc["result"] == spec.result_type, f"{name}.{choice}"


def test_records_and_enums_match() -> None:
    _, records, enums = parse_daml()
    for name, record in RECORDS.items():
        assert records.get(name) == list(record.fields), name
    assert {k: set(v) for k, v in ENUMS.items()} == {k: enums[k] for k in ENUMS}


@pytest.mark.parametrize(
    ("template", "signatory", "observer"),
    [
        ("Holding", "registrar, owner", "optionalToList pledgee"),
        ("Pledge", "pledgor, pledgee", None),
        ("MarginObligation", "pledgee", "pledgor"),
        ("MarginCallBatch", "pledgee", None),
        ("PledgeAgreement", "pledgor, pledgee", None),
        ("RebalanceBatch", "pledgor", None),
    ],
)
def test_parties_as_documented(template: str, signatory: str, observer: str | None) -> None:
    """The signatory/observer clauses the Python lambdas implement (read by a person once)."""
    text = "\n".join(p.read_text(encoding="utf-8") for p in (DAML / "daml").rglob("*.daml"))
    body = text.split(f"template {template}\n")[1].split("\ntemplate ")[0]
    assert f"    signatory {signatory}\n" in body
    if observer:
        assert f"    observer {observer}\n" in body
    else:
        assert "    observer " not in body
