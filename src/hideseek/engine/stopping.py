"""Early stopping on a validation score (higher is better)."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

__all__ = ["EarlyStopping"]


@dataclass
class EarlyStopping:
    """Stop when the score has not improved by more than ``min_delta`` for ``patience`` epochs.

    Attributes:
        patience: Epochs without improvement before stopping; None never stops.
        min_delta: The least increase that counts as an improvement.
        reference: The score of the last improvement.
        waited: Epochs since the last improvement.
        stopped_at: The epoch (1-based) training stopped early at, or None.
    """

    patience: int | None = None
    min_delta: float = 0.0
    reference: float = -float("inf")
    waited: int = 0
    stopped_at: int | None = None

    def update(self, epoch: int, score: float) -> bool:
        """Record an epoch's score; True when training should stop now."""
        if score > self.reference + self.min_delta:
            self.reference, self.waited = score, 0
        else:
            self.waited += 1
        if self.patience is not None and self.waited >= self.patience:
            self.stopped_at = epoch
        return self.stopped_at is not None

    def state_dict(self) -> dict[str, Any]:
        """The counters, for a checkpoint."""
        return asdict(self)

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore the counters of a checkpoint (the configured patience and delta stay)."""
        self.reference = float(state.get("reference", -float("inf")))
        self.waited = int(state.get("waited", 0))
        self.stopped_at = state.get("stopped_at")
