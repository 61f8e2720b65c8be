"""Segmentation metrics against hand-computed values."""

from __future__ import annotations

import numpy as np
import pytest

from hideseek.segmentation.metrics import PixelCounts, SegmentationReport, dice, table2


def test_table2_by_hand() -> None:
    truth = np.array([[1, 1, 0, 0], [1, 1, 0, 0]], bool)
    pred = np.array([[1, 0, 1, 0], [1, 1, 0, 0]], bool)
    c = PixelCounts()
    c.add(pred, truth)
    assert (c.tp, c.fp, c.fn, c.tn) == (3, 1, 1, 3)
    t = table2(c)
    assert t["lung"]["recall"] == pytest.approx(3 / 4)
    assert t["lung"]["precision"] == pytest.approx(3 / 4)
    assert t["lung"]["jaccard"] == pytest.approx(3 / 5)
    assert t["lung"]["f1"] == pytest.approx(6 / 8)
    assert t["background"]["recall"] == pytest.approx(3 / 4)
    assert t["background"]["jaccard"] == pytest.approx(3 / 5)
    assert t["lung"]["accuracy"] == t["background"]["accuracy"] == pytest.approx(6 / 8)


def test_dice_edge_cases() -> None:
    z = np.zeros((3, 3), bool)
    assert dice(z, z) == 1.0
    assert dice(~z, z) == 0.0


def test_report_summary() -> None:
    r = SegmentationReport()
    truth = np.zeros((10, 10), bool)
    truth[2:8, 2:8] = True
    r.add("good.png", truth, truth)
    r.add("bad.png", np.zeros_like(truth), truth)
    d = r.to_dict()
    assert d["dice"]["mean"] == pytest.approx(0.5)  # type: ignore[index]
    assert d["dice"]["worst"][0]["filename"] == "bad.png"  # type: ignore[index]
    assert "class 1 (lung)" in r.format()
