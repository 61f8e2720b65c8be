"""Issue 19 acceptance: a TorchXRayVision DenseNet (random weights) audited per pathology
without a mapping; its findings appear in ``hideseek audit --json``.

The data's findings are named like the model's outputs (``Effusion``, ``Nodule``,
``Cardiomegaly``), so the outputs bind to them by name: no ``--map``, no spec. ``Mass`` is on
every image: with no negative image its AUC cannot be estimated, and its entry says
``inconclusive`` with the reason instead of failing or giving NaN.
"""

from __future__ import annotations

import csv
import json
import logging
from pathlib import Path

import pytest

from hideseek.classification.audit_stats import AUDIT_VERDICTS
from hideseek.cli.main import main
from hideseek.data.phantom import PhantomConfig, write_phantom_dataset

pytest.importorskip("torchxrayvision")

#: The phantom's findings renamed as TorchXRayVision pathologies; Mass is added to every image.
NAMES = {"opacity": "Effusion", "marker": "Nodule", "mixed": "Cardiomegaly"}
EVERYWHERE = "Mass"


def _xrv_named_phantom(root: Path) -> list[str]:
    """24 multi-label phantoms (32 px) whose findings are TorchXRayVision pathology names; the
    findings present, sorted."""
    write_phantom_dataset(root, PhantomConfig(task="multilabel", n=24, size=32, seed=0))
    manifest = root / "manifest.csv"
    with manifest.open(newline="") as f:
        rows = list(csv.DictReader(f))
    for row in rows:
        found = [NAMES[x] for x in row["labels"].split("|") if x]
        row["labels"] = "|".join([*found, EVERYWHERE])
    with manifest.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return sorted({x for row in rows for x in row["labels"].split("|")})


def _no_nan(text: str) -> dict:
    def refuse(name: str) -> float:
        raise AssertionError(f"{name} in the audit JSON")

    return json.loads(text, parse_constant=refuse)


@pytest.mark.slow
def test_xrv_densenet_is_audited_per_finding_without_a_mapping(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture,
        capsys: pytest.CaptureFixture[str]) -> None:
    data = tmp_path / "data"
    findings = _xrv_named_phantom(data)
    assert findings == ["Cardiomegaly", "Effusion", "Mass", "Nodule"]
    # an empty TorchXRayVision cache: the loader builds the DenseNet with random weights
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    out = tmp_path / "audit.json"
    with caplog.at_level(logging.WARNING):
        code = main(["audit", str(data), "--model", "xrv:densenet121-res224-all", "--masks",
                     str(data / "masks"), "--representations", "lungs_removed", "--split", "all",
                     "--n-boot", "50", "--device", "cpu", "--json", str(out)])
    assert code == 0, capsys.readouterr().err
    assert "random weights" in caplog.text
    result = _no_nan(out.read_text())
    assert result["arch"] == "xrv:densenet121-res224-all" and result["n"] == 24
    assert result["task"]["kind"] == "multilabel"
    assert sorted(result["task"]["classes"]) == findings
    assert set(result["representations"]) == {"data", "lungs_removed"}
    # every finding of the data: its drops against the matched control ...
    drops = result["vs_data"]["lungs_removed"]["per_finding"]
    assert sorted(drops) == findings
    # ... and its verdict, with the reason
    audit = result["audit"]
    assert sorted(audit["per_finding"]) == sorted(audit["per_finding_reasons"]) == findings
    assert all(v in AUDIT_VERDICTS for v in audit["per_finding"].values())
    assert all(audit["per_finding_reasons"].values())
    assert audit["per_finding"][EVERYWHERE] == "inconclusive"
    assert "no negative image" in audit["per_finding_reasons"][EVERYWHERE]
    assert drops[EVERYWHERE]["net_drop"] == {"value": None, "ci": [None, None]}
    printed = capsys.readouterr().out
    assert f"  {EVERYWHERE}: inconclusive - no negative image" in printed
