"""No stale results: a rerun reuses exactly the outputs whose inputs are unchanged."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from hideseek.data.phantom import PhantomConfig, write_phantom_dataset
from hideseek.protocol import load_protocol_config, run_protocol

TRAIN = ('train: {epochs: 1, image_size: 32, batch_size: 16, pretrained: false, '
         'crop_top: 0.0, augment: {enabled: false}}\n')
CELLS = {"cell resnet18/data/seed0", "cell resnet18/lungs_removed/seed0"}


def _write_config(path: Path, data: Path, out: Path, fill: str = "zero",
                  epochs: int = 1) -> Path:
    path.write_text(f"name: stale\ndata: {data}\nmasks: {data / 'masks'}\n"
                    f"architectures: [resnet18]\nrepresentations: [data, lungs_removed]\n"
                    f"{TRAIN.replace('epochs: 1', f'epochs: {epochs}')}"
                    f"fill: {fill}\ncam_max_images: 6\nn_boot: 50\noutput: {out}\n")
    return path


def _run(cfg: Path) -> tuple[set[str], set[str], str]:
    res = run_protocol(load_protocol_config(cfg))
    saved = json.loads((Path(res.output) / "results.json").read_text())
    assert saved["reused"] == res.reused and saved["redone"] == res.redone
    html = (Path(res.output) / "report.html").read_text()
    return set(res.reused), set(res.redone), html


def _edit_one_mask(masks: Path) -> None:
    first = sorted(masks.rglob("*.png"))[0]
    mask = np.array(Image.open(first))
    mask[:6, :6] = 255 - mask[:6, :6]
    Image.fromarray(mask).save(first)


def test_rerun_redoes_exactly_the_affected_outputs(tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HIDESEEK_CACHE", str(tmp_path / "cache"))
    data = tmp_path / "data"
    write_phantom_dataset(data, PhantomConfig(scenario="lungs", n=48, size=48, seed=1))
    cfg = _write_config(tmp_path / "p.yaml", data, tmp_path / "run")
    reused, redone, _ = _run(cfg)
    assert not reused and CELLS | {"audit resnet18", "cam resnet18"} <= redone
    stamps = [json.loads((tmp_path / "run" / f).read_text())["hash"] for f in
              ("cells/resnet18/data/seed0/cell.json", "audit/resnet18.json",
               "cam/resnet18/cam.json", "environment.json")]
    assert all(stamps)

    reused, redone, html = _run(cfg)  # unchanged: everything reused, and the report says so
    assert not redone and CELLS | {"audit resnet18", "cam resnet18"} <= reused
    assert "Reused from an earlier run" in html and "cell resnet18/data/seed0" in html

    _edit_one_mask(data / "masks")  # every stage reads the masks
    reused, redone, _ = _run(cfg)
    assert CELLS | {"audit resnet18", "cam resnet18"} <= redone and not reused

    _write_config(cfg, data, tmp_path / "run", fill="mean")  # only hiding cells use the fill
    reused, redone, html = _run(cfg)
    assert "cell resnet18/data/seed0" in reused
    assert {"cell resnet18/lungs_removed/seed0", "audit resnet18", "cam resnet18"} <= redone
    assert "Redone in this run" in html

    _write_config(cfg, data, tmp_path / "run", fill="mean", epochs=2)  # all cells and after
    reused, redone, _ = _run(cfg)
    assert CELLS | {"audit resnet18", "cam resnet18"} <= redone and not reused
