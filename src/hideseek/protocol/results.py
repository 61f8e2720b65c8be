"""The typed result of one protocol run: what ``run_protocol`` returns and the report reads.

:class:`RunResult` is written as ``results.json`` by :func:`hideseek.jsonio.dumps` and read
back by :func:`hideseek.jsonio.from_json` (``RunResult.from_json``) with the JSON keys the file
has always had; the records below type the parts the report reads and keep every other key of
their JSON (``extra``), so that a file round-trips unchanged (``tests/protocol/
test_report_consistency.py``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from hideseek.classification.results import Comparison, Estimate, EvalResult, Metrics
from hideseek.engine.convergence import Convergence
from hideseek.explanation.measures import CamResult
from hideseek.jsonio import OMIT_NONE, REST, from_json, to_json
from hideseek.protocol.cells import CellResult
from hideseek.protocol.layout import CellKey

__all__ = ["AuditContrast", "AuditDecisionRecord", "AuditRecord", "CamRecord",
           "ClassVerdictRecord", "FillCheck", "FindingDrops", "MaskPerturbation",
           "PerturbedVerdict", "ProbeRecord", "ProbeRepresentation", "RunResult",
           "VerdictRecord"]


@dataclass(frozen=True)
class PerturbedVerdict:
    """The verdict made again on shrunk (``erode``) or grown (``dilate``) lung masks."""

    verdict: str
    flags: list[str] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict, metadata=REST)


@dataclass(frozen=True)
class MaskPerturbation:
    """Whether a verdict holds when the lung masks are off by ``change`` of the lung width.

    Attributes:
        verdict: The verdict on the masks as given.
        holds: Both perturbed verdicts equal it.
        retrained: The hidden versions' models were trained again on the perturbed masks
            (``mask_perturbation: retrain``), not only re-tested.
    """

    change: float
    erode: PerturbedVerdict
    dilate: PerturbedVerdict
    verdict: str
    holds: bool
    retrained: bool = False
    extra: dict[str, Any] = field(default_factory=dict, metadata=REST)


@dataclass(frozen=True)
class ClassVerdictRecord:
    """One class (finding) of a verdict: its verdict, retained skill and AUC per version."""

    verdict: str
    retained: dict[str, Estimate] = field(default_factory=dict)
    auc: dict[str, Estimate] = field(default_factory=dict)
    per_hidden: dict[str, str] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict, metadata=REST)


@dataclass(frozen=True)
class VerdictRecord:
    """One architecture's ``verdicts.json`` entry (docs/VERDICTS.md).

    Attributes:
        retained: Retained skill of the architecture's endpoint per hidden version.
        balanced_accuracy: The architecture's endpoint per version (multi-label: macro AUC).
        n_test: Test images; ``n_patients`` their patients.
        undertrained: Models that stopped before learning what their input allows, in words.
        convergence: Per representation: its cell's convergence record (a list with several
            seeds); read with :meth:`convergence_of`.
        mask_perturbation: The verdict on shrunk / grown masks, when the run asked for it.
    """

    verdict: str
    sentence: str
    rule: str = ""
    flags: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    task: dict[str, Any] | None = None
    undertrained: list[str] = field(default_factory=list)
    retained: dict[str, Estimate] = field(default_factory=dict)
    per_class: dict[str, ClassVerdictRecord] = field(default_factory=dict)
    balanced_accuracy: dict[str, Estimate] = field(default_factory=dict)
    n_test: int = 0
    n_patients: int = 0
    seeds: list[int] = field(default_factory=list)
    convergence: dict[str, Any] = field(default_factory=dict)
    figures: dict[str, Any] = field(default_factory=dict)
    split_seed: int | None = None
    mask_perturbation: MaskPerturbation | None = field(default=None, metadata=OMIT_NONE)
    extra: dict[str, Any] = field(default_factory=dict, metadata=REST)

    @property
    def multilabel(self) -> bool:
        """The verdict is on findings (macro AUC), not classes."""
        return (self.task or {}).get("kind") == "multilabel"

    def convergence_of(self, rep: str) -> list[Convergence]:
        """The convergence records of ``rep``'s cells (one per seed; none when unknown)."""
        found = self.convergence.get(rep)
        records = found if isinstance(found, list) else [found]
        return [from_json(Convergence, r) for r in records if isinstance(r, dict)]


