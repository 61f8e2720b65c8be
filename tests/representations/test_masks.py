"""The one mask lookup and the one bad-mask rule."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from hideseek.data.manifest import Record
from hideseek.data.masks import find_mask, mask_name
from hideseek.errors import DataError
from hideseek.representations import output_name
from hideseek.representations.masks import (
    BAD_MASK_POLICIES,
    MaskInfo,
    apply_policy,
    mask_qc_table,
    read_flags,
)
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


def _infos(flags: list[bool | None]) -> tuple[list[Record], list[MaskInfo]]:
    records = [Record(f"{k}.png", "normal", "a" if k < 4 else "b") for k in range(len(flags))]
    infos = [MaskInfo(r.filename, "normal", r.source, Path(r.filename), 0.3, 2, flagged=f)
             for r, f in zip(records, flags, strict=True)]
    return records, infos


def test_exclude_flagged_is_opt_in() -> None:
    assert BAD_MASK_POLICIES[0] == "exclude" and "exclude-flagged" in BAD_MASK_POLICIES
    records, infos = _infos([False, True, False, False, True, True, False, False])
    assert len(apply_policy(records, infos, "exclude")[0]) == 8  # the default ignores flags
    kept, originals = apply_policy(records, infos, "exclude-flagged")
    assert [r.filename for r in kept] == ["0.png", "2.png", "3.png", "6.png", "7.png"]
    assert originals == set()
    with pytest.raises(DataError, match="exclude-flagged needs"):
        apply_policy(*_infos([False, None]), "exclude-flagged")
    # The QC table gives the flagged share per label x source: 1/4 for a, 2/4 for b.
    rows = {row["source"]: row for row in mask_qc_table(infos)}
    assert rows["a"]["flagged_fraction"] == 0.25 and rows["b"]["flagged_fraction"] == 0.5
    assert "flagged" not in mask_qc_table(_infos([None] * 3)[1])[0]  # no flags: no column


def test_read_flags_beside_the_masks(tmp_path: Path) -> None:
    (tmp_path / "masks").mkdir()
    assert read_flags(tmp_path / "masks") is None
    (tmp_path / "regions.csv").write_text("filename,empty\nx.png,0\n")  # before the QC flags
    assert read_flags(tmp_path / "masks") is None
    (tmp_path / "regions.csv").write_text("filename,flagged,reason\nx.png,1,why\ny.png,0,\n")
    assert read_flags(tmp_path / "masks") == {"x.png": (True, "why"), "y.png": (False, "")}


def test_every_policy_is_offered_by_the_cli_and_the_protocol() -> None:
    from hideseek.cli.main import build_parser
    from hideseek.protocol.config import ProtocolConfig

    parser = build_parser()
    for policy in BAD_MASK_POLICIES:
        assert parser.parse_args(["train", "d", "--masks", "m", "--out", "o", "--on-bad-mask",
                                  policy]).on_bad_mask == policy
        assert parser.parse_args(["represent", "d", "--masks", "m", "--out", "o",
                                  "--on-bad-mask", policy]).on_bad_mask == policy
        assert ProtocolConfig(data=["d"], on_bad_mask=policy).on_bad_mask == policy
