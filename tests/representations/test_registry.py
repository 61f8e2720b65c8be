"""The representation registry: a toy version registered from outside the package, and the
``lungs_silhouette`` control, each run through every consumer (transform, training dataset,
``hideseek represent`` writer, CLI choices, titles, config validators)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from hideseek.classification.config import TrainConfig
from hideseek.classification.data import representation_dataset
from hideseek.cli.main import build_parser
from hideseek.data import load_dataset, read_image, read_mask
from hideseek.errors import HideseekError
from hideseek.plotting import REPRESENTATION_TITLES
from hideseek.protocol.config import ProtocolConfig
from hideseek.representations import (
    REPRESENTATIONS,
    RepresentationSpec,
    RepresentOptions,
    apply_representation,
    check_representations,
    get_representation,
    hidden_representations,
    register_representation,
    representation_names,
    unregister_representation,
    write_representations,
)
from hideseek.segmentation.postprocess import Box

TOY = "lungs_left_only"


def _left_lung(mask: np.ndarray, box_margin: int, boxes: list[Box] | None) -> np.ndarray:
    """The lung pixels in the left half of the image."""
    keep = mask.astype(bool).copy()
    keep[:, mask.shape[1] // 2:] = False
    return keep


@pytest.fixture
def toy() -> Iterator[RepresentationSpec]:
    spec = register_representation(RepresentationSpec(
        TOY, "left lung only", "only the lung in the image's left half", region=_left_lung))
    yield spec
    unregister_representation(TOY)


@pytest.fixture(scope="module")
def small(phantom_lungs: Path) -> Path:
    return phantom_lungs


def _first(root: Path) -> tuple[np.ndarray, np.ndarray]:
    data = load_dataset(root)
    assert data.masks_dir is not None
    image = read_image(data.image_path(data.records[0]))
    return image, read_mask(data.masks_dir / data.records[0].filename, image.shape)


def test_builtins_are_registered_in_the_paper_order() -> None:
    assert REPRESENTATIONS == ("data", "lungs_isolated", "lungs_removed", "lungs_framed",
                               "lungs_boxed_out")
    assert representation_names()[:5] == REPRESENTATIONS
    assert representation_names(controls=False) == REPRESENTATIONS
    assert hidden_representations() == ("lungs_removed", "lungs_boxed_out")
    assert not get_representation("data").needs_mask
    assert REPRESENTATION_TITLES["data"] == "original"


def test_unknown_names_and_clashes_are_clear_errors() -> None:
    with pytest.raises(HideseekError, match="unknown representation 'nope'; choose from data, "):
        get_representation("nope")
    with pytest.raises(ValueError, match="lungs_silhouette"):
        check_representations(["data", "nope"])
    with pytest.raises(HideseekError, match="already registered"):
        register_representation(get_representation("data"))
    with pytest.raises(HideseekError, match="exactly one of region and render"):
        RepresentationSpec("bad", "bad", "bad")


def test_toy_runs_through_the_transform(toy: RepresentationSpec, small: Path) -> None:
    image, mask = _first(small)
    keep = _left_lung(mask, 0, None)
    out = apply_representation(TOY, image, mask)
    np.testing.assert_array_equal(out[keep], image[keep])
    assert keep.sum() > 50 and not out[~keep].any()
    mean = apply_representation(TOY, image, mask, fill="mean")
    np.testing.assert_allclose(mean[~keep], image[keep].mean(), rtol=1e-6)


def test_toy_is_listed_by_every_consumer(toy: RepresentationSpec, small: Path) -> None:
    assert TOY in representation_names() and TOY not in hidden_representations()
    assert REPRESENTATION_TITLES[TOY] == "left lung only"
    assert TrainConfig(representation=TOY).representation == TOY
    assert TOY in ProtocolConfig(data=[str(small)], representations=[TOY]).representations
    args = build_parser().parse_args(["represent", str(small), "--masks", "m", "--out", "o",
                                      "--representations", TOY])
    assert args.representations == [TOY]


def test_toy_runs_through_the_training_dataset(toy: RepresentationSpec, small: Path,
                                               tmp_path: Path) -> None:
    data = load_dataset(small)
    cfg = TrainConfig(representation=TOY, image_size=32, pretrained=False)
    ds = representation_dataset(data, data.records[:4], cfg, data.masks_dir, tmp_path / "c",
                                train=False)
    for i in range(4):
        x, mask = ds.array(i), ds.mask(i)
        assert x.shape == (32, 32)
        assert not x[~_left_lung(mask, 0, None)].any()  # nothing outside the left lung
        assert x[:, :16].any() and not x[:, 16:].any()


def test_toy_runs_through_the_writer(toy: RepresentationSpec, small: Path,
                                     tmp_path: Path) -> None:
    data = load_dataset(small)
    sub = data.with_records(data.records[:4])
    assert data.masks_dir is not None
    summary = write_representations(sub, data.masks_dir, tmp_path / "out", RepresentOptions(
        workers=1, representations=("data", TOY)))
    assert summary["written"] == 4 and summary["options"]["representations"] == ["data", TOY]
    written = load_dataset(tmp_path / "out" / TOY)
    assert [r.filename for r in written.records] == [r.filename for r in sub.records]
    for r in sub.records:
        image = read_image(data.image_path(r))
        want = apply_representation(TOY, image, read_mask(data.masks_dir / r.filename))
        got = read_image(tmp_path / "out" / TOY / "images" / r.filename)
        np.testing.assert_array_equal(got, np.round(want * 255) / 255)
    assert not (tmp_path / "out" / "lungs_removed").exists()


def test_silhouette_is_the_mask_alone(small: Path) -> None:
    spec = get_representation("lungs_silhouette")
    assert spec.control and not spec.hides_lungs and spec.needs_mask
    assert "lungs_silhouette" not in REPRESENTATIONS
    assert "lungs_silhouette" not in hidden_representations()
    assert REPRESENTATION_TITLES["lungs_silhouette"] == "lungs silhouette"
    image, mask = _first(small)
    out = apply_representation("lungs_silhouette", image, mask)
    assert out.dtype == np.float32
    np.testing.assert_array_equal(out, mask.astype(np.float32))
    other = apply_representation("lungs_silhouette", 1.0 - image, mask, fill="linear")
    np.testing.assert_array_equal(other, out)  # the image is never read


def test_silhouette_runs_through_the_dataset_and_the_writer(small: Path, tmp_path: Path) -> None:
    data = load_dataset(small)
    assert data.masks_dir is not None
    cfg = TrainConfig(representation="lungs_silhouette", image_size=32, pretrained=False)
    ds = representation_dataset(data, data.records[:3], cfg, data.masks_dir, tmp_path / "c",
                                train=False)
    for i in range(3):
        np.testing.assert_array_equal(ds.array(i), ds.mask(i).astype(np.float32))
    sub = data.with_records(data.records[:3])
    write_representations(sub, data.masks_dir, tmp_path / "out", RepresentOptions(
        workers=1, representations=("lungs_silhouette",)))
    for r in sub.records:
        got = read_image(tmp_path / "out" / "lungs_silhouette" / "images" / r.filename)
        mask = read_mask(data.masks_dir / r.filename, got.shape)
        np.testing.assert_array_equal(got, mask.astype(np.float32))
    args = build_parser().parse_args(["train", str(small), "--out", "o", "--representation",
                                      "lungs_silhouette"])
    assert TrainConfig(representation=args.representation).representation == "lungs_silhouette"


def test_figure_columns_come_from_the_registry(toy: RepresentationSpec, small: Path,
                                               tmp_path: Path) -> None:
    from hideseek.representations import assess_masks, figure_samples, representation_figure

    data = load_dataset(small)
    assert data.masks_dir is not None
    samples = figure_samples(data, assess_masks(data.with_records(data.records[:6]),
                                                data.masks_dir))
    assert samples and {s[0] for s in samples} <= {"normal", "pneumonia", "COVID-19"}
    path = representation_figure(tmp_path / "f.png", samples[:1],
                                 representations=("data", TOY, "lungs_silhouette"))
    assert path.stat().st_size > 1000
