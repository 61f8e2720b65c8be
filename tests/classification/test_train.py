"""Training: resume is exact, the test split is never read, evaluate / audit / probe run."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
import torch

from hideseek.classification.audit import audit
from hideseek.classification.checkpoint import load_classifier
from hideseek.classification.config import load_train_config
from hideseek.classification.evaluate import evaluate
from hideseek.classification.probe import probe_source
from hideseek.classification.train import train_classifier
from hideseek.cli.main import main
from hideseek.data import PhantomConfig, load_dataset, write_phantom_dataset

TINY = {"arch": "resnet18", "image_size": 32, "batch_size": 16, "lr": 1e-3,
        "pretrained": False}


def test_resume_reaches_the_same_weights(phantom_lungs: Path, tmp_path: Path) -> None:
    data = load_dataset(phantom_lungs)
    cache = tmp_path / "cache"
    keep = {**TINY, "keep_state": True}  # compares the finished runs' last.pt
    train_classifier(data, tmp_path / "full", load_train_config(epochs=2, **keep),
                     cache_dir=cache)
    train_classifier(data, tmp_path / "part", load_train_config(epochs=1, **keep),
                     cache_dir=cache)
    train_classifier(data, tmp_path / "part", load_train_config(epochs=2, **keep),
                     resume=True, cache_dir=cache)
    a = torch.load(tmp_path / "full" / "last.pt", weights_only=True)
    b = torch.load(tmp_path / "part" / "last.pt", weights_only=True)
    assert all(torch.equal(a["model"][k], b["model"][k]) for k in a["model"])
    assert a["history"] == b["history"]
    full = (tmp_path / "full" / "metrics.csv").read_text()
    assert full == (tmp_path / "part" / "metrics.csv").read_text()


def test_test_split_is_never_read(phantom_lungs: Path, tmp_path: Path) -> None:
    # Copy the phantom with an explicit split column; corrupt every test image. Training must
    # not notice; evaluation must (it is the one place the test set is read).
    data = load_dataset(phantom_lungs)
    root = tmp_path / "d"
    (root / "images").mkdir(parents=True)
    rows = []
    for i, r in enumerate(data.records):
        split = ("test", "val", "train", "train", "train")[(i // 2) % 5]
        target = root / "images" / r.filename
        if split == "test":
            target.write_bytes(b"not a png")
        else:
            target.write_bytes(data.image_path(r).read_bytes())
        rows.append([r.filename, r.label, r.patient_id, split])
    with (root / "manifest.csv").open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["filename", "label", "patient_id", "split"])
        w.writerows(rows)
    ds = load_dataset(root)
    summary = train_classifier(ds, tmp_path / "run", load_train_config(epochs=1, **TINY),
                               cache_dir=tmp_path / "c")
    assert summary["n"]["test"] == 12
    from hideseek.errors import ImageReadError

    with pytest.raises(ImageReadError):
        evaluate(tmp_path / "run", ds, cache_dir=tmp_path / "c", n_boot=10)


def test_evaluate_audit_json_shape(phantom_lungs: Path, tmp_path: Path) -> None:
    data = load_dataset(phantom_lungs)
    train_classifier(data, tmp_path / "run", load_train_config(epochs=1, **TINY),
                     masks_dir=phantom_lungs / "masks", cache_dir=tmp_path / "c")
    result, preds = evaluate(tmp_path / "run", data, cache_dir=tmp_path / "c", n_boot=50)
    assert set(result["per_class"]) == {"normal", "pneumonia", "COVID-19"}
    assert set(result["per_class"]["normal"]) >= {"sensitivity", "ppv", "specificity", "f1",
                                                  "auc"}
    assert result["labels"] == ["normal", "pneumonia", "COVID-19"]
    assert len(result["confusion_matrix"]) == 3 and result["n"] == len(preds.records)
    res, _ = audit(tmp_path / "run", data, phantom_lungs / "masks", cache_dir=tmp_path / "c",
                   n_boot=50)
    assert list(res["representations"]) == ["data", "lungs_isolated", "lungs_removed",
                                            "lungs_framed", "lungs_boxed_out"]
    assert set(res["vs_data"]) == set(res["representations"]) - {"data"}
    d = res["vs_data"]["lungs_removed"]
    assert {"accuracy_difference", "mcnemar_p"} <= set(d) and len(d["accuracy_difference"][
        "ci"]) == 2


def test_cli_train_evaluate_audit(phantom_lungs: Path, tmp_path: Path,
                                  capsys: pytest.CaptureFixture[str],
                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HIDESEEK_CACHE", str(tmp_path / "cache"))
    out = tmp_path / "m"
    assert main(["train", str(phantom_lungs), "--out", str(out), "--arch", "resnet18",
                 "--no-pretrained", "--epochs", "1", "--image-size", "32", "--batch-size", "16",
                 "--representation", "lungs_removed", "--masks",
                 str(phantom_lungs / "masks")]) == 0
    assert main(["evaluate", "--model", str(out), "--data", str(phantom_lungs), "--masks",
                 str(phantom_lungs / "masks"), "--json", str(tmp_path / "e.json"),
                 "--n-boot", "50"]) == 0
    e = json.loads((tmp_path / "e.json").read_text())
    assert e["representation"] == "lungs_removed" and "ci" in e["accuracy"]
    assert main(["audit", "--model", str(out), "--data", str(phantom_lungs), "--masks",
                 str(phantom_lungs / "masks"), "--json", str(tmp_path / "a.json"),
                 "--n-boot", "50"]) == 0
    assert "McNemar p" in capsys.readouterr().out
    # A representation that needs masks, without masks: one clear line.
    assert main(["train", str(phantom_lungs), "--out", str(tmp_path / "x"), "--representation",
                 "lungs_framed", "--epochs", "1"]) == 1
    assert "needs lung masks" in capsys.readouterr().err


def test_probe_source(phantom_shortcut: Path, tmp_path: Path) -> None:
    # Class and source fully confounded: a source probe could only read the class; refused.
    data = load_dataset(phantom_shortcut)
    r = probe_source(data, phantom_shortcut / "masks", tmp_path / "confounded",
                     load_train_config(epochs=1, **TINY), cache_dir=tmp_path / "c")
    assert r["sources"] == ["site_a", "site_b", "site_c"]
    assert r["representations"] == {} and "confounded" in r["note"]
    # Sources spread within each class: the probe trains and tests on both versions.
    root = tmp_path / "mixed"
    write_phantom_dataset(root, PhantomConfig(scenario="shortcut", n=180, size=48,
                                              correlation=0.34, seed=3))
    r = probe_source(load_dataset(root), root / "masks", tmp_path / "probe",
                     load_train_config(epochs=1, **TINY), cache_dir=tmp_path / "c")
    assert set(r["representations"]) == {"data", "lungs_removed"}
    assert (tmp_path / "probe" / "probe.json").is_file()


def test_ddp_under_torchrun_on_cpu(phantom_lungs: Path, tmp_path: Path) -> None:
    import os
    import subprocess
    import sys

    torchrun = Path(sys.executable).parent / "torchrun"
    env = {**os.environ, "HIDESEEK_CACHE": str(tmp_path / "c"), "OMP_NUM_THREADS": "1"}
    proc = subprocess.run(
        [str(torchrun), "--nproc_per_node", "2", "-m", "hideseek", "train", str(phantom_lungs),
         "--out", str(tmp_path / "ddp"), "--arch", "resnet18", "--no-pretrained", "--epochs",
         "1", "--image-size", "32", "--batch-size", "8"],
        env=env, capture_output=True, text=True, timeout=600, check=False)
    assert proc.returncode == 0, proc.stderr[-3000:]
    summary = json.loads((tmp_path / "ddp" / "train.json").read_text())
    assert summary["runtime"]["world_size"] == 2 and (tmp_path / "ddp" / "best.pt").is_file()
    assert proc.stdout.count("best epoch") == 1  # only rank 0 reports


def test_a_last_batch_of_one_image_does_not_break_batch_norm(phantom_lungs: Path,
                                                             tmp_path: Path) -> None:
    data = load_dataset(phantom_lungs)
    n_train = train_classifier(data, tmp_path / "probe", load_train_config(epochs=1, **TINY),
                               cache_dir=tmp_path / "cache")["n"]["train"]
    # A batch size that leaves exactly one image for the last batch (crashed before).
    cfg = load_train_config(epochs=1, **{**TINY, "batch_size": n_train - 1})
    summary = train_classifier(data, tmp_path / "lone", cfg, cache_dir=tmp_path / "cache")
    assert summary["n"]["train"] == n_train and summary["best_epoch"] == 1


def test_a_tiny_test_split_is_a_warning(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """18 images (3 test images): training runs and warns that the test split means little."""
    import logging

    write_phantom_dataset(tmp_path / "d", PhantomConfig(n=18, size=32, seed=3,
                                                        images_per_patient=1))
    with caplog.at_level(logging.WARNING):
        train_classifier(load_dataset(tmp_path / "d"), tmp_path / "m",
                         load_train_config(epochs=1, **TINY), cache_dir=tmp_path / "c")
    assert "the test split holds only 3 image(s)" in caplog.text
    assert not (tmp_path / "m" / "last.pt").exists()  # finished: only best.pt is kept


@pytest.mark.parametrize("arch", ["timm:efficientnet_b0", "torchvision:densenet121"])
def test_user_architectures_train_and_evaluate(arch: str, phantom_lungs: Path,
                                               tmp_path: Path) -> None:
    data = load_dataset(phantom_lungs)
    cfg = load_train_config(arch=arch, image_size=32, batch_size=16, lr=1e-3, epochs=1,
                            pretrained=False)
    train_classifier(data, tmp_path / "run", cfg, cache_dir=tmp_path / "c")
    loaded, meta = load_classifier(tmp_path / "run")
    assert meta["arch"] == arch and loaded.arch == arch
    result, preds = evaluate(tmp_path / "run", data, cache_dir=tmp_path / "c", n_boot=10)
    assert result["arch"] == arch and result["n"] == len(preds.records) > 0
    assert preds.prob.shape == (result["n"], 3)
