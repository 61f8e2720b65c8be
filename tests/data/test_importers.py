"""``hideseek data import chexpert|mimic``: small synthetic label files in the native formats
(no real data here), imported and read back with the 14-finding multi-label task."""

from __future__ import annotations

import csv
import gzip
import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from hideseek.cli.main import main
from hideseek.data import load_dataset
from hideseek.data.importers import (
    CHEXPERT_FINDINGS,
    findings_task,
    import_chexpert,
    import_mimic,
)
from hideseek.errors import DataError

SMALL = "CheXpert-v1.0-small"


def _jpg(path: Path, seed: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    pixels = np.random.default_rng(seed).integers(0, 255, (40, 40), dtype=np.uint8)
    Image.fromarray(pixels).save(path, format="JPEG")


def _values(**set_: str) -> list[str]:
    """The 14 findings' native values (blank unless given; keys with _ for spaces)."""
    named = {k.replace("_", " "): v for k, v in set_.items()}
    return [named.get(f, "") for f in CHEXPERT_FINDINGS]


def _chexpert(root: Path, name: str, rows: list[list[str]]) -> Path:
    """``root/CheXpert-v1.0-small/<name>`` with ``rows`` (the images written too)."""
    folder = root / SMALL
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    with path.open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["Path", "Sex", "Age", "Frontal/Lateral", "AP/PA", *CHEXPERT_FINDINGS])
        w.writerows(rows)
    for i, row in enumerate(rows):
        _jpg(root / row[0], i)
    return path


def _train_rows() -> list[list[str]]:
    p = f"{SMALL}/train"
    return [
        [f"{p}/patient00001/study1/view1_frontal.jpg", "Female", "68", "Frontal", "AP",
         *_values(No_Finding="1.0", Support_Devices="1.0", Pleural_Other="0.0")],
        [f"{p}/patient00002/study2/view1_frontal.jpg", "Female", "87", "Frontal", "AP",
         *_values(Cardiomegaly="-1.0", Lung_Opacity="1.0", Edema="-1.0", Fracture="1.0")],
        [f"{p}/patient00002/study1/view1_frontal.jpg", "Female", "83", "Frontal", "PA",
         *_values(Lung_Opacity="1.0", Atelectasis="-1.0")],
        [f"{p}/patient00002/study1/view2_lateral.jpg", "Female", "83", "Lateral", "",
         *_values(Lung_Opacity="1.0", Atelectasis="-1.0")],
    ]


def test_chexpert_import_reads_back_with_the_14_finding_task(tmp_path: Path) -> None:
    csv_path = _chexpert(tmp_path, "train.csv", _train_rows())
    result = import_chexpert([csv_path], tmp_path / "out")
    assert (result.n, result.skipped_views) == (3, 1)  # the lateral view is left out
    assert (tmp_path / "out" / "images").resolve() == tmp_path.resolve()
    with result.manifest.open() as fh:
        rows = list(csv.DictReader(fh))
    assert rows[1]["Cardiomegaly"] == "-1.0" and rows[1]["Lung Opacity"] == "1.0"
    assert rows[1]["Pneumonia"] == ""  # native values kept, blanks too
    assert {r["source"] for r in rows} == {"chexpert"}
    assert [r["patient_id"] for r in rows] == ["patient00001", "patient00002", "patient00002"]
    assert [(r["sex"], r["age"], r["view"]) for r in rows][:1] == [("Female", "68", "AP")]
    data = load_dataset(tmp_path / "out", task=findings_task())
    assert data.task is not None and data.task.multilabel
    assert data.task.classes == CHEXPERT_FINDINGS and len(data.records) == 3
    by_name = {r.filename.split("/train/")[1]: r for r in data.records}
    sick = by_name["patient00002/study2/view1_frontal.jpg"]
    assert sick.findings == ["Lung Opacity", "Fracture"]
    assert sick.uncertain == ("Cardiomegaly", "Edema")  # -1 under the 'ignore' policy
    assert by_name["patient00001/study1/view1_frontal.jpg"].findings == ["No Finding",
                                                                         "Support Devices"]
    assert sick.extra["sex"] == "Female" and sick.extra["study"] == "study2"
    # the other policies: uncertain read as negative / positive
    zeros = load_dataset(tmp_path / "out", task=findings_task("zeros"))
    ones = load_dataset(tmp_path / "out", task=findings_task("ones"))
    pick = "patient00002/study2/view1_frontal.jpg"
    z = next(r for r in zeros.records if r.filename.endswith(pick))
    o = next(r for r in ones.records if r.filename.endswith(pick))
    assert z.findings == ["Lung Opacity", "Fracture"] and z.uncertain == ()
    assert o.findings == ["Cardiomegaly", "Lung Opacity", "Edema", "Fracture"]


def test_chexpert_all_views_and_both_files(tmp_path: Path) -> None:
    train = _chexpert(tmp_path, "train.csv", _train_rows())
    valid = _chexpert(tmp_path, "valid.csv", [
        [f"{SMALL}/valid/patient64541/study1/view1_frontal.jpg", "Male", "73", "Frontal", "AP",
         *_values(No_Finding="0.0", Edema="1.0")]])
    result = import_chexpert([train, valid], tmp_path / "out", views="all")
    assert (result.n, result.skipped_views) == (5, 0)
    data = load_dataset(tmp_path / "out", task=findings_task())
    files = {r.extra["chexpert_file"] for r in data.records}
    assert files == {"train", "valid"}
    lateral = [r for r in data.records if r.extra["view"] == "Lateral"]
    assert len(lateral) == 1 and lateral[0].patient_id == "patient00002"