@dataclass(frozen=True)
class FindingDrops:
    """One finding's drops on its AUC (a multi-label audit)."""

    drop: Estimate
    control_drop: Estimate
    net_drop: Estimate
    hidden: Estimate


@dataclass(frozen=True)
class AuditContrast(Comparison):
    """One version against ``data`` in the audit: McNemar and the accuracy difference, and for
    a version that hides the lungs its matched control (docs/AUDIT.md, "The numbers")."""

    drop: Estimate | None = field(default=None, metadata=OMIT_NONE)
    control_drop: Estimate | None = field(default=None, metadata=OMIT_NONE)
    net_drop: Estimate | None = field(default=None, metadata=OMIT_NONE)
    hidden_balanced_accuracy: Estimate | None = field(default=None, metadata=OMIT_NONE)
    probability: dict[str, Estimate] | None = field(default=None, metadata=OMIT_NONE)
    per_finding: dict[str, FindingDrops] | None = field(default=None, metadata=OMIT_NONE)
    extra: dict[str, Any] = field(default_factory=dict, metadata=REST)

    @property
    def controlled(self) -> bool:
        """The version hides the lungs and has a matched control."""
        return self.net_drop is not None

    @property
    def control_area_ratio(self) -> float | None:
        """Mean control area over hidden area (1.0: matched)."""
        value = self.extra.get("control_area_ratio")
        return None if value is None else float(value)

    @property
    def control_disturbance_ratio(self) -> float | None:
        """Mean change of the control region over that of the hidden region (1.0: matched)."""
        value = self.extra.get("control_disturbance_ratio")
        return None if value is None else float(value)


@dataclass(frozen=True)
class FillCheck:
    """How well a probe tells the fill from real tissue (``fill_detectability``)."""

    auc: float | None
    ci: tuple[float | None, float | None]
    detectable: bool
    fill: str | None = field(default=None, metadata=OMIT_NONE)
    extra: dict[str, Any] = field(default_factory=dict, metadata=REST)


@dataclass(frozen=True)
class AuditDecisionRecord:
    """The audit's verdict on one model and what it rests on (``audit`` of the audit JSON)."""

    verdict: str
    reason: str
    scope: str = ""
    level: float = 0.95
    flags: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    endpoint: str = "balanced_accuracy"
    per_finding: dict[str, str] | None = field(default=None, metadata=OMIT_NONE)
    per_finding_reasons: dict[str, str] | None = field(default=None, metadata=OMIT_NONE)
    extra: dict[str, Any] = field(default_factory=dict, metadata=REST)


@dataclass(frozen=True)
class AuditRecord:
    """The test-time audit of one architecture's originals' model (``audit/<arch>.json``).

    Attributes:
        representations: The model's metrics on every version of the test images.
        vs_data: Each version against ``data`` (with its matched control when it hides the
            lungs).
        fill: The fill used; ``fill_source`` why (``default``, ``training``, ``given``).
        audit_verdict: The audit's verdict (None: run without controls).
    """

    representations: dict[str, Metrics]
    vs_data: dict[str, AuditContrast]
    n: int = 0
    fill: str | None = None
    fill_source: str | None = None
    fill_detectability: dict[str, FillCheck] | None = field(default=None, metadata=OMIT_NONE)
    audit_verdict: str | None = field(default=None, metadata=OMIT_NONE)
    audit: AuditDecisionRecord | None = field(default=None, metadata=OMIT_NONE)
    mask_perturbation: MaskPerturbation | None = field(default=None, metadata=OMIT_NONE)
    extra: dict[str, Any] = field(default_factory=dict, metadata=REST)


