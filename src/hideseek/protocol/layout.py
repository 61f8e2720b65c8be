"""Names of a protocol run: the cell key and every path of a run folder, in one place."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from hideseek.naming import safe_name

__all__ = ["CellKey", "RunLayout"]


@dataclass(frozen=True, order=True)
class CellKey:
    """One cell: an architecture trained on one representation with one seed."""

    arch: str
    representation: str
    seed: int

    @property
    def id(self) -> str:
        """``"<arch>/<representation>/seed<seed>"`` (the key in ``results.json``)."""
        return f"{self.arch}/{self.representation}/seed{self.seed}"

    @classmethod
    def parse(cls, text: str) -> CellKey:
        """The key back from its :attr:`id`."""
        arch, rep, seed = text.rsplit("/", 2)
        if not seed.startswith("seed"):
            raise ValueError(f"not a cell id: {text!r}")
        return cls(arch, rep, int(seed[4:]))


@dataclass(frozen=True)
class RunLayout:
    """Every path of a run folder (``hideseek run`` / ``hideseek demo``)."""

    root: Path

    def cell(self, key: CellKey) -> Path:
        """A cell's folder: ``cells/<arch>/<representation>/seed<seed>``."""
        return self.root / "cells" / safe_name(key.arch) / key.representation / f"seed{key.seed}"

    def predictions(self, key: CellKey) -> Path:
        """A cell's test predictions (what the verdict rule reads)."""
        return self.cell(key) / "predictions.csv"

    def audit(self, arch: str) -> Path:
        """The test-time audit of an architecture's ``data`` model."""
        return self.root / "audit" / f"{safe_name(arch)}.json"

    def external(self, key: CellKey) -> Path:
        """``external/<arch>/<representation>/seed<seed>.json``: a cell on the external test."""
        return self.root / "external" / key.arch / key.representation / f"seed{key.seed}.json"

    def cam(self, arch: str) -> Path:
        """An architecture's Grad-CAM folder."""
        return self.root / "cam" / safe_name(arch)

    @property
    def config(self) -> Path:
        """The resolved config."""
        return self.root / "config.resolved.yaml"

    @property
    def environment(self) -> Path:
        """Versions and hashes."""
        return self.root / "environment.json"

    @property
    def segmentation(self) -> Path:
        """Predicted masks (when the config gives none)."""
        return self.root / "segmentation"

    @property
    def mask_qc(self) -> Path:
        """Mask quality table."""
        return self.root / "mask_qc.json"

    @property
    def figures(self) -> Path:
        """Figures folder."""
        return self.root / "figures"

    @property
    def fig1(self) -> Path:
        """Fig. 1 (the representations)."""
        return self.figures / "fig1.png"

    def forest(self, arch: str) -> Path:
        """An architecture's forest plot of retained skill per class."""
        return self.figures / f"forest_{safe_name(arch)}.png"

    @property
    def comparisons(self) -> Path:
        """Paired comparisons with ``data``."""
        return self.root / "comparisons.json"

    @property
    def verdicts(self) -> Path:
        """The verdicts."""
        return self.root / "verdicts.json"

    @property
    def results(self) -> Path:
        """Everything the report is made from."""
        return self.root / "results.json"

    @property
    def probe(self) -> Path:
        """The source probe's folder."""
        return self.root / "probe"

    @property
    def tables(self) -> Path:
        """CSV / Markdown tables."""
        return self.root / "tables"

    @property
    def report(self) -> Path:
        """The HTML report."""
        return self.root / "report.html"
