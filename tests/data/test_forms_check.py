"""Dataset forms (ImageFolder, bare folder), missing patient ids, and the all-problems check."""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from hideseek.cli.main import main
from hideseek.data.check import check_path, format_report
from hideseek.data.io import write_png
from hideseek.data.manifest import Problem, load_dataset
from hideseek.errors import DataError


def _img(path: Path, level: float = 0.5) -> None:
    write_png(path, np.full((32, 32), level, np.float32) + np.linspace(0, 0.4, 32)[None, :])


def _imagefolder(root: Path) -> Path:
    for folder, n in (("normal", 2), ("COVID19", 3), ("Pneumonia", 1)):
        for i in range(n):
            _img(root / folder / f"{folder}_{i}.png")
    return root


def test_imagefolder_layout(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING):
        data = load_dataset(_imagefolder(tmp_path))
    assert data.form == "imagefolder" and len(data) == 6
    assert sorted({r.label or "" for r in data.records}) == ["COVID-19", "normal", "pneumonia"]
    assert {r.source for r in data.records} == {"unknown"}
    assert data.missing_patient_ids == 6 and all(data.image_path(r).is_file()
                                                 for r in data.records)
    assert "6 of 6 images have no patient_id" in caplog.text


def test_any_subfolder_names_are_labels_and_a_near_preset_is_said(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    _imagefolder(tmp_path)
    _img(tmp_path / "xrays_extra" / "a.png")
    with caplog.at_level(logging.WARNING):
        data = load_dataset(tmp_path)
    assert data.task is not None and data.task.classes == (
        "COVID19", "normal", "Pneumonia", "xrays_extra")
    assert "'xrays_extra'" in caplog.text and "--labels" in caplog.text
    with pytest.raises(DataError, match="unknown label.*xrays_extra"):
        load_dataset(tmp_path, task="covid")
    assert len(load_dataset(tmp_path, require_label=False)) == 7


def test_bare_folder_without_labels(tmp_path: Path) -> None:
    for i in range(3):
        _img(tmp_path / f"scan{i}.png")
    (tmp_path / "notes.txt").write_text("not an image")
    with pytest.raises(DataError, match="no manifest.csv"):
        load_dataset(tmp_path)
    data = load_dataset(tmp_path, require_label=False)
    assert data.form == "folder" and [r.filename for r in data.records] == [
        "scan0.png", "scan1.png", "scan2.png"]
    assert all(r.label is None for r in data.records)


def test_segment_predict_on_a_bare_folder(tmp_path: Path) -> None:
    import torch

    from hideseek.segmentation import UNet, UNetConfig
    from hideseek.segmentation.checkpoint import save_segmenter

    for i in range(2):
        _img(tmp_path / "scans" / f"s{i}.png")
    torch.manual_seed(0)
    save_segmenter(tmp_path / "m.pt", UNet(UNetConfig(depth=2, base=2)), 32)
    assert main(["segment", "predict", str(tmp_path / "scans"), "--model", str(tmp_path / "m.pt"),
                 "--out", str(tmp_path / "pred"), "--workers", "0", "--device", "cpu"]) == 0
    assert len(list((tmp_path / "pred" / "masks").iterdir())) == 2


def test_missing_patient_ids_warned_with_count(tmp_path: Path,
                                               caplog: pytest.LogCaptureFixture) -> None:
    for name in ("a.png", "b.png", "c.png"):
        _img(tmp_path / "images" / name)
    (tmp_path / "manifest.csv").write_text(
        "filename,label,patient_id\na.png,normal,p1\nb.png,normal,\nc.png,COVID-19,\n")
    with caplog.at_level(logging.WARNING):
        data = load_dataset(tmp_path)
    assert data.missing_patient_ids == 2 and "2 of 3 images have no patient_id" in caplog.text
    assert [r.patient_id for r in data.records] == ["p1", "b.png", "c.png"]
    text = format_report(check_path(tmp_path))
    assert "images without patient_id: 2" in text


def _truncated_png() -> bytes:
    buf = io.BytesIO()
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (48, 48), dtype=np.uint8)).save(
        buf, format="PNG")
    return buf.getvalue()[: len(buf.getvalue()) // 2]


def _messy_pack(root: Path) -> Path:
    (root / "images").mkdir(parents=True)
    for name in ("good.png", "dup.png", "p2.png"):
        _img(root / "images" / name)
    (root / "images" / "trunc.png").write_bytes(_truncated_png())
    rows = ["../escape.png,normal,p0,train", "good.png,normal,p1,train",
            "trunc.png,pneumonia,p2,test", "dup.png,normal,p3,train", "dup.png,normal,p3,train",
            "p2.png,covid,p2,train", "odd.png,bronchitis,p4,train", "gone.png,normal,p5,val",
            "nopid.png,normal,,train"]
    (root / "manifest.csv").write_text("filename,label,patient_id,split\n" + "\n".join(rows))
    return root


def test_data_check_reports_every_kind_in_one_run(tmp_path: Path) -> None:
    root = _messy_pack(tmp_path)
    with pytest.raises(DataError, match=r"\.\./escape\.png"):
        load_dataset(root)  # strict loading still stops
    report = check_path(root, task="covid")  # a declared task: 'bronchitis' is unknown
    assert "label" in {p.kind for p in report.problems}
    report = check_path(root)  # undeclared: the task is read from the labels
    kinds = {p.kind for p in report.problems}
    assert {"name", "duplicate", "missing file"} <= kinds and "label" not in kinds
    assert report.task is not None and "bronchitis" in report.task.classes
    assert "trunc.png" in report.unreadable  # the image problem, in the same run
    assert report.overlap == {"p2": ["test", "train"]}
    assert report.missing_patient_ids == 0  # nopid.png is missing, so dropped before
    assert not report.ok
    text = format_report(report)
    for needle in ("../escape.png", "trunc.png: corrupt or truncated", "bronchitis",
                   "gone.png: file not found", "duplicate file name 'dup.png'",
                   "p2: test, train", "status: problems found"):
        assert needle in text
    assert isinstance(report.problems[0], Problem)


def test_cli_data_check_all_problems_and_intensity(tmp_path: Path,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["data", "check", str(_messy_pack(tmp_path / "messy"))]) == 1
    out = capsys.readouterr().out
    assert "../escape.png" in out and "trunc.png: corrupt or truncated" in out
    good = tmp_path / "good"
    (good / "images").mkdir(parents=True)
    _img(good / "images" / "a.png", 0.2)
    Image.fromarray(np.linspace(0, 4095, 32 * 32).reshape(32, 32).astype(np.uint16)).save(
        good / "images" / "b.png")
    (good / "manifest.csv").write_text(
        "filename,label,source,patient_id\na.png,normal,siteA,p1\nb.png,COVID-19,siteB,p2\n")
    assert main(["data", "check", str(good)]) == 0
    out = capsys.readouterr().out
    assert "intensity of the decoded" in out and "status: OK" in out
    row_b = next(line for line in out.splitlines() if line.startswith("siteB"))
    # A 12-bit ramp in a 16-bit PNG is stretched by the window: mean 0.5, p99 near 1.
    cells = row_b.split()
    assert cells[-2:] == ["16/window", "x1"] and cells[3] == "0.500" and float(cells[6]) > 0.95
    row_a = next(line for line in out.splitlines() if line.startswith("siteA"))
    assert "8 x1" in row_a or "8/window x1" in row_a
    assert main(["data", "check", str(good), "--max-pixels", "100"]) == 1
    assert "above the limit of 100" in capsys.readouterr().out


@pytest.fixture(autouse=True)
def _restore_limit() -> Iterator[None]:
    from hideseek.data.io import get_max_pixels, set_max_pixels

    before = get_max_pixels()
    yield
    set_max_pixels(before)


# --- warnings (exit 0, listed) vs problems (exit 1); --strict; --json ---------------------------


def _strict_json(text: str) -> dict[str, object]:
    import json

    return json.loads(text, parse_constant=lambda c: pytest.fail(f"non-strict JSON {c}"))


def test_imagefolder_check_warns_and_passes(tmp_path: Path,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    """An ImageFolder tree never has patient ids: a warning, not a failure."""
    root = _imagefolder(tmp_path / "tree")
    report = check_path(root)
    assert report.ok and report.missing_patient_ids == 6
    assert any("6 of 6 images have no patient_id" in w for w in report.warnings)
    assert any("fewer than 10 images in class COVID-19 (3), normal (2), pneumonia (1)" in w
               for w in report.warnings)
    assert any("one source only (unknown)" in w for w in report.warnings)
    assert main(["data", "check", str(root)]) == 0
    out = capsys.readouterr().out
    assert "warnings: 3" in out and "status: OK with 3 warning(s)" in out
    # --strict: warnings fail (CI pipelines)
    assert main(["data", "check", str(root), "--strict"]) == 1
    assert "failing under --strict" in capsys.readouterr().out


def test_a_clean_manifest_without_patient_ids_passes(tmp_path: Path) -> None:
    for i in range(20):
        _img(tmp_path / "images" / f"{i}.png")
    rows = [f"{i}.png,{'normal' if i % 2 else 'pneumonia'},{'a' if i < 10 else 'b'}"
            for i in range(20)]
    (tmp_path / "manifest.csv").write_text("filename,label,source\n" + "\n".join(rows))
    report = check_path(tmp_path)
    assert report.ok and report.passed() and not report.passed(strict=True)
    assert report.warnings == ["20 of 20 images have no patient_id: each counts as its own "
                               "patient, so splits cannot keep a patient's images together"]
    assert main(["data", "check", str(tmp_path)]) == 0


def test_a_tiny_or_empty_test_split_is_a_warning(tmp_path: Path) -> None:
    for i in range(24):
        _img(tmp_path / "images" / f"{i}.png")
    label = ["normal", "pneumonia", "COVID-19"]
    rows = [f"{i}.png,{label[i % 3]},{'ab'[i % 2]},p{i},{'test' if i < 2 else 'train'}"
            for i in range(24)]
    (tmp_path / "manifest.csv").write_text("filename,label,source,patient_id,split\n"
                                           + "\n".join(rows))
    warnings = check_path(tmp_path).warnings
    assert any("test split holds only 2 image(s)" in w for w in warnings)
    assert any("no image of class COVID-19" in w for w in warnings)
    (tmp_path / "manifest.csv").write_text("filename,label,source,patient_id,split\n"
                                           + "\n".join(r.replace("test", "train") for r in rows))
    assert any("test split is empty" in w for w in check_path(tmp_path).warnings)


def test_check_json_holds_the_whole_report(tmp_path: Path,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    messy = _messy_pack(tmp_path / "messy")
    assert main(["data", "check", str(messy), "--labels", "covid", "--json",
                 str(tmp_path / "c.json")]) == 1
    report = _strict_json((tmp_path / "c.json").read_text())
    assert report["status"] == "problems found" and report["passed"] is False
    problems = report["problems"]
    assert isinstance(problems, dict)
    assert {"name", "duplicate", "label", "missing file", "unreadable",
            "patient in several splits"} <= set(problems)
    assert any("trunc.png" in m for m in problems["unreadable"])
    assert isinstance(report["counts"], list) and isinstance(report["intensity"], list)
    assert isinstance(report["warnings"], list)
    # --no-decode: no statistics at all, and --json - is standard output alone
    capsys.readouterr()
    assert main(["data", "check", str(messy), "--no-decode", "--json", "-"]) == 1
    out = capsys.readouterr().out
    assert _strict_json(out)["intensity"] == []
