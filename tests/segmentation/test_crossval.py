"""Leave-one-origin-out cross-validation and test-time augmentation."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch

from hideseek.cli.main import main
from hideseek.data import load_dataset, write_png
from hideseek.data.manifest import Record, write_manifest
from hideseek.data.phantom import PhantomConfig, write_phantom_dataset
from hideseek.errors import DataError
from hideseek.runtime import Runtime
from hideseek.segmentation import SegTrainConfig
from hideseek.segmentation.crossval import (
    OTHER,
    group_records,
    leave_one_origin_out,
    patient_bootstrap,
)
from hideseek.segmentation.tta import lung_probability

TINY = {"image_size": 32, "depth": 3, "base": 4, "batch_size": 8, "lr": 3e-3, "epochs": 1}
#: Origin per image (2 images per patient): A 9 images, B 9, C 2, D 2 (C and D pooled);
#: patient 0 has one image under A and one under B.
ORIGINS = ["A", "B"] + ["A"] * 8 + ["B"] * 8 + ["C"] * 2 + ["D"] * 2


@pytest.fixture(scope="module")
def origin_pack(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("origin_pack")
    records = write_phantom_dataset(out, PhantomConfig(scenario="lungs", n=22, size=48,
                                                       images_per_patient=2, seed=3))
    # One label, as in the real pack (all COVID-19), so validation is not split by label.
    tagged = [replace(r, label="COVID-19", extra={**r.extra, "origin": ORIGINS[i]})
              for i, r in enumerate(records)]
    write_manifest(out / "manifest.csv", tagged)
    return out


def test_small_origins_are_pooled_and_missing_values_refused() -> None:
    records = [Record(f"{i}.png", None, patient_id=f"p{i}", extra={"origin": o})
               for i, o in enumerate(["x"] * 6 + ["y"] * 5 + ["z"] * 2 + ["w"])]
    groups, pooled = group_records(records, "origin", min_group=5)
    assert list(groups) == ["x", "y", OTHER]
    assert pooled == {"z": 2, "w": 1} and len(groups[OTHER]) == 3
    with pytest.raises(DataError, match="'site'"):
        group_records(records, "site")


def test_patient_bootstrap_resamples_patients() -> None:
    same = {f"{i}.png": 0.9 for i in range(6)}
    assert patient_bootstrap(same, {k: k[0] for k in same}) == pytest.approx((0.9, 0.9))
    # Two patients at 0.5 and 1.0 (3 images each): the interval spans most of [0.5, 1].
    per_image = {f"{i}.png": (0.5 if i < 3 else 1.0) for i in range(6)}
    lo, hi = patient_bootstrap(per_image, {k: "a" if int(k[0]) < 3 else "b" for k in per_image})
    assert lo == pytest.approx(0.5) and hi == pytest.approx(1.0)


class _LeftHalf(torch.nn.Module):
    """Calls every pixel of the left half of its input lung, the right half background."""

    multiple = 4

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        lung = torch.full_like(x, -10.0)
        lung[..., : x.shape[-1] // 2] = 10.0
        return torch.cat([torch.zeros_like(x), lung], 1)


def test_tta_averages_the_flipped_view() -> None:
    x = torch.rand(2, 1, 16, 16)
    rt = Runtime(device="cpu", amp=False)
    plain = lung_probability(_LeftHalf(), x, rt)
    tta = lung_probability(_LeftHalf(), x, rt, tta=True)
    assert plain.shape == tta.shape == (2, 1, 16, 16)
    assert float(plain[..., :4].min()) > 0.99 and float(plain[..., -4:].max()) < 0.01
    # 6 views, one of them flipped: 5/6 lung on the far left, 1/6 on the far right.
    assert tta[..., :4].mean().item() == pytest.approx(5 / 6, abs=0.02)
    assert tta[..., -4:].mean().item() == pytest.approx(1 / 6, abs=0.02)


def test_leave_one_origin_out_trains_tests_and_reuses(origin_pack: Path, tmp_path: Path,
                                                      capsys: pytest.CaptureFixture[str],
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    data = load_dataset(origin_pack, require_label=False)
    out, cache = tmp_path / "loo", tmp_path / "cache"
    config = SegTrainConfig(**TINY)
    result = leave_one_origin_out(data, out, config, min_group=4, folds=["A", OTHER],
                                  cache_dir=cache, runtime=Runtime(device="cpu", amp=False))
    assert [f.group for f in result.folds] == ["A", OTHER]
    assert result.pooled == {"C": 2, "D": 2}
    a, other = result.folds
    # Patient 0's image under B is not trained on when A (its other image) is held out.
    assert (a.images, a.patients, a.n_train + a.n_val, a.left_out) == (9, 5, 12, 1)
    assert (other.images, other.patients, other.n_train + other.n_val) == (4, 2, 18)
    assert other.left_out == 0
    assert not a.reused and 0 <= a.p5_dice <= a.mean_dice <= 1
    assert a.ci[0] <= a.mean_dice <= a.ci[1]
    saved = json.loads((out / "crossval.json").read_text())
    assert saved["pooled_into_other"] == {"C": 2, "D": 2} and saved["config"]["split"][2] == 0
    # Validation comes from the training origins only.
    splits = (out / "A" / "train" / "splits.csv").read_text()
    assert all(r.filename not in splits for r in data.records[:10])
    assert data.records[1].filename not in splits
    # Unchanged inputs: both folds reused, through the CLI.
    assert main(["segment", "crossval", str(origin_pack), "--out", str(out), "--min-group", "4",
                 "--folds", f"A,{OTHER}", "--image-size", "32", "--depth", "3", "--base", "4",
                 "--batch-size", "8", "--lr", "3e-3", "--epochs", "1", "--device", "cpu",
                 "--no-amp"]) == 0
    printed = capsys.readouterr().out
    assert printed.count("(reused)") == 2 and "'other' pools" in printed
    # A changed mask of origin B (training data of both folds): both are redone.
    mask = origin_pack / "masks" / data.records[10].filename
    write_png(mask, np.zeros((48, 48), bool))
    again = leave_one_origin_out(data, out, config, min_group=4, folds=["A", OTHER],
                                 cache_dir=cache, runtime=Runtime(device="cpu", amp=False))
    assert [f.reused for f in again.folds] == [False, False]
    # Changed training code: redone too.
    monkeypatch.setattr("hideseek.segmentation.crossval.source_hash", lambda parts: "changed")
    assert not leave_one_origin_out(data, out, config, min_group=4, folds=[OTHER],
                                    cache_dir=cache).folds[0].reused


def test_unknown_fold_is_refused(origin_pack: Path, tmp_path: Path) -> None:
    data = load_dataset(origin_pack, require_label=False)
    with pytest.raises(DataError, match="unknown held-out group.*nowhere"):
        leave_one_origin_out(data, tmp_path, SegTrainConfig(**TINY), folds=["nowhere"])


def test_a_finished_fold_keeps_best_pt_only_and_is_not_retrained(origin_pack: Path,
                                                                 tmp_path: Path) -> None:
    """The fold's resumable state is dropped once trained; a fold whose stamped summary was
    lost (stopped between training and stamping) resumes as finished: nothing retrained."""
    data = load_dataset(origin_pack, require_label=False)
    out, rt = tmp_path / "loo", Runtime(device="cpu", amp=False)
    config = SegTrainConfig(**TINY)
    leave_one_origin_out(data, out, config, min_group=4, folds=[OTHER], cache_dir=tmp_path / "c",
                         runtime=rt)
    run = out / OTHER / "train"
    assert not (run / "last.pt").exists() and (run / "finished.json").is_file()
    best = (run / "best.pt").stat().st_mtime_ns
    (run / "train.json").unlink()
    fold = leave_one_origin_out(data, out, config, min_group=4, folds=[OTHER],
                                cache_dir=tmp_path / "c", runtime=rt).folds[0]
    assert not fold.reused and (run / "best.pt").stat().st_mtime_ns == best
    assert json.loads((run / "train.json").read_text())["hash"]
    # --keep-state (keep_state) is no input of the fold: the fold is reused.
    kept = leave_one_origin_out(data, out, config.model_copy(update={"keep_state": True}),
                                min_group=4, folds=[OTHER], cache_dir=tmp_path / "c", runtime=rt)
    assert kept.folds[0].reused
