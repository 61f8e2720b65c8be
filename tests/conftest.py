"""Shared fixtures: the real data packs in ../shared/data and small phantom datasets."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from hideseek.data.phantom import PhantomConfig, write_phantom_dataset

ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("HIDESEEK_SHARED_DATA", ROOT.parent / "shared" / "data"))


@pytest.fixture(autouse=True)
def _quiet(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HIDESEEK_PROGRESS", "0")


def _shared(name: str) -> Path:
    path = SHARED / name
    if not (path / "manifest.csv").is_file():
        if os.environ.get("CI"):
            pytest.fail(f"CI is set but the shared data pack {path} is missing")
        pytest.skip(f"shared data pack {path} not present")
    return path


@pytest.fixture(scope="session")
def classification_pack() -> Path:
    """The real classification pack (433 CXRs)."""
    return _shared("classification")


@pytest.fixture(scope="session")
def segmentation_pack() -> Path:
    """The real segmentation pack (117 CXRs with lung masks)."""
    return _shared("segmentation")


@pytest.fixture(scope="session")
def shenzhen_pack() -> Path:
    """The real Shenzhen pack (566 CXRs with lung masks, labels normal / tuberculosis)."""
    return _shared("segmentation-shenzhen")


@pytest.fixture(scope="session")
def phantom_lungs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small ``lungs`` phantom dataset (60 images, 64 px)."""
    out = tmp_path_factory.mktemp("phantom_lungs")
    write_phantom_dataset(out, PhantomConfig(scenario="lungs", n=60, size=64, seed=1))
    return out


@pytest.fixture(scope="session")
def phantom_shortcut(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small ``shortcut`` phantom dataset (60 images, 64 px)."""
    out = tmp_path_factory.mktemp("phantom_shortcut")
    write_phantom_dataset(out, PhantomConfig(scenario="shortcut", n=60, size=64, seed=2))
    return out
