"""Every JSON file a protocol run writes is strict JSON (``null``, never ``NaN``): a small run
end to end, every ``*.json`` under its folder parsed by a parser that refuses ``NaN`` and
``Infinity``, before and after a rerun that reads the files back."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from hideseek.data.phantom import PhantomConfig, write_phantom_dataset
from hideseek.protocol.config import ProtocolConfig
from hideseek.protocol.runner import run_protocol


def _refuse(constant: str) -> Any:
    raise ValueError(f"non-strict JSON constant {constant}")


def _strict_files(run: Path) -> dict[str, Any]:
    found = {}
    for path in sorted(run.rglob("*.json")):
        try:
            found[str(path.relative_to(run))] = json.loads(path.read_text(),
                                                           parse_constant=_refuse)
        except ValueError as exc:
            pytest.fail(f"{path}: {exc}")
    return found


def test_every_json_file_of_a_run_is_strict(tmp_path: Path,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HIDESEEK_CACHE", str(tmp_path / "cache"))
    data = tmp_path / "data"
    write_phantom_dataset(data, PhantomConfig(scenario="shortcut", n=48, size=40, seed=2))
    train = {"epochs": 1, "image_size": 32, "batch_size": 16, "lr": 1e-3, "pretrained": False,
             "crop_top": 0.0, "augment": {"enabled": False}}
    cfg = ProtocolConfig(name="strict", data=[str(data)], masks=str(data / "masks"),
                         architectures=["resnet18"], representations=["data", "lungs_removed"],
                         train=train, cam_max_images=8, n_boot=20, output=str(tmp_path / "run"))
    run_protocol(cfg)
    run = tmp_path / "run"
    files = _strict_files(run)
    for name in ("verdicts.json", "environment.json", "comparisons.json", "results.json",
                 "cells/resnet18/data/seed0/eval.json", "cells/resnet18/data/seed0/cell.json",
                 "cells/resnet18/data/seed0/train.json",
                 "cells/resnet18/data/seed0/finished.json", "audit/resnet18.json",
                 "cam/resnet18/cam.json", "probe/probe.json", "mask_qc.json"):
        assert name in files, sorted(files)
    # The cells keep the weights they are used by, not their resumable state.
    assert not list(run.rglob("last.pt")) and len(list(run.rglob("best.pt"))) == 2
    # A rerun reads every file back (nulls included) and writes them strictly again.
    results = run_protocol(cfg)
    assert results.reused and not results.redone
    assert _strict_files(run).keys() == files.keys()
