"""The JSON outputs keep their shapes: every key of a small run made before the engine, the
registries and the new verdict rule (``data/json_shapes_v0.json``, written by the code of
commit 6ef197a) is still there, holding the same kind of value. New keys are allowed."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from hideseek.data.phantom import PhantomConfig, write_phantom_dataset
from hideseek.protocol.config import ProtocolConfig
from hideseek.protocol.runner import run_protocol

pytestmark = pytest.mark.slow

BASELINE = Path(__file__).parent / "data" / "json_shapes_v0.json"
SCALARS = {"int", "float", "NoneType", "bool"}


def _missing(old: Any, new: Any, where: str) -> list[str]:
    """Paths of ``old`` that ``new`` lacks or holds as another kind of value."""
    if isinstance(old, dict):
        if not isinstance(new, dict):
            return [f"{where}: was an object"]
        return [m for k, v in old.items()
                for m in (_missing(v, new[k], f"{where}.{k}") if k in new
                          else [f"{where}.{k}: missing"])]
    if isinstance(old, list):
        if not isinstance(new, list):
            return [f"{where}: was a list"]
        return _missing(old[0], new[0], f"{where}[0]") if old and new else []
    if old in SCALARS:
        return [] if isinstance(new, int | float | bool) or new is None else [
            f"{where}: was a number, now {type(new).__name__}"]
    return [] if type(new).__name__ == old else [f"{where}: was {old}, now {type(new).__name__}"]


def test_json_outputs_keep_their_shapes(tmp_path: Path) -> None:
    data = tmp_path / "data"
    write_phantom_dataset(data, PhantomConfig(scenario="lungs", n=60, size=48, seed=1))
    train = {"epochs": 1, "image_size": 32, "batch_size": 16, "lr": 1e-3, "pretrained": False,
             "crop_top": 0.0, "augment": {"enabled": False}}
    cfg = ProtocolConfig(name="shape", data=[str(data)], masks=str(data / "masks"),
                         architectures=["resnet18"], representations=["data", "lungs_removed"],
                         train=train, cam_max_images=12, n_boot=50, output=str(tmp_path / "run"))
    run_protocol(cfg)
    run = tmp_path / "run"
    files = {"verdicts.json": run / "verdicts.json",
             "eval.json": run / "cells/resnet18/data/seed0/eval.json",
             "train.json": run / "cells/resnet18/data/seed0/train.json",
             "audit.json": run / "audit/resnet18.json",
             "cam.json": run / "cam/resnet18/cam.json",
             "comparisons.json": run / "comparisons.json"}
    baseline = json.loads(BASELINE.read_text())
    problems = [m for name, path in files.items()
                for m in _missing(baseline[name], json.loads(path.read_text()), name)]
    assert not problems, "\n".join(problems)
