"""The one mask lookup and the one bad-mask rule."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from hideseek.data.masks import find_mask, mask_name
from hideseek.representations import output_name
from hideseek.segmentation.postprocess import lung_boxes, mask_problem, postprocess_mask


def test_mask_lookup_order(tmp_path: Path) -> None:
    assert mask_name("a/x.jpg") == "a/x.png" and mask_name("x.PNG") == "x.PNG"
    assert output_name("a/x.jpg") == mask_name("a/x.jpg")
    assert find_mask(tmp_path, "train/x.jpg") is None
    (tmp_path / "x.png").write_bytes(b"")
    assert find_mask(tmp_path, "train/x.jpg") == tmp_path / "x.png"  # flat folder, as PNG
    (tmp_path / "x.jpg").write_bytes(b"")
    assert find_mask(tmp_path, "train/x.jpg") == tmp_path / "x.jpg"  # bare name first
    (tmp_path / "train").mkdir()
    (tmp_path / "train" / "x.png").write_bytes(b"")
    assert find_mask(tmp_path, "train/x.jpg") == tmp_path / "train" / "x.png"
    (tmp_path / "train" / "x.jpg").write_bytes(b"")
    assert find_mask(tmp_path, "train/x.jpg") == tmp_path / "train" / "x.jpg"  # own name


def test_one_bad_mask_rule() -> None:
    assert mask_problem(0.0, 0) == "empty"
    assert mask_problem(0.3, 1) == ""  # one lung: information, not a problem
    assert mask_problem(0.3, 2) == "" and mask_problem(0.9, 2) == "implausible_area"
    m = np.zeros((60, 60), bool)
    m[10:50, 5:25] = True
    r = postprocess_mask(m)
    assert r.one_lung and not r.bad and r.problem == ""
    assert postprocess_mask(np.zeros((60, 60), bool)).problem == "empty"


def test_one_lung_box_function() -> None:
    m = np.zeros((60, 60), bool)
    m[10:50, 35:55] = True
    m[12:48, 5:25] = True
    m[0, 0] = True  # a speck: dropped by the two-largest rule
    assert lung_boxes(m) == [(5, 12, 25, 48), (35, 10, 55, 50)]  # left to right
    assert postprocess_mask(m).boxes == lung_boxes(m)
