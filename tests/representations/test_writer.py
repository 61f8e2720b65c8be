"""``hideseek represent``: on-disk versions, bad-mask policy, QC, figure."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest

from hideseek.cli.main import main
from hideseek.data import ClassificationDataset, Preprocess, load_dataset, read_image, read_mask
from hideseek.data.io import write_png
from hideseek.errors import DataError
from hideseek.representations import (
    REPRESENTATIONS,
    Representation,
    RepresentOptions,
    apply_representation,
    write_representations,
)


def test_on_disk_equals_on_the_fly(phantom_lungs: Path, tmp_path: Path) -> None:
    data = load_dataset(phantom_lungs)
    sub = data.with_records(data.records[:5])
    assert data.masks_dir is not None
    write_representations(sub, data.masks_dir, tmp_path / "out", RepresentOptions(workers=1))
    for rep in REPRESENTATIONS:
        written = load_dataset(tmp_path / "out" / rep)
        assert [r.filename for r in written.records] == [r.filename for r in sub.records]
        for r in sub.records:
            image = read_image(data.image_path(r))
            want = apply_representation(rep, image, read_mask(data.masks_dir / r.filename))
            got = read_image(tmp_path / "out" / rep / "images" / r.filename)
            np.testing.assert_array_equal(got, np.round(want * 255) / 255)
    # The dataset path: the on-disk original and the source give the same tensors.
    pre = Preprocess(size=40)
    a = ClassificationDataset(load_dataset(tmp_path / "out" / "data"), pre, tmp_path / "c")
    b = ClassificationDataset(sub, pre, tmp_path / "c", pair_transform=Representation("data"))
    np.testing.assert_array_equal(a.array(0), b.array(0))


def _with_bad_masks(phantom: Path, tmp_path: Path) -> tuple[Path, Path]:
    data = load_dataset(phantom)
    masks = tmp_path / "masks"
    masks.mkdir()
    assert data.masks_dir is not None
    for r in data.records[:6]:
        (masks / r.filename).write_bytes((data.masks_dir / r.filename).read_bytes())
    write_png(masks / data.records[1].filename, np.zeros((64, 64), bool))  # empty
    (masks / data.records[2].filename).unlink()  # missing
    root = tmp_path / "d"
    (root / "images").mkdir(parents=True)
    rows = ["filename,label,patient_id"]
    for r in data.records[:6]:
        (root / "images" / r.filename).write_bytes(data.image_path(r).read_bytes())
        rows.append(f"{r.filename},{r.label},{r.patient_id}")
    (root / "manifest.csv").write_text("\n".join(rows) + "\n")
    return root, masks


@pytest.mark.parametrize("policy", ["exclude", "keep-original", "error"])
def test_bad_mask_policy(phantom_lungs: Path, tmp_path: Path, policy: str) -> None:
    root, masks = _with_bad_masks(phantom_lungs, tmp_path)
    data = load_dataset(root)
    opt = RepresentOptions(on_bad_mask=policy, workers=1)
    if policy == "error":
        with pytest.raises(DataError) as err:
            write_representations(data, masks, tmp_path / "out", opt)
        assert "empty" in str(err.value) and "missing" in str(err.value)
        return
    s = write_representations(data, masks, tmp_path / "out", opt)
    counts = {rep: len(load_dataset(tmp_path / "out" / rep)) for rep in REPRESENTATIONS}
    want = 4 if policy == "exclude" else 6
    assert set(counts.values()) == {want}  # all five stay paired image for image
    assert len(s["bad_masks"]) == 2
    if policy == "keep-original":
        name = data.records[1].filename
        np.testing.assert_array_equal(
            read_image(tmp_path / "out" / "lungs_removed" / "images" / name),
            read_image(root / "images" / name))


def test_exclude_flagged_policy(phantom_lungs: Path, tmp_path: Path) -> None:
    root, masks = _with_bad_masks(phantom_lungs, tmp_path)
    data = load_dataset(root)
    opt = RepresentOptions(on_bad_mask="exclude-flagged", workers=1)
    with pytest.raises(DataError, match="regions.csv"):  # no QC flags beside the masks
        write_representations(data, masks, tmp_path / "out", opt)
    flagged = data.records[3].filename
    rows = ["filename,flagged,reason"] + [
        f"{r.filename},{int(r.filename == flagged)},{'x' if r.filename == flagged else ''}"
        for r in data.records]
    (tmp_path / "regions.csv").write_text("\n".join(rows) + "\n")  # beside masks/
    s = write_representations(data, masks, tmp_path / "out", opt)
    counts = {rep: len(load_dataset(tmp_path / "out" / rep)) for rep in REPRESENTATIONS}
    assert set(counts.values()) == {3}  # 6 less the empty, the missing and the flagged mask
    assert flagged in s["excluded_files"] and s["excluded"] == 3
    qc = {(row["label"], row["source"]): row for row in s["mask_qc"]}
    assert sum(int(str(row["flagged"])) for row in qc.values()) == 1


def test_cli_represent_real_data_and_figure(segmentation_pack: Path, tmp_path: Path) -> None:
    # A small real subset keeps the test fast.
    data = load_dataset(segmentation_pack, require_label=False)
    root = tmp_path / "real"
    (root / "images").mkdir(parents=True)
    with (segmentation_pack / "manifest.csv").open() as fh:
        rows = list(csv.DictReader(fh))[:8]
    with (root / "manifest.csv").open("w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    for row in rows:
        (root / "images" / row["filename"]).write_bytes(
            (data.images_dir / row["filename"]).read_bytes())
    fig = tmp_path / "fig1.png"
    assert main(["represent", str(root), "--masks", str(segmentation_pack / "masks"), "--out",
                 str(tmp_path / "out"), "--figure", str(fig), "--workers", "1"]) == 0
    assert fig.stat().st_size > 10_000
    summary = json.loads((tmp_path / "out" / "represent.json").read_text())
    assert summary["written"] == 8 and summary["mask_qc"][0]["label"] == "COVID-19"
    # Resuming skips finished images.
    assert main(["represent", str(root), "--masks", str(segmentation_pack / "masks"), "--out",
                 str(tmp_path / "out"), "--workers", "1"]) == 0
    assert json.loads((tmp_path / "out" / "represent.json").read_text())["skipped"] == 8


def test_covidx_form_is_kept(tmp_path: Path, phantom_lungs: Path) -> None:
    data = load_dataset(phantom_lungs)
    images = tmp_path / "imgs"
    lines = {"train": [], "test": []}
    for i, r in enumerate(data.records[:6]):
        split = "test" if i < 2 else "train"
        (images / split).mkdir(parents=True, exist_ok=True)
        (images / split / r.filename).write_bytes(data.image_path(r).read_bytes())
        lines[split].append(f"{r.patient_id} {r.filename} {r.label} phantom")
    for split, ls in lines.items():
        (tmp_path / f"{split}_COVIDx5.txt").write_text("\n".join(ls) + "\n")
    cov = load_dataset([tmp_path / "train_COVIDx5.txt", tmp_path / "test_COVIDx5.txt"],
                       images=images)
    assert data.masks_dir is not None
    write_representations(cov, data.masks_dir, tmp_path / "out", RepresentOptions(workers=1))
    rep = tmp_path / "out" / "lungs_removed"
    again = load_dataset([rep / "train_COVIDx5.txt", rep / "test_COVIDx5.txt"], images=rep)
    assert sorted(r.split or "" for r in again.records) == ["test"] * 2 + ["train"] * 4
