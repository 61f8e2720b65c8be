"""Grad-CAM: maps, hooks released, no memory growth, numbers by hand."""

from __future__ import annotations

import gc
import tracemalloc

import numpy as np
import pytest
import torch

from hideseek.explanation import GradCAM, attribution_numbers, outside_region, summarise
from hideseek.models import ARCHITECTURES, build_model, target_layer


@pytest.mark.parametrize("arch", list(ARCHITECTURES))
def test_maps_for_every_architecture(arch: str) -> None:
    model = build_model(arch, 3, pretrained=False)
    cam = GradCAM(model, target_layer(model))
    x = torch.rand(2, 1, 64, 64)
    out = cam(x, {"predicted": None, "true": torch.tensor([0, 2])})
    assert out.maps["predicted"].shape == (2, 64, 64)
    assert (out.maps["true"] >= 0).all() and torch.isfinite(out.maps["true"]).all()
    assert not target_layer(model)._forward_hooks  # released


def test_hook_released_on_error() -> None:
    model = build_model("resnet18", 3, pretrained=False)
    cam = GradCAM(model, target_layer(model))
    with pytest.raises(RuntimeError):
        cam(torch.rand(2, 5, 32, 32), {"predicted": None})  # wrong channel count
    assert not target_layer(model)._forward_hooks


def test_no_memory_growth_over_many_batches() -> None:
    model = build_model("resnet18", 3, pretrained=False)
    cam = GradCAM(model, target_layer(model))
    x = torch.rand(8, 1, 32, 32)
    for _ in range(5):
        cam(x, {"predicted": None})
    gc.collect()
    tracemalloc.start()
    before = tracemalloc.take_snapshot()
    for _ in range(150):  # 1200 images
        cam(x, {"predicted": None, "true": torch.zeros(8, dtype=torch.long)})
    gc.collect()
    after = tracemalloc.take_snapshot()
    tracemalloc.stop()
    grown = sum(s.size_diff for s in after.compare_to(before, "filename"))
    assert grown < 2_000_000  # bytes of Python objects; leaked graphs or hooks would show


def test_attribution_numbers_by_hand() -> None:
    mask = np.zeros((10, 10), bool)
    mask[:, :5] = True  # half the image
    boxes = mask.copy()
    cam = np.zeros((10, 10))
    cam[:, :5] = 3.0
    cam[:, 5:] = 1.0
    n = attribution_numbers(cam, mask, boxes)
    assert n["lung_share"] == pytest.approx(0.75)
    assert n["lung_ratio"] == pytest.approx(1.5)
    assert n["box_share"] == pytest.approx(0.75) and n["pointing"] == 1.0
    assert np.isnan(attribution_numbers(np.zeros((10, 10)), mask, boxes)["lung_ratio"])


def test_outside_region_has_the_lung_area_and_avoids_the_lungs() -> None:
    mask = np.zeros((64, 64), bool)
    mask[10:40, 10:30] = True
    region = outside_region(mask, np.random.default_rng(0))
    assert not (region & mask).any()
    assert abs(int(region.sum()) - int(mask.sum())) <= 64


def test_summarise_shape() -> None:
    rows = [{"label": "normal", "lung_share": 0.5, "lung_ratio": 2.0, "box_share": 0.6,
             "pointing": 1.0, "occlusion": 0.1} for _ in range(5)]
    s = summarise(rows, ["normal", "COVID-19"], n_boot=50)
    assert s["normal"].lung_ratio.value == pytest.approx(2.0)
    assert s["COVID-19"].n == 0 and s["all"].n == 5


@pytest.mark.parametrize(("size", "cells"), [(64, 8), (96, 12), (224, 7)])
def test_target_layer_has_at_least_7_cells_at_the_input_size(size: int, cells: int) -> None:
    model = build_model("resnet18", 3, pretrained=False)
    out = GradCAM(model, target_layer(model, input_size=size))(
        torch.rand(1, 1, size, size), {"predicted": None})
    assert out.grid == (cells, cells)
    assert target_layer(model) is model.backbone.layer4[-1]  # unchanged without a size


def test_null_of_random_maps_at_the_map_resolution() -> None:
    from hideseek.explanation.measures import null_numbers

    mask = np.zeros((96, 96), bool)
    mask[20:70, 10:40] = True
    mask[20:70, 56:86] = True
    boxes = mask.copy()
    rng = np.random.default_rng(0)
    fine = null_numbers(mask, boxes, (96, 96), rng, n_maps=16)
    assert fine["lung_ratio"] == pytest.approx(1.0, abs=0.05)
    assert fine["pointing"] == pytest.approx(mask.mean(), abs=0.2)
    coarse = null_numbers(mask, boxes, (3, 3), rng, n_maps=64)
    assert np.isfinite(coarse["lung_ratio"]) and 0.0 <= coarse["pointing"] <= 1.0


def test_stratified_sample_covers_every_stratum_and_is_seeded() -> None:
    from hideseek.data.manifest import Record
    from hideseek.explanation.runner import stratified_sample

    recs = [Record(f"{i}.png", lab, src, str(i)) for i, (lab, src) in enumerate(
        [("normal", "a")] * 50 + [("COVID-19", "b")] * 8 + [("pneumonia", "a")] * 2)]
    s = stratified_sample(recs, 12, seed=3)
    assert len(s) == 12 and {(r.label, r.source) for r in s} == {
        ("normal", "a"), ("COVID-19", "b"), ("pneumonia", "a")}
    assert [r.filename for r in s] == [r.filename for r in stratified_sample(recs, 12, 3)]
    assert s != recs[:12]  # not the first N


def test_summarise_counts_zero_maps_and_separates_outcomes() -> None:
    rows = [{"label": "normal", "prediction": "normal" if i % 2 else "COVID-19",
             "patient_id": f"p{i % 4}", "lung_share": np.nan if i == 0 else 0.5,
             "lung_ratio": 2.0 if i % 2 else 1.0, "box_share": 0.6, "pointing": 1.0,
             "occlusion": 0.1, "null_lung_ratio": 1.1, "lung_area": 0.25, "box_area": 0.4}
            for i in range(20)]
    s = summarise(rows, ["normal"], n_boot=100)["normal"]
    assert s.n_zero_maps == 1 and s.by_outcome is not None
    assert s.by_outcome["correct"].lung_ratio.value == pytest.approx(2.0)
    assert s.by_outcome["wrong"].lung_ratio.value == pytest.approx(1.0)
    assert s.lung_ratio.null.value == pytest.approx(1.1)
    assert s.lung_share.null_uniform == pytest.approx(0.25)
    assert s.lung_ratio.ci[0] < 1.5 < s.lung_ratio.ci[1]
