"""``hideseek plant``: evidence planted where it should be, on phantoms and real radiographs."""

from __future__ import annotations

import csv
import logging
import shutil
from pathlib import Path

import numpy as np
import pytest

from hideseek.cli import plant_cmds
from hideseek.cli.main import build_parser, main
from hideseek.data import plant
from hideseek.data.io import read_image, read_mask, write_png
from hideseek.data.manifest import CXRDataset, load_dataset
from hideseek.data.phantom import PhantomConfig, write_phantom_dataset
from hideseek.data.plant import PlantConfig, PlantError, plant_dataset
from hideseek.segmentation.postprocess import boxes_mask, lung_boxes


@pytest.fixture(scope="module")
def phantoms(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """30 phantoms of 64 px without evidence, three images per patient."""
    out = tmp_path_factory.mktemp("plant_phantoms")
    write_phantom_dataset(out, PhantomConfig(scenario="null", n=30, size=64, seed=3,
                                             images_per_patient=3))
    return out


def _load(path: Path) -> CXRDataset:
    return load_dataset(path, require_label=False)


def _rows(pack: Path) -> list[dict[str, str]]:
    with (pack / "planted.csv").open(newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def _check_pack(data: CXRDataset, pack: Path, config: PlantConfig) -> list[dict[str, str]]:
    """Every planted image against its original: the marker's changes lie inside its box and
    outside the lung boxes grown by the margin; opacity changes inside the mask; everything else
    is bit-identical."""
    originals = {r.filename: r for r in data.records}
    rows = _rows(pack)
    for row in rows:
        r = originals[row["filename"]]
        before, after = read_image(data.image_path(r)), read_image(pack / "images" / r.filename)
        assert before.shape == after.shape
        mask = read_mask(pack / "masks" / r.filename)
        assert np.array_equal(mask, read_mask(data.mask_path(r) or ""))  # the masks used
        changed = before != after
        allowed = np.zeros_like(changed)
        if row["marker"] == "1":
            x0, y0, x1, y1 = (int(row[f"marker_{k}"]) for k in ("x0", "y0", "x1", "y1"))
            h, w = before.shape
            assert 0 <= x0 < x1 <= w and 0 <= y0 < y1 <= h  # inside the image
            box = np.zeros_like(changed)
            box[y0:y1, x0:x1] = True
            margin = max(2, round(config.margin * min(h, w)))
            lungs = boxes_mask(before.shape, lung_boxes(mask), margin)
            assert not (box & lungs).any(), f"{r.filename}: marker touches a lung box"
            assert not (box & mask).any()
            assert changed[box].any(), f"{r.filename}: the marker is invisible"
            assert np.allclose(after[box & changed], config.marker_intensity, atol=1 / 255)
            allowed |= box
        if row["opacity"] == "1":
            assert changed[mask].any(), f"{r.filename}: no opacity"
            assert (after[mask] >= before[mask]).all()  # opacities raise the intensity
            allowed |= mask
        assert not (changed & ~allowed).any(), f"{r.filename}: pixels changed elsewhere"
    return rows


@pytest.mark.parametrize("shape", plant.MARKER_SHAPES)
@pytest.mark.parametrize("place", plant.MARKER_PLACES)
def test_markers_lie_outside_every_lung_box(phantoms: Path, tmp_path: Path, shape: str,
                                            place: str) -> None:
    data = _load(phantoms)
    config = PlantConfig(contamination=0.7, marker_shape=shape, marker_place=place,
                         marker_size=0.1, seed=5)
    result = plant_dataset(data, None, tmp_path / "pack", config)
    rows = _check_pack(data, tmp_path / "pack", config)
    n_covid = sum(r.label == "COVID-19" for r in data.records)
    assert result.marked_class == "COVID-19"  # the last class by default
    assert result.counts["COVID-19"]["marked"] == round(0.7 * n_covid)
    assert sum(row["marker"] == "1" for row in rows) == round(0.7 * n_covid)
    assert all(row["label"] == "COVID-19" for row in rows if row["marker"] == "1")
    places = {row["marker_place"] for row in rows if row["marker"] == "1"}
    assert place in places  # the place asked for fits on phantoms


def test_dark_marker_below_the_lungs_is_inside_the_body(phantoms: Path, tmp_path: Path) -> None:
    data = _load(phantoms)
    config = PlantConfig(contamination=1.0, marker_place="below", marker_intensity=0.0,
                         marked_class="normal")
    plant_dataset(data, None, tmp_path / "pack", config)
    rows = [row for row in _check_pack(data, tmp_path / "pack", config) if row["marker"] == "1"]
    n_normal = sum(r.label == "normal" for r in data.records)
    assert len(rows) == n_normal and all(row["marker_place"] == "below" for row in rows)
    for row in rows:
        img = read_image(data.images_dir / row["filename"])
        x0, y0, x1, y1 = (int(row[f"marker_{k}"]) for k in ("x0", "y0", "x1", "y1"))
        assert img[y0:y1, x0:x1].mean() > 0.3  # soft tissue, not the air background
        assert float(row["marker_contrast"]) > 0.3


def test_opacities_change_only_pixels_inside_the_mask(phantoms: Path, tmp_path: Path) -> None:
    data = _load(phantoms)
    config = PlantConfig(contamination=0.0, opacity="strong", opacity_class="pneumonia",
                         opacity_fraction=0.5)
    result = plant_dataset(data, None, tmp_path / "pack", config)
    rows = _check_pack(data, tmp_path / "pack", config)
    n_pneumonia = sum(r.label == "pneumonia" for r in data.records)
    assert result.counts["pneumonia"]["opacity"] == round(0.5 * n_pneumonia)
    assert {row["label"] for row in rows if row["opacity"] == "1"} == {"pneumonia"}
    weak = PlantConfig(contamination=0.0, opacity="weak", opacity_class="pneumonia")
    plant_dataset(data, None, tmp_path / "weak", weak)
    _check_pack(data, tmp_path / "weak", weak)
    peaks = {row["filename"]: float(row["opacity_peak"]) for row in rows if row["opacity"] == "1"}
    for row in _rows(tmp_path / "weak"):
        if row["filename"] in peaks:  # weak is a quarter of strong on the same image
            assert float(row["opacity_peak"]) == pytest.approx(peaks[row["filename"]] / 4,
                                                               rel=1e-3)


def test_relabel_keeps_patients_together_and_balances(phantoms: Path, tmp_path: Path) -> None:
    data = _load(phantoms)
    config = PlantConfig(contamination=0.5, relabel=True, classes=("control", "case"), seed=2)
    result = plant_dataset(data, None, tmp_path / "pack", config)
    back = load_dataset(tmp_path / "pack", require_label=False)
    by_patient: dict[str, set[str | None]] = {}
    for r in back.records:
        by_patient.setdefault(r.patient_id, set()).add(r.label)
    assert all(len(labels) == 1 for labels in by_patient.values())
    assert result.counts["control"]["images"] == result.counts["case"]["images"] == 15
    assert result.marked_class == "case" and result.counts["case"]["marked"] == 8  # round(7.5)
    assert result.counts["control"]["marked"] == 0
    originals = {r.filename: r.label for r in data.records}
    assert all(r.extra["original_label"] == originals[r.filename] for r in back.records)
    # Drawn per patient, not from the old label: some old class is split over both new ones.
    old_to_new: dict[str, set[str | None]] = {}
    for r in back.records:
        old_to_new.setdefault(r.extra["original_label"], set()).add(r.label)
    assert any(len(new) == 2 for new in old_to_new.values())


def test_no_room_anywhere_is_counted_not_hidden(phantoms: Path, tmp_path: Path,
                                                caplog: pytest.LogCaptureFixture) -> None:
    config = PlantConfig(contamination=1.0, marker_size=0.25, margin=0.25, opacity="weak")
    with caplog.at_level(logging.WARNING, logger="hideseek.data.plant"):
        result = plant_dataset(_load(phantoms), None, tmp_path / "pack", config)
    n_covid = result.counts["COVID-19"]["images"]
    assert result.marker_unplaceable == n_covid and result.counts["COVID-19"]["marked"] == 0
    assert f"only 0 of the {n_covid} images asked for could take a marker" in caplog.text


def test_deterministic_for_a_seed(phantoms: Path, tmp_path: Path) -> None:
    data = _load(phantoms)
    config = PlantConfig(contamination=0.5, opacity="weak", relabel=True,
                         marker_place="random", marker_shape="ring", seed=11)
    for name in ("a", "b"):
        plant_dataset(data, None, tmp_path / name, config)
    plant_dataset(data, None, tmp_path / "c", PlantConfig(
        contamination=0.5, opacity="weak", relabel=True, marker_place="random",
        marker_shape="ring", seed=12))
    for f in ("planted.csv", "manifest.csv"):
        assert (tmp_path / "a" / f).read_bytes() == (tmp_path / "b" / f).read_bytes()
    for r in data.records:
        assert (tmp_path / "a" / "images" / r.filename).read_bytes() == \
            (tmp_path / "b" / "images" / r.filename).read_bytes()
    assert (tmp_path / "a" / "planted.csv").read_bytes() != \
        (tmp_path / "c" / "planted.csv").read_bytes()


def test_missing_and_empty_masks_are_skipped_and_counted(phantoms: Path, tmp_path: Path,
                                                        caplog: pytest.LogCaptureFixture) -> None:
    copy = tmp_path / "data"
    shutil.copytree(phantoms, copy)
    names = sorted(p.name for p in (copy / "masks").iterdir())
    (copy / "masks" / names[0]).unlink()
    write_png(copy / "masks" / names[1], np.zeros((64, 64), dtype=bool))
    (copy / "images" / names[2]).write_bytes(b"not an image")
    with caplog.at_level(logging.WARNING, logger="hideseek.data.plant"):
        result = plant_dataset(_load(copy), None, tmp_path / "pack", PlantConfig())
    assert result.skipped == {"missing mask": 1, "empty mask": 1, "unreadable image": 1}
    assert result.n_images == 27
    assert "skipped 3 of 30 images" in caplog.text
    assert "skipped: missing mask 1, empty mask 1, unreadable image 1" in result.summary()
    assert not (tmp_path / "pack" / "images" / names[0]).exists()


def test_sixteen_bit_sources_stay_sixteen_bit(phantoms: Path, tmp_path: Path) -> None:
    copy = tmp_path / "data"
    shutil.copytree(phantoms, copy)
    for p in (copy / "images").iterdir():
        write_png(p, read_image(p) * 0.9 + 0.05, bits=16)
    data = _load(copy)
    config = PlantConfig(contamination=0.5, opacity=0.3)
    plant_dataset(data, None, tmp_path / "pack", config)
    _check_pack(data, tmp_path / "pack", config)  # unplanted pixels equal after the round trip
    from PIL import Image

    with Image.open(tmp_path / "pack" / "images" / data.records[0].filename) as img:
        assert img.mode.startswith("I")


def test_unlabelled_folder_with_separate_masks(phantoms: Path, tmp_path: Path) -> None:
    shutil.copytree(phantoms / "images", tmp_path / "bare")
    data = _load(tmp_path / "bare")
    with pytest.raises(PlantError, match="no lung masks.*segment predict"):
        plant_dataset(data, None, tmp_path / "p0", PlantConfig(relabel=True))
    with pytest.raises(PlantError, match="have no label; pass --relabel"):
        plant_dataset(data, phantoms / "masks", tmp_path / "p1", PlantConfig())
    result = plant_dataset(data, phantoms / "masks", tmp_path / "p2", PlantConfig(relabel=True))
    assert result.n_images == 30 and result.counts["planted"]["marked"] == 8


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"contamination": 1.5}, "contamination must be in [0, 1], got 1.5"),
    ({"marker_shape": "star"}, "unknown marker shape 'star'"),
    ({"marker_place": "head"}, "unknown marker place 'head'"),
    ({"marker_size": 0.5}, "marker size must be in (0, 0.25]"),
    ({"marker_intensity": 2.0}, "marker intensity must be in [0, 1]"),
    ({"opacity": "huge"}, "opacity must be none, weak, strong or a number, got 'huge'"),
    ({"classes": ("a",), "relabel": True}, "classes must be at least two"),
    ({"relabel": True, "marked_class": "normal"}, "unknown marked class 'normal'"),
    ({"contamination": 0.0}, "nothing to plant"),
])
def test_bad_configs_give_one_line(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(PlantError) as exc:
        PlantConfig(**kwargs)  # type: ignore[arg-type]
    assert message in str(exc.value) and "\n" not in str(exc.value)


def test_unknown_class_and_used_out_are_refused(phantoms: Path, tmp_path: Path) -> None:
    data = _load(phantoms)
    with pytest.raises(PlantError, match="unknown marked class 'tb'; the classes are normal, "
                       "pneumonia, COVID-19"):
        plant_dataset(data, None, tmp_path / "a", PlantConfig(marked_class="tb"))
    with pytest.raises(PlantError, match="unknown opacity class"):
        plant_dataset(data, None, tmp_path / "b", PlantConfig(opacity="weak",
                                                             opacity_class="tb"))
    (tmp_path / "used").mkdir()
    (tmp_path / "used" / "x").write_text("x")
    with pytest.raises(PlantError, match="not empty"):
        plant_dataset(data, None, tmp_path / "used", PlantConfig())


def test_cli_plants_and_reports(phantoms: Path, tmp_path: Path,
                                capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "pack"
    assert main(["plant", str(phantoms), "--out", str(out), "--relabel", "--contamination",
                 "0.5", "--marker-shape", "letter", "--marker-place", "spine", "--opacity",
                 "weak", "--marker-intensity", "dark", "--classes", "neg,pos"]) == 0
    assert "pos: 15 images, 8 with the marker, 15 with opacities" in capsys.readouterr().out
    back = load_dataset(out, require_label=False)
    assert {"original_label", "planted_marker", "planted_opacity"} <= set(back.records[0].extra)
    assert (out / "plant.json").is_file() and not (tmp_path / "pack.partial").exists()
    assert main(["plant", str(phantoms), "--out", str(tmp_path / "x"), "--contamination",
                 "2"]) == 1
    err = capsys.readouterr().err.strip()
    assert err == "hideseek: error: contamination must be in [0, 1], got 2"
    assert main(["plant", str(phantoms), "--out", str(tmp_path / "y"), "--marked-class",
                 "tb"]) == 1
    assert "unknown marked class 'tb'" in capsys.readouterr().err


def test_cli_help_states_every_default() -> None:
    parser = build_parser()
    sub = next(a for a in parser._actions if a.dest == "command")
    plant_parser = sub.choices["plant"]  # type: ignore[index]
    for action in plant_parser._actions:
        if action.option_strings and action.dest not in ("help", "out", "images"):
            assert "default" in (action.help or ""), action.dest
    assert plant_cmds.MARKER_SHAPES == plant.MARKER_SHAPES
    assert plant_cmds.MARKER_PLACES == plant.MARKER_PLACES


def test_letter_and_ring_stamps() -> None:
    ring = plant.marker_stamp("ring", 21)
    assert ring.shape == (21, 21) and not ring[10, 10] and ring[10, 0]
    letter = plant.marker_stamp("letter", 24, "L")
    assert letter.shape[0] == 24 and 0.3 < letter.mean() < 0.8
    assert not np.array_equal(plant.marker_stamp("letter", 24, "R"), letter)


def _subset(path: Path, per_label: int) -> CXRDataset:
    data = _load(path)
    picked: list[int] = []
    for label in sorted({r.label or "" for r in data.records}):
        picked += [i for i, r in enumerate(data.records) if r.label == label][:per_label]
    return data.with_records([data.records[i] for i in sorted(picked)])


def test_real_shenzhen_radiographs(shenzhen_pack: Path, tmp_path: Path) -> None:
    """Real 512 px radiographs with their own masks and a label the protocol does not know."""
    data = _subset(shenzhen_pack, 4)
    config = PlantConfig(contamination=0.5, marker_shape="letter", marker_place="below",
                         opacity="strong", seed=1)
    result = plant_dataset(data, None, tmp_path / "pack", config)
    rows = _check_pack(data, tmp_path / "pack", config)
    assert result.marked_class == "tuberculosis"
    assert result.counts == {"normal": {"images": 4, "marked": 0, "opacity": 0},
                             "tuberculosis": {"images": 4, "marked": 2, "opacity": 4}}
    for row in rows:
        if row["marker"] == "1":  # the visible field: below the protocol's top crop
            assert int(row["marker_y0"]) >= round(0.08 * 512)


def test_real_cohen_radiographs_not_square(segmentation_pack: Path, tmp_path: Path) -> None:
    """Other hospitals, other masks (V7), images that are not square; random labels."""
    data = _load(segmentation_pack)
    data = data.with_records(data.records[:6])
    for place in ("spine", "corner"):
        config = PlantConfig(contamination=1.0, marker_shape="ring", marker_place=place,
                             opacity="weak", relabel=True, seed=4)
        plant_dataset(data, None, tmp_path / place, config)
        rows = _check_pack(data, tmp_path / place, config)
        assert sum(row["marker"] == "1" for row in rows) == 3
        for row in rows:
            if row["marker"] == "1":
                img = read_image(tmp_path / place / "images" / row["filename"])
                x0, y0, x1, y1 = plant.visible_field(img.shape, 0.08)
                assert x0 <= int(row["marker_x0"]) and int(row["marker_x1"]) <= x1
                assert y0 <= int(row["marker_y0"]) and int(row["marker_y1"]) <= y1
