"""``hideseek demo``: the whole protocol on two phantom datasets with known answers.

``lungs`` phantoms carry their class evidence only inside the lungs; ``shortcut`` phantoms only
in a source marker outside them. A correct protocol clears the first and flags the second. Runs
on a CPU in a few minutes; writes ``report.html`` and ``verdicts.json``.
"""

from __future__ import annotations

import logging
import shutil
import time
from pathlib import Path
from typing import Any

from hideseek.data.phantom import PhantomConfig, write_phantom_dataset
from hideseek.jsonio import write_json
from hideseek.protocol.config import ProtocolConfig
from hideseek.protocol.layout import CellKey
from hideseek.protocol.report import write_report
from hideseek.protocol.runner import run_protocol

__all__ = ["DEMO_EXPECTED", "DEMO_SPLIT", "DEMO_TRAIN", "demo_is_right", "run_demo"]

log = logging.getLogger(__name__)

#: Small, fast recipe: phantoms are simple; everything else is the paper's recipe. Phantoms are
#: learned in 1-3 epochs: stop at the first epoch without validation improvement (10 at most).
DEMO_TRAIN: dict[str, Any] = {"epochs": 10, "image_size": 64, "batch_size": 16, "lr": 1e-3,
                              "pretrained": False, "crop_top": 0.0,
                              "augment": {"enabled": False},
                              "select_metric": "balanced_accuracy", "patience": 1}


#: Train / validation / test shares of the demo's patients: a large test share, because the
#: verdict's corrected intervals need test images to decide (docs/VERDICTS.md).
DEMO_SPLIT = (0.3, 0.1, 0.6)

#: The right verdict per phantom scenario.
DEMO_EXPECTED: dict[str, str] = {"lungs": "uses_lungs", "shortcut": "shortcut"}


def demo_is_right(verdicts: dict[str, Any]) -> bool:
    """True when every ``"<scenario>/<arch>"`` verdict is the scenario's known answer."""
    return bool(verdicts) and all(
        v["verdict"] == DEMO_EXPECTED.get(k.split("/")[0]) for k, v in verdicts.items())


def run_demo(out: str | Path, n: int = 600, archs: tuple[str, ...] = ("resnet18",),
             executor: str = "local", address: str | None = None) -> dict[str, Any]:
    """Build the phantoms, run the protocol on each, write one combined report.

    Returns:
        The verdicts, keyed ``"<scenario>/<arch>"``.
    """
    out = Path(out)
    t0 = time.perf_counter()
    verdicts: dict[str, Any] = {}
    merged: dict[str, Any] | None = None
    for k, scenario in enumerate(("lungs", "shortcut")):
        data = out / "data" / scenario
        if not (data / "manifest.csv").is_file():
            if data.exists():
                shutil.rmtree(data)
            write_phantom_dataset(data, PhantomConfig(scenario=scenario, n=n, size=96,
                                                      seed=k + 1))
        cfg = ProtocolConfig(name=scenario, data=[str(data)], masks=str(data / "masks"),
                             architectures=list(archs),
                             train={**DEMO_TRAIN, "split": DEMO_SPLIT},
                             cam_max_images=60, n_boot=500, output=str(out / scenario),
                             executor=executor, ray_address=address)  # type: ignore[arg-type]
        res = run_protocol(cfg)
        verdicts.update(res["verdicts"])
        # One report: the second scenario's cells beside the first's.
        merged = res if merged is None else _merge(merged, res)
    assert merged is not None
    merged["verdicts"] = verdicts
    merged["config"]["name"] = "demo (phantoms: lungs and shortcut)"
    write_json(out / "verdicts.json", verdicts)
    write_report(merged, out)
    log.info("demo finished in %.0f s", time.perf_counter() - t0)
    return verdicts


def _merge(a: dict[str, Any], b: dict[str, Any]) -> dict[str, Any]:
    """Combine two scenarios' results: architectures become ``<scenario>-<arch>``."""
    out: dict[str, Any] = {"config": dict(a["config"]), "environment": a["environment"],
                           "figures": a.get("figures", {}),
                           "mask_qc": a["mask_qc"] + b["mask_qc"], "cells": {},
                           "comparisons": {}, "audits": {}, "cam": {}, "probe": b.get("probe"),
                           "verdicts": {}}
    archs = []
    for res in (a, b):
        tag = res["config"]["name"]
        for arch in res["config"]["architectures"]:
            name = arch if "-" in arch else f"{tag}-{arch}"
            archs.append(name)
            for key, cell in res["cells"].items():
                cell_key = CellKey.parse(key)
                if cell_key.arch == arch:
                    out["cells"][cell_key.renamed(name).id] = cell
            for part in ("comparisons", "audits", "cam"):
                if arch in res.get(part, {}):
                    out[part][name] = res[part][arch]
    out["config"]["architectures"] = archs
    out["config"]["data"] = a["config"]["data"] + b["config"]["data"]
    return out
