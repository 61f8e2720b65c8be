"""End to end on the real classification pack: predicted masks, train, evaluate, audit."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from hideseek.cli.main import main

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def predicted_masks(classification_pack: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("seg")
    assert main(["segment", "predict", str(classification_pack), "--out", str(out)]) == 0
    return out


def test_train_evaluate_audit_on_real_data(classification_pack: Path, predicted_masks: Path,
                                           tmp_path: Path,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HIDESEEK_CACHE", str(tmp_path / "cache"))
    model = tmp_path / "resnet18"
    assert main(["train", str(classification_pack), "--out", str(model), "--arch", "resnet18",
                 "--no-pretrained", "--epochs", "2", "--image-size", "64", "--batch-size", "32",
                 "--lr", "0.001", "--masks", str(predicted_masks)]) == 0
    js = tmp_path / "eval.json"
    assert main(["evaluate", "--model", str(model), "--data", str(classification_pack),
                 "--masks", str(predicted_masks), "--json", str(js), "--n-boot", "200"]) == 0
    e = json.loads(js.read_text())
    assert 40 <= e["n"] <= 90  # the patient-grouped 15% test split of 433 images
    assert set(e["per_source"]) <= {"cohen", "actualmed", "kermany"}
    assert e["accuracy"]["ci"][0] <= e["accuracy"]["value"] <= e["accuracy"]["ci"][1]
    ja = tmp_path / "audit.json"
    assert main(["audit", "--model", str(model), "--data", str(classification_pack),
                 "--masks", str(predicted_masks), "--json", str(ja), "--n-boot", "200"]) == 0
    a = json.loads(ja.read_text())
    assert a["n"] == e["n"] and len(a["representations"]) == 5
    assert all(0.0 <= c["mcnemar_p"] <= 1.0 for c in a["vs_data"].values())
