"""The report's first screen: forest plot of retained skill and flags in words."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
from PIL import Image

from hideseek.protocol.forest import FLAG_WORDS, flag_words, forest_plot
from hideseek.protocol.rule import decide

sys.path.insert(0, str(Path(__file__).parent))
from synthetic import synthetic_predictions as _preds


def test_forest_plot_draws_every_class_with_margins(tmp_path: Path) -> None:
    counts = [30, 30, 30]
    v = decide({"data": [_preds(counts, [0.9] * 3, 1)],
                "lungs_removed": [_preds(counts, [0.4] * 3, 2)],
                "lungs_boxed_out": [_preds(counts, [0.85] * 3, 3)]}).to_json()
    png = forest_plot(tmp_path / "f.png", v, "tiny/resnet18")
    img = np.asarray(Image.open(png).convert("RGB")).astype(int)
    assert img.shape[1] > 500 and img.shape[0] > 200
    r, g, b = img[..., 0], img[..., 1], img[..., 2]
    greens = int(((g > r + 10) & (g > b)).sum())
    assert greens > 1000  # the uses_lungs zone is shaded


def test_unbounded_intervals_still_plot(tmp_path: Path) -> None:
    v = {"verdict": "inconclusive", "retained": {"lungs_removed": {"value": None,
                                                                  "ci": [None, None]}},
         "per_class": {"normal": {"retained": {"lungs_removed": {"value": 0.4,
                                                                 "ci": [None, 3.0]}}}}}
    assert forest_plot(tmp_path / "g.png", v, "x").is_file()


def test_flags_in_plain_words() -> None:
    words = flag_words(["mask_shape_dependent", "something_new"])
    assert words == [FLAG_WORDS["mask_shape_dependent"], "something_new"]
