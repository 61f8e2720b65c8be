"""``hideseek run`` end to end on a COVIDx-format tree with the paper's COVIDx config layout."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import yaml

from hideseek.cli.main import main
from hideseek.data.io import write_png
from hideseek.data.labels import LABELS
from hideseek.data.phantom import (
    COVIDX_SOURCES,
    SITES,
    PhantomConfig,
    make_phantom,
    write_covidx_tree,
    write_phantom_dataset,
)

ROOT = Path(__file__).resolve().parents[2]
SIZE, SEED = 48, 1


def _tree_with_masks(root: Path) -> Path:
    """A 60-image COVIDx tree; its phantoms' lung masks redrawn from the same seeds."""
    records = write_covidx_tree(root, 60, size=SIZE, seed=SEED)
    for i, r in enumerate(records):
        _, mask = make_phantom(r.label, "lungs", SITES[LABELS.index(r.label)], SIZE,
                               np.random.default_rng([SEED, i]))
        write_png(root / "masks" / r.filename, (mask > 0).astype(np.float32))
    return root / "masks"


def _small_paper_config(tmp_path: Path, tree: Path, masks: Path, external: Path) -> Path:
    paper = yaml.safe_load((ROOT / "configs" / "covidx5-paper.yaml").read_text())
    cfg = {**paper, "data": [str(tree / "train.txt"), str(tree / "test.txt")],
           "images": str(tree), "masks": str(masks), "architectures": ["resnet18"],
           "representations": ["data", "lungs_isolated", "lungs_removed"], "seeds": [0],
           "train": {**paper["train"], "image_size": 32, "batch_size": 16, "epochs": 1,
                     "pretrained": False, "workers": 0, "crop_top": 0.0},
           "cam_max_images": 6, "n_boot": 50, "output": str(tmp_path / "run"),
           "cpus_per_cell": 1, "gpus_per_cell": 0, "external_test": str(external)}
    assert set(cfg) == set(paper) | {"masks", "external_test"}  # the shipped layout
    path = tmp_path / "covidx-small.yaml"
    path.write_text(yaml.safe_dump(cfg, sort_keys=False))
    return path


def test_covidx_tree_runs_to_the_report_with_per_source_results(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HIDESEEK_CACHE", str(tmp_path / "cache"))
    tree = tmp_path / "covidx"
    external = tmp_path / "other_hospitals"  # another collection: its own patients and sites
    write_phantom_dataset(external, PhantomConfig(scenario="shortcut", n=24, size=SIZE, seed=5))
    cfg = _small_paper_config(tmp_path, tree, _tree_with_masks(tree), external)
    assert main(["run", str(cfg)]) == 0
    run = tmp_path / "run"
    results = json.loads((run / "results.json").read_text())
    for rep in ("data", "lungs_isolated", "lungs_removed"):
        per_source = results["cells"][f"resnet18/{rep}/seed0"]["eval"]["per_source"]
        assert set(per_source) == set(COVIDX_SOURCES)
        assert sum(s["n"] for s in per_source.values()) == 12  # 4 official test patients x 3
    splits = (run / "cells" / "resnet18" / "data" / "seed0" / "splits.csv").read_text()
    assert ",val" in splits or ",val," in splits  # validation carved from the train patients
    html = (run / "report.html").read_text()
    assert all(s in html for s in COVIDX_SOURCES)
    assert (run / "audit" / "resnet18.json").is_file() and results["probe"] is not None
    ext = results["external_test"]["resnet18/data/seed0"]
    assert ext["n"] == 24 and ext["external"] is True and ext["hash"]
    assert set(ext["per_source"]) == {"site_a", "site_b", "site_c"}
    assert "External test set" in html and "site_b" in html
