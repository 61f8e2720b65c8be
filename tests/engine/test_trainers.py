"""Both trainers on the engine: early stopping recorded, configs as YAML, the segment CLI."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
import yaml

from hideseek.classification.config import TrainConfig, load_train_config
from hideseek.classification.train import train_classifier
from hideseek.cli.main import main
from hideseek.data import load_dataset
from hideseek.errors import HideseekError
from hideseek.segmentation import SegTrainConfig, load_seg_config, train_segmenter

TINY = {"arch": "resnet18", "image_size": 32, "batch_size": 16, "lr": 1e-3,
        "pretrained": False}
SEG_TINY = {"image_size": 32, "depth": 3, "base": 4, "batch_size": 8, "lr": 3e-3}


def test_classifier_early_stopping_is_recorded(phantom_lungs: Path, tmp_path: Path) -> None:
    # No accuracy can rise by more than 1: epoch 1 improves on nothing, epoch 2 cannot. The
    # config says it wants no minimum and no smoothing (min_epochs 1, smooth 1).
    cfg = load_train_config(epochs=6, patience=1, min_delta=1.0, min_epochs=1, smooth=1, **TINY)
    s = train_classifier(load_dataset(phantom_lungs), tmp_path / "run", cfg,
                         cache_dir=tmp_path / "c")
    assert s["epochs_run"] == 2 and s["best_epoch"] in (1, 2)
    assert s["early_stopping"] == {"patience": 1, "min_delta": 1.0, "stopped_early": True,
                                   "stopped_at_epoch": 2, "max_epochs": 6}
    assert json.loads((tmp_path / "run" / "train.json").read_text())["early_stopping"] == \
        s["early_stopping"]
    assert len(list(csv.DictReader((tmp_path / "run" / "metrics.csv").open()))) == 2
    # Finished: the resumable state is dropped, the record says where it stopped.
    assert not (tmp_path / "run" / "last.pt").exists() and (tmp_path / "run" / "best.pt").is_file()
    assert json.loads((tmp_path / "run" / "finished.json").read_text())["stopped_early_at"] == 2
    assert yaml.safe_load((tmp_path / "run" / "config.yaml").read_text())["patience"] == 1
    assert s["convergence"]["stopped_early_at"] == 2 and len(s["convergence"]["curve"]) == 2
    # By default early stopping waits: never before a third of the epochs (at least 3).
    waited = train_classifier(load_dataset(phantom_lungs), tmp_path / "waited",
                              load_train_config(epochs=6, patience=1, min_delta=1.0, **TINY),
                              cache_dir=tmp_path / "c")
    assert waited["epochs_run"] == 3 and waited["early_stopping"]["stopped_at_epoch"] == 3


def test_early_stopping_is_off_by_default() -> None:
    assert (TrainConfig().patience, TrainConfig().min_delta, TrainConfig().compile) == \
        (None, 0.0, False)
    assert (SegTrainConfig().patience, SegTrainConfig().compile) == (None, False)
    with pytest.raises(HideseekError, match="patience"):
        load_train_config(patience=0)


def test_seg_config_from_yaml(tmp_path: Path) -> None:
    (tmp_path / "s.yaml").write_text("epochs: 3\nschedule: cosine\nsplit: [0.6, 0.2, 0.2]\n")
    cfg = load_seg_config(tmp_path / "s.yaml", lr=1e-3, seed=None)
    assert (cfg.epochs, cfg.schedule, cfg.split, cfg.lr, cfg.seed) == \
        (3, "cosine", (0.6, 0.2, 0.2), 1e-3, 0)
    paper = load_seg_config(preset="paper", batch_size=2)
    assert (paper.image_size, paper.base, paper.batch_norm, paper.batch_size) == \
        (512, 64, False, 2)
    (tmp_path / "bad.yaml").write_text("epochs: 0\nwidth: 3\n")
    with pytest.raises(HideseekError, match=r"invalid segmentation config(.|\n)*epochs"
                       r"(.|\n)*width"):
        load_seg_config(tmp_path / "bad.yaml")
    (tmp_path / "list.yaml").write_text("- 1\n")
    with pytest.raises(HideseekError, match=r"list\.yaml: a segmentation config must be"):
        load_seg_config(tmp_path / "list.yaml")
    with pytest.raises(HideseekError, match="unknown preset"):
        load_seg_config(preset="tiny")


def test_segmenter_early_stopping_and_config_yaml(phantom_lungs: Path, tmp_path: Path) -> None:
    cfg = SegTrainConfig(epochs=5, patience=1, min_delta=1.0, **SEG_TINY)
    s = train_segmenter(load_dataset(phantom_lungs), tmp_path / "run", cfg,
                        cache_dir=tmp_path / "c")
    assert s["epochs_run"] == 2 and s["early_stopping"]["stopped_at_epoch"] == 2
    assert json.loads((tmp_path / "run" / "train.json").read_text())["epochs_run"] == 2
    assert load_seg_config(tmp_path / "run" / "config.yaml") == cfg
    assert json.loads((tmp_path / "run" / "config.json").read_text())["n_train"] > 0


def test_cli_segment_train_with_config(phantom_lungs: Path, tmp_path: Path,
                                       capsys: pytest.CaptureFixture[str],
                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HIDESEEK_CACHE", str(tmp_path / "cache"))
    (tmp_path / "s.yaml").write_text(yaml.safe_dump({**SEG_TINY, "epochs": 3, "seed": 5}))
    out = tmp_path / "m"
    assert main(["segment", "train", str(phantom_lungs), "--out", str(out), "--config",
                 str(tmp_path / "s.yaml"), "--epochs", "1", "--no-augment"]) == 0
    summary = json.loads(capsys.readouterr().out.split("\nbest model")[0])
    assert summary["epochs"] == summary["epochs_run"] == 1
    assert not (out / "last.pt").exists() and (out / "best.pt").is_file()  # finished
    written = load_seg_config(out / "config.yaml")
    assert (written.epochs, written.seed, written.base, written.augment) == (1, 5, 4, False)


def test_keep_state_flags_reach_the_configs(tmp_path: Path) -> None:
    """``train --keep-state`` / ``segment train --keep-state``: the finished run keeps last.pt
    (the engine side is tested in tests/engine/test_loop.py)."""
    from hideseek.cli import classify_cmds, segment_cmds
    from hideseek.cli.main import build_parser

    parse = build_parser().parse_args
    base = ["train", str(tmp_path), "--out", str(tmp_path / "o")]
    assert classify_cmds._config(parse([*base, "--keep-state"])).keep_state is True
    assert classify_cmds._config(parse(base)).keep_state is False
    seg = ["segment", "train", str(tmp_path), "--out", str(tmp_path / "o")]
    assert segment_cmds._config(parse([*seg, "--keep-state"])).keep_state is True
    assert segment_cmds._config(parse(seg)).keep_state is False
    (tmp_path / "keep.yaml").write_text("keep_state: true\n")  # a config file's value stays
    assert classify_cmds._config(parse([*base, "--config", str(tmp_path / "keep.yaml")])
                                 ).keep_state is True
