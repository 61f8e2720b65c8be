"""Per-epoch metrics: ``metrics.csv`` (rewritten each epoch) and TensorBoard when installed."""

from __future__ import annotations

import csv
import logging
from pathlib import Path
from typing import Any

__all__ = ["MetricsLog"]

log = logging.getLogger(__name__)


class MetricsLog:
    """Writes the history of epoch rows to ``out/metrics.csv`` and ``out/tensorboard``."""

    def __init__(self, out: Path, tensorboard: bool = True) -> None:
        self.path = out / "metrics.csv"
        self._tb: Any = None
        if tensorboard:
            try:
                from torch.utils.tensorboard import SummaryWriter
            except ImportError:
                log.debug("tensorboard not installed: metrics.csv only")
            else:
                self._tb = SummaryWriter(str(out / "tensorboard"))

    def write(self, history: list[dict[str, float]]) -> None:
        """Rewrite ``metrics.csv`` from the whole history; log the last row to TensorBoard."""
        if not history:
            return
        with self.path.open("w", newline="") as fh:
            w = csv.DictWriter(fh, fieldnames=list(history[0]))
            w.writeheader()
            w.writerows(history)
        if self._tb is not None:
            row = history[-1]
            for k, v in row.items():
                if k != "epoch":
                    self._tb.add_scalar(k, v, int(row["epoch"]))

    def close(self) -> None:
        """Flush and close TensorBoard."""
        if self._tb is not None:
            self._tb.close()
            self._tb = None
