"""The real packs in ../shared/data load completely."""

from __future__ import annotations

import csv
from pathlib import Path

from hideseek.cli.main import main
from hideseek.data import ClassificationDataset, load_dataset
from hideseek.data.check import check_dataset


def _manifest_rows(root: Path) -> list[dict[str, str]]:
    with (root / "manifest.csv").open(newline="") as fh:
        return list(csv.DictReader(fh))


def test_classification_pack_counts(classification_pack: Path) -> None:
    data = load_dataset(classification_pack)
    rows = _manifest_rows(classification_pack)
    assert len(data) == len(rows) == 433
    assert {r.filename for r in data.records} == {r["filename"] for r in rows}
    report = check_dataset(data)
    assert report.ok
    assert sum(report.counts.values()) == 433


def test_segmentation_pack_with_masks(segmentation_pack: Path) -> None:
    data = load_dataset(segmentation_pack, require_label=False)
    assert len(data) == len(_manifest_rows(segmentation_pack)) == 117
    assert data.masks_dir is not None
    assert len({r.patient_id for r in data.records}) == 69


def test_classification_dataset_items(classification_pack: Path, tmp_path: Path) -> None:
    data = load_dataset(classification_pack)
    ds = ClassificationDataset(data.with_records(data.records[:4]), cache_dir=tmp_path)
    x, y = ds[0]
    assert x.shape == (1, 224, 224) and 0 <= float(x.min()) <= float(x.max()) <= 1
    assert y in (0, 1, 2)


def test_data_check_cli(classification_pack: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    assert main(["data", "check", str(classification_pack), "--no-decode"]) == 0
    out = capsys.readouterr().out
    assert "kermany" in out and "433 images, 352 patients" in out
