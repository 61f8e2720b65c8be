"""Early stopping on a validation score (higher is better), smoothed, after a minimum of epochs."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any

__all__ = ["EarlyStopping"]


@dataclass
class EarlyStopping:
    """Stop when the (smoothed) score has not improved by more than ``min_delta`` for
    ``patience`` epochs, never before ``min_epochs``.

    A single lucky or unlucky validation epoch of a small validation set should neither stop a
    model that is still learning nor select it: with ``window`` > 1 the score watched (and the
    one the engine selects the checkpoint on) is the mean of the last ``window`` epochs'.

    Attributes:
        patience: Epochs without improvement before stopping; None never stops.
        min_delta: The least increase that counts as an improvement.
        min_epochs: No stop before this epoch (1-based).
        window: Epochs averaged into the smoothed score (1: the score itself).
        reference: The smoothed score of the last improvement.
        waited: Epochs since the last improvement.
        stopped_at: The epoch (1-based) training stopped early at, or None.
        recent: The last ``window`` raw scores.
    """

    patience: int | None = None
    min_delta: float = 0.0
    min_epochs: int = 0
    window: int = 1
    reference: float = -float("inf")
    waited: int = 0
    stopped_at: int | None = None
    recent: list[float] = field(default_factory=list)

    def smooth(self, score: float) -> float:
        """Record an epoch's raw score; returns the smoothed score (mean of the last
        ``window`` finite scores)."""
        self.recent = [*self.recent, score][-max(1, self.window):]
        finite = [s for s in self.recent if math.isfinite(s)]
        return sum(finite) / len(finite) if finite else score

    def update(self, epoch: int, score: float) -> bool:
        """Record an epoch's (smoothed) score; True when training should stop now."""
        if score > self.reference + self.min_delta:
            self.reference, self.waited = score, 0
        else:
            self.waited += 1
        if self.patience is not None and self.waited >= self.patience \
                and epoch >= self.min_epochs:
            self.stopped_at = epoch
        return self.stopped_at is not None

    def state_dict(self) -> dict[str, Any]:
        """The counters, for a checkpoint."""
        return asdict(self)

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore the counters of a checkpoint (the configured patience, delta, minimum and
        window stay)."""
        self.reference = float(state.get("reference", -float("inf")))
        self.waited = int(state.get("waited", 0))
        self.stopped_at = state.get("stopped_at")
        self.recent = [float(s) for s in state.get("recent", [])]
