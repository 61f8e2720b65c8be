"""A user architecture through the whole protocol (train, evaluate, audit, Grad-CAM, report)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from hideseek.cli.main import main


@pytest.mark.parametrize("arch", ["timm:efficientnet_b0", "torchvision:densenet121"])
def test_hideseek_run_with_a_user_architecture(arch: str, phantom_lungs: Path, tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HIDESEEK_CACHE", str(tmp_path / "cache"))
    cfg = tmp_path / "protocol.yaml"
    cfg.write_text(f"name: byo\ndata: {phantom_lungs}\nmasks: {phantom_lungs / 'masks'}\n"
                   f"architectures: ['{arch}']\nrepresentations: [data, lungs_removed]\n"
                   "train: {epochs: 1, image_size: 32, batch_size: 16, lr: 0.001, "
                   "pretrained: false, crop_top: 0.0}\n"
                   f"cam_max_images: 8\nn_boot: 20\noutput: {tmp_path / 'run'}\n")
    assert main(["run", str(cfg)]) == 0
    run = tmp_path / "run"
    assert (run / "report.html").is_file()
    verdicts = json.loads((run / "verdicts.json").read_text())
    assert verdicts[f"byo/{arch}"]["verdict"] in {"shortcut", "uses_lungs", "both", "inconclusive",
                                                 "not_learned"}
    assert list(run.glob("cam/**/*.png")) and list(run.glob("audit/*.json"))