def _mimic(root: Path, gz: bool = True) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    labels = root / "mimic-cxr-2.0.0-chexpert.csv"
    with labels.open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["subject_id", "study_id", *sorted(CHEXPERT_FINDINGS)])  # MIMIC's order
        order = sorted(CHEXPERT_FINDINGS)
        named = {"Pleural Effusion": "1.0", "Edema": "-1.0", "No Finding": ""}
        w.writerow(["10000032", "50414267", *(named.get(f, "") for f in order)])
        w.writerow(["10000764", "57375967", *("1.0" if f == "No Finding" else "" for f in order)])
    meta_rows = [["dicom_id", "subject_id", "study_id", "PerformedProcedureStepDescription",
                  "ViewPosition", "Rows", "Columns"],
                 ["02aa804e", "10000032", "50414267", "CHEST (PA AND LAT)", "PA", "3056", "2544"],
                 ["174413ec", "10000032", "50414267", "CHEST (PA AND LAT)", "LATERAL", "3056",
                  "2544"],
                 ["2a2277a9", "10000764", "57375967", "CHEST (PORTABLE AP)", "AP", "2705",
                  "2539"],
                 ["68b5c4b1", "10000898", "50771383", "CHEST (PA AND LAT)", "PA", "3056",
                  "2544"]]  # a study without labels
    text = "\n".join(",".join(r) for r in meta_rows) + "\n"
    meta = root / ("mimic-cxr-2.0.0-metadata.csv" + (".gz" if gz else ""))
    if gz:
        with gzip.open(meta, "wt") as fh:
            fh.write(text)
    else:
        meta.write_text(text)
    for i, (dicom, subject, study) in enumerate((("02aa804e", "10000032", "50414267"),
                                                 ("174413ec", "10000032", "50414267"),
                                                 ("2a2277a9", "10000764", "57375967"))):
        _jpg(root / f"files/p{subject[:2]}/p{subject}/s{study}/{dicom}.jpg", i)
    return labels


def test_mimic_import_joins_studies_and_images(tmp_path: Path) -> None:
    labels = _mimic(tmp_path)
    result = import_mimic(labels, tmp_path / "out")  # metadata found beside it (gzipped)
    assert (result.n, result.skipped_views, result.unlabelled) == (2, 1, 1)
    data = load_dataset(tmp_path / "out", task=findings_task())
    names = sorted(r.filename for r in data.records)
    assert names == ["files/p10/p10000032/s50414267/02aa804e.jpg",
                     "files/p10/p10000764/s57375967/2a2277a9.jpg"]
    first = next(r for r in data.records if r.patient_id == "10000032")
    assert first.findings == ["Pleural Effusion"] and first.uncertain == ("Edema",)
    assert first.source == "mimic" and first.extra["view"] == "PA"
    assert first.extra["study_id"] == "50414267"
    every = import_mimic(labels, tmp_path / "all", views="all")
    assert every.n == 3 and every.skipped_views == 0


def test_malformed_files_are_one_line_errors_naming_the_file(tmp_path: Path) -> None:
    bad = tmp_path / "train.csv"
    bad.write_text("Path,Sex,Age\nx.jpg,F,1\n")
    with pytest.raises(DataError, match=r"train\.csv: missing column\(s\) Frontal/Lateral"):
        import_chexpert([bad], tmp_path / "o1")
    rows = _train_rows()
    rows[1][5 + CHEXPERT_FINDINGS.index("Edema")] = "2.0"
    path = _chexpert(tmp_path / "v", "train.csv", rows)
    with pytest.raises(DataError, match=r"train\.csv line 3: .*Edema='2\.0'"):
        import_chexpert([path], tmp_path / "o2")
    labels = _mimic(tmp_path / "m", gz=False)
    (tmp_path / "m" / "mimic-cxr-2.0.0-metadata.csv").unlink()
    with pytest.raises(DataError, match="mimic-cxr-2.0.0-metadata.csv"):
        import_mimic(labels, tmp_path / "o3")


def test_cli_import_then_data_check(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    csv_path = _chexpert(tmp_path, "train.csv", _train_rows())
    out = tmp_path / "out"
    assert main(["data", "import", "chexpert", str(csv_path), "--out", str(out),
                 "--json", str(tmp_path / "import.json")]) == 0
    assert "wrote 3 chexpert images" in capsys.readouterr().out
    assert json.loads((tmp_path / "import.json").read_text())["n"] == 3
    labels = ",".join(CHEXPERT_FINDINGS)
    assert main(["data", "check", str(out), "--multilabel", "--labels", labels]) == 0
    assert main(["data", "import", "mimic", str(csv_path), str(csv_path), "--out",
                 str(tmp_path / "x")]) == 1
    assert "hideseek: error: mimic: one label file" in capsys.readouterr().err