@dataclass(frozen=True)
class CamRecord(CamResult):
    """One architecture's Grad-CAM numbers (``cam/<arch>/cam.json``) and their folder."""

    folder: str | None = field(default=None, metadata=OMIT_NONE)
    extra: dict[str, Any] = field(default_factory=dict, metadata=REST)


@dataclass(frozen=True)
class ProbeRepresentation:
    """The source probe on one version: source accuracy and the label-informed chance."""

    accuracy: Estimate
    n: int
    chance: float | None = None
    extra: dict[str, Any] = field(default_factory=dict, metadata=REST)


@dataclass(frozen=True)
class ProbeRecord:
    """The source probe (``probe/probe.json``); ``note`` says why it trained nothing."""

    sources: list[str]
    representations: dict[str, ProbeRepresentation]
    note: str | None = field(default=None, metadata=OMIT_NONE)
    extra: dict[str, Any] = field(default_factory=dict, metadata=REST)


@dataclass(frozen=True)
class RunResult:
    """Everything one protocol run found (``results.json``), read by the report.

    Attributes:
        config: The resolved protocol config (its JSON form).
        environment: Versions and hashes (``environment.json``).
        mask_qc: The mask quality table, one row per label and source.
        figures: Paths of the run's figures (``fig1``).
        cells: Each cell's record, keyed by :attr:`CellKey.id`.
        comparisons: Per architecture, seed (``seed<k>``) and version: the paired comparison
            with ``data``.
        verdicts: Keyed ``<name>/<arch>`` (``verdicts.json``).
        audits: Per architecture: the test-time audit (empty when off).
        cam: Per architecture: the Grad-CAM numbers (empty when off).
        probe: The source probe (None when not run; :attr:`skipped` says why).
        external_test: Per data-trained cell (its id): its metrics on the external test set.
        reused: Stages reused from an earlier run; ``redone``: stages computed in this one.
        skipped: Stages that did not run or trained nothing, with the reason in words
            (``audit``, ``cam``, ``probe``, ``external_test``, ``mask_perturbation``).
    """

    config: dict[str, Any]
    environment: dict[str, Any]
    mask_qc: list[dict[str, Any]]
    figures: dict[str, str]
    cells: dict[str, CellResult]
    comparisons: dict[str, dict[str, dict[str, Comparison]]]
    verdicts: dict[str, VerdictRecord]
    audits: dict[str, AuditRecord] = field(default_factory=dict)
    cam: dict[str, CamRecord] = field(default_factory=dict)
    probe: ProbeRecord | None = None
    external_test: dict[str, EvalResult] = field(default_factory=dict)
    reused: list[str] = field(default_factory=list)
    redone: list[str] = field(default_factory=list)
    skipped: dict[str, str] = field(default_factory=dict)

    @property
    def name(self) -> str:
        """The run's name (the scenario of a demo run)."""
        return str(self.config["name"])

    @property
    def output(self) -> str:
        """The run folder."""
        return str(self.config["output"])

    @property
    def architectures(self) -> list[str]:
        """The architectures, in the config's order."""
        return list(self.config["architectures"])

    @property
    def representations(self) -> list[str]:
        """The representations, in the config's order."""
        return list(self.config["representations"])

    @property
    def seeds(self) -> list[int]:
        """The training seeds."""
        return list(self.config["seeds"])

    def key(self, arch: str) -> str:
        """``<name>/<arch>``: the architecture's key in :attr:`verdicts`, and its one name in
        the report."""
        return f"{self.name}/{arch}"

    def cell(self, arch: str, rep: str, seed: int) -> CellResult:
        """One cell's record."""
        return self.cells[CellKey(arch, rep, seed).id]

    def to_json(self) -> dict[str, Any]:
        """The ``results.json`` object (NaN kept as floats; :func:`~hideseek.jsonio.dumps`
        writes them as null)."""
        found: dict[str, Any] = to_json(self)
        return found

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> RunResult:
        """A parsed ``results.json`` read back."""
        return from_json(cls, data)
