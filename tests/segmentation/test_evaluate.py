"""evaluate_segmentation: the library side of ``hideseek segment eval``."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from hideseek.data.manifest import load_dataset
from hideseek.data.phantom import PhantomConfig, write_phantom_dataset
from hideseek.errors import HideseekError
from hideseek.segmentation.evaluate import evaluate_segmentation


@pytest.fixture
def pack(tmp_path: Path) -> Path:
    write_phantom_dataset(tmp_path / "pack", PhantomConfig(scenario="lungs", n=6, size=32))
    return tmp_path / "pack"


def test_true_masks_score_one_and_empty_masks_zero(pack: Path, tmp_path: Path) -> None:
    data = load_dataset(pack)
    same = evaluate_segmentation(data, masks=pack / "masks")
    assert same.report.to_dict()["dice"]["mean"] == 1.0
    assert set(same.per_label_dice) == {r.label for r in data.records}
    assert all(v == 1.0 for v in same.per_label_dice.values())
    empty = tmp_path / "empty"
    empty.mkdir()
    for m in (pack / "masks").iterdir():
        Image.fromarray(np.zeros((32, 32), np.uint8)).save(empty / m.name)
    none = evaluate_segmentation(data, masks=empty)
    assert max(none.per_label_dice.values()) == 0.0
    assert "per_label_dice" in none.to_dict() and "mean lung Dice per label" in none.format()


def test_needs_exactly_one_source(pack: Path) -> None:
    data = load_dataset(pack)
    with pytest.raises(HideseekError, match="exactly one"):
        evaluate_segmentation(data)
    with pytest.raises(HideseekError, match="exactly one"):
        evaluate_segmentation(data, model="default", masks=pack / "masks")
