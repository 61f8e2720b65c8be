"""Dataset loading: pack folders, COVIDx split files and their errors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from hideseek.data.io import write_png
from hideseek.data.labels import normalise_label
from hideseek.data.manifest import load_dataset, safe_relative_name
from hideseek.errors import DataError


def _pack(tmp_path: Path, rows: list[str], files: list[str]) -> Path:
    (tmp_path / "images").mkdir(parents=True)
    for f in files:
        write_png(tmp_path / "images" / f, np.zeros((8, 8), np.float32))
    (tmp_path / "manifest.csv").write_text("filename,label,patient_id\n" + "\n".join(rows) + "\n")
    return tmp_path


@pytest.mark.parametrize(("raw", "want"), [("COVID19", "COVID-19"), ("covid", "COVID-19"),
                                           ("Covid-19", "COVID-19"), ("NORMAL", "normal"),
                                           ("Pneumonia", "pneumonia"), ("pneumnia", None)])
def test_label_normalisation(raw: str, want: str | None) -> None:
    assert normalise_label(raw) == want


def test_pack_loads(tmp_path: Path) -> None:
    data = load_dataset(_pack(tmp_path, ["a.png,covid,p1", "b.png,normal,p2"], ["a.png", "b.png"]))
    assert [r.label for r in data.records] == ["COVID-19", "normal"]
    assert data.records[0].patient_id == "p1" and data.records[0].source == "unknown"


def test_image_is_patient_alone_and_combined(tmp_path: Path) -> None:
    """An image without a patient id counts as its own patient, also once collections are
    combined (its id becomes ``collection/filename``); a real id never does."""
    ids = _pack(tmp_path / "ids", ["a.png,normal,p1", "b.png,normal,p1"], ["a.png", "b.png"])
    none = _pack(tmp_path / "none", ["c.png,normal,", "d.png,normal,"], ["c.png", "d.png"])
    assert [r.image_is_patient for r in load_dataset(none).records] == [True, True]
    both = load_dataset([ids, none], require_label=False).records
    assert [r.image_is_patient for r in both] == [False, False, True, True]
    assert both[2].patient_id == both[2].key


def test_every_label_typo_is_listed(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    root = _pack(tmp_path, ["a.png,pneumnia,p1", "b.png,normal,p2", "c.png,covd,p3"],
                 ["a.png", "b.png", "c.png"])
    with pytest.raises(DataError) as err:  # a declared task knows its labels
        load_dataset(root, task="covid")
    msg = str(err.value)
    assert "'pneumnia'" in msg and "'covd'" in msg and "line 2" in msg and "line 4" in msg
    with caplog.at_level("WARNING"):  # undeclared: read as written, and said
        data = load_dataset(root)
    assert data.task is not None and data.task.classes == ("covd", "normal", "pneumnia")
    assert "'pneumnia' looks like 'pneumonia'" in caplog.text
    assert "'covd' looks like 'COVID-19'" in caplog.text


@pytest.mark.parametrize("name", ["../etc/passwd.png", "/abs/x.png", "a/../../b.png"])
def test_unsafe_names_refused(tmp_path: Path, name: str) -> None:
    root = _pack(tmp_path, [f"{name},normal,p1"], [])
    with pytest.raises(DataError, match="absolute or contains '..'"):
        load_dataset(root)
    assert safe_relative_name(name) is None


def test_duplicate_file_name(tmp_path: Path) -> None:
    root = _pack(tmp_path, ["a.png,normal,p1", "a.png,normal,p1"], ["a.png"])
    with pytest.raises(DataError, match="duplicate file name 'a.png'"):
        load_dataset(root)


def test_all_missing_files_reported(tmp_path: Path) -> None:
    root = _pack(tmp_path, ["a.png,normal,p1", "b.png,normal,p2", "c.png,normal,p3"], ["b.png"])
    with pytest.raises(DataError) as err:
        load_dataset(root)
    assert "a.png" in str(err.value) and "c.png" in str(err.value) and "(2)" in str(err.value)


def test_missing_columns_and_manifest(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="no manifest.csv"):
        load_dataset(tmp_path)
    (tmp_path / "manifest.csv").write_text("name,class\nx.png,normal\n")
    with pytest.raises(DataError, match="missing column"):
        load_dataset(tmp_path)


def test_covidx_split_files(tmp_path: Path) -> None:
    images = tmp_path / "imgs"
    (images / "train").mkdir(parents=True)
    (images / "test").mkdir(parents=True)
    for f in ("train/a.png", "train/b.png", "test/c.png"):
        write_png(images / f, np.zeros((8, 8), np.float32))
    (tmp_path / "train_COVIDx5.txt").write_text("p1 a.png normal rsna\np2 b.png COVID-19 cohen\n")
    (tmp_path / "test_COVIDx5.txt").write_text("p3 c.png pneumonia rsna\n")
    data = load_dataset([tmp_path / "train_COVIDx5.txt", tmp_path / "test_COVIDx5.txt"],
                        images=images)
    assert [(r.filename, r.split, r.source) for r in data.records] == [
        ("train/a.png", "train", "rsna"), ("train/b.png", "train", "cohen"),
        ("test/c.png", "test", "rsna")]
    with pytest.raises(DataError, match="needs --images"):
        load_dataset(tmp_path / "train_COVIDx5.txt")


def test_binary_covidx_labels_say_what_negative_means(tmp_path: Path,
                                                       caplog: pytest.LogCaptureFixture) -> None:
    """COVIDx CXR-2 and later label images positive / negative: a binary task (negative,
    COVID-19), and what 'negative' holds is said."""
    images = tmp_path / "imgs" / "train"
    images.mkdir(parents=True)
    for f in ("a.png", "b.png", "c.png"):
        write_png(images / f, np.zeros((8, 8), np.float32))
    (tmp_path / "train.txt").write_text("p1 a.png negative rsna\np2 b.png positive cohen\n"
                                        "p3 c.png negative rsna\n")
    with caplog.at_level("WARNING"):
        data = load_dataset(tmp_path / "train.txt", images=tmp_path / "imgs")
    assert data.task is not None and data.task.classes == ("negative", "COVID-19")
    assert [r.label for r in data.records] == ["negative", "COVID-19", "negative"]
    assert data.task.primary == "COVID-19"
    assert "labelled 'positive' are read as 'COVID-19'" in caplog.text
    assert "'negative' holds normal and non-COVID pneumonia" in caplog.text


def test_commands_that_need_no_labels_do_not_talk_about_them(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """COVID-QU-Ex labels (non-COVID) read by a segmentation command: the preset's renaming is
    said at debug level only; a classification load still warns."""
    root = _pack(tmp_path, ["a.png,non-COVID,p1", "b.png,normal,p2", "c.png,COVID-19,p3"],
                 ["a.png", "b.png", "c.png"])
    with caplog.at_level("WARNING"):
        data = load_dataset(root, require_label=False)
    assert len(data.records) == 3 and "read as" not in caplog.text, caplog.text
    with caplog.at_level("WARNING"):
        load_dataset(root)
    assert "labelled 'non-COVID' are read as 'pneumonia'" in caplog.text


def test_covidx_malformed_line(tmp_path: Path) -> None:
    (tmp_path / "imgs").mkdir()
    (tmp_path / "train.txt").write_text("p1 only_two\n")
    with pytest.raises(DataError, match="line 1"):
        load_dataset(tmp_path / "train.txt", images=tmp_path / "imgs")
