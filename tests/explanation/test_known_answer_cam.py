"""Grad-CAM on phantoms with a known answer: lungs model looks at the lungs, shortcut model at
the marker outside them."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from hideseek.classification import load_train_config, train_classifier
from hideseek.cli.main import main
from hideseek.data import PhantomConfig, load_dataset, write_phantom_dataset
from hideseek.explanation import run_cam

pytestmark = pytest.mark.slow


def _trained(tmp_path: Path, scenario: str) -> tuple[Path, Path]:
    root = tmp_path / scenario
    write_phantom_dataset(root, PhantomConfig(scenario=scenario, n=150, size=224, seed=1))
    cfg = load_train_config(arch="resnet18", epochs=8, image_size=224, batch_size=16, lr=1e-3,
                            pretrained=False, crop_top=0.0)
    cfg.augment.enabled = False
    train_classifier(load_dataset(root), tmp_path / f"run_{scenario}", cfg,
                     cache_dir=tmp_path / "c")
    return root, tmp_path / f"run_{scenario}"


def test_cam_numbers_separate_lungs_from_shortcut(tmp_path: Path) -> None:
    res = {}
    for scenario in ("lungs", "shortcut"):
        root, run = _trained(tmp_path, scenario)
        res[scenario] = run_cam({"data": run}, load_dataset(root), root / "masks",
                                tmp_path / f"cam_{scenario}", cache_dir=tmp_path / "c",
                                n_boot=200)["representations"]["data"]["per_class"]["all"]
        maps = np.load(tmp_path / f"cam_{scenario}" / "maps_data.npz")
        assert maps["predicted"].shape == (len(maps["filenames"]), 224, 224)
    lungs, short = res["lungs"], res["shortcut"]
    assert lungs["lung_ratio"]["ci"][0] > 1.2  # clearly prefers the lungs
    assert lungs["pointing"]["value"] >= 0.5 and lungs["occlusion"]["value"] > 0.15
    assert short["pointing"]["value"] <= 0.4  # the maximum lies outside the lungs
    assert abs(short["occlusion"]["value"]) < 0.1  # blanking the lungs changes nothing
    assert lungs["lung_ratio"]["value"] > short["lung_ratio"]["value"]
    assert short["lung_share"]["value"] < 0.5  # most evidence lies outside the lungs


def test_cli_cam_writes_json_and_figures(phantom_lungs: Path, tmp_path: Path) -> None:
    cfg = load_train_config(arch="resnet18", epochs=1, image_size=32, batch_size=16,
                            pretrained=False)
    train_classifier(load_dataset(phantom_lungs), tmp_path / "m", cfg,
                     masks_dir=phantom_lungs / "masks", cache_dir=tmp_path / "c")
    js = tmp_path / "cam.json"
    assert main(["cam", "--model", str(tmp_path / "m"), "--data", str(phantom_lungs), "--masks",
                 str(phantom_lungs / "masks"), "--out", str(tmp_path / "cam"), "--json",
                 str(js), "--n-boot", "50"]) == 0
    import json

    r = json.loads(js.read_text())
    per = r["representations"]["lungs_removed"]["per_class"]["normal"]
    assert set(per) >= {"lung_share", "lung_ratio", "box_share", "pointing", "occlusion"}
    assert set(per["lung_ratio"]) >= {"value", "ci"}
    assert (tmp_path / "cam" / "fig3.png").stat().st_size > 5000
    assert (tmp_path / "cam" / "lung_ratio.png").is_file()
