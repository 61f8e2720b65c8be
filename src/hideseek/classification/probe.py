"""``hideseek probe-source``: can the data source be recognised, with and without the lungs?"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from hideseek.classification.config import TrainConfig
from hideseek.classification.evaluate import evaluate
from hideseek.classification.train import train_classifier
from hideseek.data.manifest import CXRDataset
from hideseek.errors import HideseekError
from hideseek.runtime import Runtime

__all__ = ["probe_source"]


def probe_source(data: CXRDataset, masks_dir: str | Path, out: str | Path, cfg: TrainConfig,
                 representations: tuple[str, ...] = ("data", "lungs_removed"),
                 runtime: Runtime | None = None, cache_dir: str | Path | None = None,
                 resume: bool = False) -> dict[str, Any]:
    """Train the classifier to predict ``source`` on each representation and test it.

    High source accuracy on ``lungs_removed`` means the source is identifiable from outside the
    lungs: a shortcut any label classifier can use when class and source are confounded.

    Returns:
        Per representation: test accuracy with its interval, the chance level (largest source
        share), and the full metrics; also written to ``out/probe.json``.
    """
    sources = sorted({r.source for r in data.records})
    if len(sources) < 2:
        raise HideseekError(f"{data.root}: the source probe needs at least two sources "
                            f"(found {sources or 'none'})")
    out = Path(out)
    result: dict[str, Any] = {"sources": sources, "representations": {}}
    for rep in representations:
        c = cfg.model_copy(update={"representation": rep, "target": "source",
                                   "sampler": "balanced"})
        run = out / rep
        if not (run / "best.pt").exists() or resume:
            train_classifier(data, run, c, masks_dir=masks_dir, resume=resume, runtime=runtime,
                             cache_dir=cache_dir)
        metrics, preds = evaluate(run, data, rep, masks_dir, runtime=runtime,
                                  cache_dir=cache_dir)
        shares = [float((preds.y == k).mean()) for k in range(len(preds.classes))]
        result["representations"][rep] = {
            "accuracy": metrics["accuracy"], "chance": max(shares) if shares else None,
            "n": metrics["n"], "metrics": metrics}
    out.mkdir(parents=True, exist_ok=True)
    (out / "probe.json").write_text(json.dumps(result, indent=2))
    return result
