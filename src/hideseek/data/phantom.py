"""Synthetic chest-X-ray-like phantoms with exact lung masks and a known answer.

A phantom is drawn on a unit square (x to the right, y down) and rasterised at ``size`` pixels:

1. air background, a soft-tissue body ellipse, a brighter spine band;
2. two lung fields (ellipses, darker: air is radiolucent) whose union is the exact lung mask;
3. ribs (bright arcs over the thorax), a heart shadow, a diaphragm dome below each lung;
4. class evidence and/or a source artefact, depending on the scenario;
5. a little blur and Gaussian noise.

Scenarios:

* ``lungs``: the evidence lies only inside the lungs - COVID-19 has bilateral peripheral patchy
  opacities (several small blobs in both lungs), pneumonia one lobar consolidation (one large
  blob in one lung), normal none. No source artefact.
* ``shortcut``: no evidence in the lungs. Each image gets a ``source`` (``site_a`` /
  ``site_b`` / ``site_c``) that equals its label's site with probability ``correlation`` and is
  random otherwise, and each site burns a bright marker into a different corner, outside the body.
* ``both``: the two together.
* ``intensity``: no lesions; each site (correlated with the label as for ``shortcut``) applies
  its own global tone curve (gamma) to the whole image, inside the lungs as well.
* ``shape``: no lesions, no marker; the class changes the lungs' size (pneumonia narrower,
  COVID-19 shorter), so the mask itself carries the label.
* ``covid_source``: only COVID-19 images carry a source marker (``site_c``, the others are
  ``site_a``); normal vs pneumonia evidence lies in the lungs, COVID-19 has no lung evidence.
* ``null``: no evidence at all.

Tasks (:attr:`PhantomConfig.task`):

* ``multiclass`` (default): normal / pneumonia / COVID-19, as above.
* ``binary``: ``normal`` / ``abnormal`` (names outside the COVID preset, so the data reads as a
  binary task). ``abnormal`` is drawn as COVID-19 is: its lung evidence (``lungs``, ``both``),
  its site's marker (``site_c``; ``normal`` keeps ``site_a``; an uncorrelated image draws one of
  the two), its tone curve (``intensity``), its shorter lungs (``shape``); in ``covid_source``
  it is the marked class (a marker only on ``abnormal``, no lung evidence in either class).
* ``multilabel``: its own scenario, ``findings``: three findings, each drawn independently per
  **patient** (every image of a patient has the same findings) with probability
  :data:`FINDING_PREVALENCE`, written as a ``labels`` column (``A|B``; empty: no finding).
  ``opacity``: bilateral patchy opacities inside the lungs (known answer ``uses_lungs``);
  ``marker``: a bright tag outside the body, top right (``shortcut``); ``mixed``: one lobar
  consolidation in the lungs and a tag outside the body, bottom left (``shortcut`` or
  ``both``). See :data:`FINDING_ANSWERS`.

Every image depends only on (seed, index), so a dataset is reproducible image by image.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy import ndimage

from hideseek.data.io import write_png
from hideseek.data.labels import LABELS
from hideseek.data.manifest import Record, write_manifest

__all__ = [
    "BINARY_CLASSES",
    "COVIDX_SOURCES",
    "FINDINGS",
    "FINDINGS_SCENARIO",
    "FINDING_ANSWERS",
    "FINDING_PREVALENCE",
    "PHANTOM_TASKS",
    "SCENARIOS",
    "SITES",
    "PhantomConfig",
    "make_findings_phantom",
    "make_phantom",
    "write_covidx_tree",
    "write_phantom_dataset",
]

log = logging.getLogger(__name__)

SCENARIOS = ("lungs", "shortcut", "both", "intensity", "shape", "covid_source", "null")
SITES = ("site_a", "site_b", "site_c")  # site_a is the normals' site, site_b pneumonia's...
# Marker corners (x0, y0) in unit coordinates: outside the body, below the top 8% crop.
_MARKER_AT = {"site_a": (0.03, 0.12), "site_b": (0.85, 0.12), "site_c": (0.03, 0.86)}
_LESIONS = ("lungs", "both", "covid_source")  # scenarios with lung evidence
_MARKERS = ("shortcut", "both", "covid_source")  # scenarios with a source marker
_SITED = ("shortcut", "both", "intensity", "covid_source")  # scenarios whose source is a site
_GAMMA = {"site_a": 1.0, "site_b": 0.6, "site_c": 1.7}  # ``intensity``: each site's tone curve
# ``shape``: the class scales the lungs' (width, height); no lesions.
_SHAPES = {"normal": (1.0, 1.0), "pneumonia": (0.72, 1.0), "COVID-19": (1.0, 0.72)}
_Lung = tuple[float, float, float, float, np.ndarray]  # cx, cy, ax, ay, field

PHANTOM_TASKS = ("multiclass", "binary", "multilabel")
#: ``binary``: the classes, and the three-class label each is drawn as.
BINARY_CLASSES = ("normal", "abnormal")
_BINARY_DRAWN_AS = {"normal": "normal", "abnormal": "COVID-19"}
_BINARY_SITES = ("site_a", "site_c")
#: ``multilabel``: the scenario, its findings and each finding's known answer.
FINDINGS_SCENARIO = "findings"
FINDINGS = ("opacity", "marker", "mixed")
FINDING_ANSWERS = {"opacity": "uses_lungs", "marker": "shortcut", "mixed": "shortcut or both"}
#: Probability that a patient has a finding (each finding independently).
FINDING_PREVALENCE = 0.4
_FINDINGS_STREAM = 7919  # seeds the per-patient findings apart from the per-image streams


@dataclass(frozen=True)
class PhantomConfig:
    """Parameters of a phantom dataset.

    Attributes:
        scenario: One of :data:`SCENARIOS` (see the module docstring); ``findings`` for the
            ``multilabel`` task. Empty: ``lungs`` (``findings`` for ``multilabel``).
        n: Number of images (labels are balanced; multi-label: findings drawn per patient).
        size: Image side in pixels.
        correlation: Probability that the source artefact matches the label (``shortcut``,
            ``both``, ``intensity``; for ``covid_source`` that the marker is on COVID-19 and
            only there); 1/3 means no correlation (1/2 for ``covid_source`` and ``binary``).
        seed: Base seed.
        images_per_patient: Images that share one patient id (tests patient-grouped splits).
        evidence: Lesion strength multiplier (``lungs``, ``both``, ``covid_source``,
            ``findings``).
        task: ``multiclass`` (normal / pneumonia / COVID-19), ``binary`` (normal / abnormal)
            or ``multilabel`` (the ``findings`` scenario).
    """

    scenario: str = ""
    n: int = 300
    size: int = 256
    correlation: float = 1.0
    seed: int = 0
    images_per_patient: int = 2
    evidence: float = 1.0
    task: str = "multiclass"

    def __post_init__(self) -> None:
        if self.task not in PHANTOM_TASKS:
            raise ValueError(f"unknown phantom task {self.task!r}; choose from "
                             f"{', '.join(PHANTOM_TASKS)}")
        multilabel = self.task == "multilabel"
        if not self.scenario:
            object.__setattr__(self, "scenario", FINDINGS_SCENARIO if multilabel else "lungs")
        if multilabel and self.scenario != FINDINGS_SCENARIO:
            raise ValueError(f"the multilabel task has its own scenario ({FINDINGS_SCENARIO}), "
                             f"not {self.scenario!r}")
        if not multilabel and self.scenario not in SCENARIOS:
            hint = " (the multilabel task's)" if self.scenario == FINDINGS_SCENARIO else ""
            raise ValueError(f"unknown scenario {self.scenario!r}{hint}; choose from "
                             f"{SCENARIOS}")
        if not 0.0 <= self.correlation <= 1.0:
            raise ValueError(f"correlation must be in [0, 1], got {self.correlation}")
        if self.evidence < 0:
            raise ValueError(f"evidence must be >= 0, got {self.evidence}")
        if self.n < 1 or self.size < 32 or self.images_per_patient < 1:
            raise ValueError("n >= 1, size >= 32 and images_per_patient >= 1 are required")


def _ellipse(xx: np.ndarray, yy: np.ndarray, cx: float, cy: float, ax: float, ay: float,
             angle: float = 0.0) -> np.ndarray:
    c, s = np.cos(angle), np.sin(angle)
    dx, dy = xx - cx, yy - cy
    u, v = (c * dx + s * dy) / ax, (-s * dx + c * dy) / ay
    return (u * u + v * v) <= 1.0


def _blob(xx: np.ndarray, yy: np.ndarray, cx: float, cy: float, sigma: float) -> np.ndarray:
    return np.exp(-((xx - cx) ** 2 + (yy - cy) ** 2) / (2 * sigma * sigma))


def _lung_fields(xx: np.ndarray, yy: np.ndarray, sx: float, sy: float, scale: float,
                 rng: np.random.Generator, shape: tuple[float, float] | None) -> list[_Lung]:
    """The two lung ellipses; the patient's right lung is on the image's left."""
    lungs = []
    for side in (-1, 1):
        cx = 0.5 + sx + side * 0.17 * scale * rng.uniform(0.95, 1.05)
        cy = 0.46 + sy + rng.uniform(-0.015, 0.015)
        ax = 0.115 * scale * rng.uniform(0.92, 1.08) * (0.93 if side > 0 else 1.0)
        ay = 0.24 * scale * rng.uniform(0.92, 1.08)
        if shape is not None:  # the ``shape`` scenario: the class sets the lungs' size
            ax, ay = ax * shape[0], ay * shape[1]
        lungs.append((cx, cy, ax, ay, _ellipse(xx, yy, cx, cy, ax, ay, side * 0.06)))
    return lungs


def _anatomy(xx: np.ndarray, yy: np.ndarray, size: int, rng: np.random.Generator,
             shape: tuple[float, float] | None
             ) -> tuple[np.ndarray, list[_Lung], np.ndarray, float]:
    """Background, body, spine, lungs, ribs, heart and diaphragm: image, lungs, mask, scale."""
    scale = rng.uniform(0.92, 1.06)
    sx, sy = rng.uniform(-0.025, 0.025, size=2)
    img = np.full((size, size), 0.06)
    body = _ellipse(xx, yy, 0.5 + sx, 0.62 + sy, 0.40 * scale, 0.62 * scale)
    img[body] = 0.52 + rng.uniform(-0.04, 0.04)
    img += 0.14 * (np.abs(xx - 0.5 - sx) < 0.035) * body  # spine
    lungs = _lung_fields(xx, yy, sx, sy, scale, rng, shape)
    mask = lungs[0][4] | lungs[1][4]
    soft_mask = ndimage.gaussian_filter(mask.astype(float), size * 0.006)
    img -= 0.30 * soft_mask
    # Ribs: arcs across the thorax, visible through the lungs.
    for k in range(9):
        y0 = 0.25 + sy + k * 0.052 * scale
        arc = y0 + 1.2 * (xx - 0.5 - sx) ** 2
        img += 0.07 * (np.abs(yy - arc) < 0.008) * body
    # Heart shadow (image right of the midline) and diaphragm domes.
    img += 0.22 * ndimage.gaussian_filter(
        _ellipse(xx, yy, 0.57 + sx, 0.63 + sy, 0.12 * scale, 0.10 * scale).astype(float), 2)
    for cx, cy, ax, ay, _ in lungs:
        img += 0.12 * _ellipse(xx, yy, cx, cy + ay + 0.05, ax * 1.1, 0.06) * body
    return img, lungs, mask, scale


def _lesions(xx: np.ndarray, yy: np.ndarray, label: str, lungs: list[_Lung], scale: float,
             strength: float, rng: np.random.Generator) -> np.ndarray:
    """Class evidence (before masking to the lungs); ``strength`` scales its amplitude."""
    evidence = np.zeros_like(xx)
    if label == "COVID-19":  # bilateral, peripheral, lower-zone patchy opacities
        for cx, cy, ax, ay, _ in lungs:
            lateral = np.sign(cx - 0.5)
            for _ in range(rng.integers(3, 5)):
                bx = cx + lateral * ax * rng.uniform(0.35, 0.75)
                by = cy + ay * rng.uniform(-0.1, 0.7)
                evidence += strength * rng.uniform(0.18, 0.28) * _blob(xx, yy, bx, by, 0.03 * scale)
    elif label == "pneumonia":  # one lobar consolidation in one lung
        cx, cy, ax, ay, _ = lungs[rng.integers(0, 2)]
        bx = cx + ax * rng.uniform(-0.3, 0.3)
        by = cy + ay * rng.choice([-0.45, 0.45]) + rng.uniform(-0.05, 0.05)
        evidence += strength * rng.uniform(0.30, 0.38) * _blob(xx, yy, bx, by, 0.075 * scale)
    return evidence


def make_phantom(label: str, scenario: str, source: str, size: int,
                 rng: np.random.Generator, evidence: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    """Draw one phantom.

    Args:
        label: ``normal``, ``pneumonia`` or ``COVID-19``.
        scenario: See the module docstring.
        source: The site whose artefact is drawn (ignored without one).
        size: Side in pixels.
        rng: Random generator (anatomy jitter, evidence placement, noise).
        evidence: Lesion strength multiplier (1.0: the default phantoms).

    Returns:
        The image (float32 in [0, 1]) and its exact lung mask (bool).
    """
    # Independent streams: the anatomy and noise of an image do not depend on its evidence.
    rng, evid_rng, noise_rng = rng.spawn(3)
    g = (np.arange(size) + 0.5) / size
    xx, yy = np.meshgrid(g, g)
    shape = _SHAPES[label] if scenario == "shape" else None
    img, lungs, mask, scale = _anatomy(xx, yy, size, rng, shape)
    if scenario in _LESIONS and (scenario != "covid_source" or label != "COVID-19"):
        img += _lesions(xx, yy, label, lungs, scale, evidence, evid_rng) * mask  # in the lungs
    if scenario in _MARKERS and (scenario != "covid_source" or source == "site_c"):
        x0, y0 = _MARKER_AT[source]
        mx, my = x0 + evid_rng.uniform(0, 0.02), y0 + evid_rng.uniform(0, 0.01)
        marker = (xx >= mx) & (xx < mx + 0.10) & (yy >= my) & (yy < my + 0.05)
        img[marker & ~mask] = 0.95
    img = ndimage.gaussian_filter(img, size * 0.002)
    if scenario == "intensity":  # the site's tone curve, over the whole image
        img = np.clip(img, 0.0, 1.0) ** _GAMMA[source]
    img += noise_rng.normal(0.0, 0.02, img.shape)
    return np.clip(img, 0.0, 1.0).astype(np.float32), mask


def make_findings_phantom(findings: Sequence[str], size: int, rng: np.random.Generator,
                          evidence: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    """Draw one phantom of the ``findings`` scenario (the ``multilabel`` task).

    Args:
        findings: Its findings, any of :data:`FINDINGS` (none: no finding).
        size: Side in pixels.
        rng: Random generator (anatomy jitter, evidence placement, noise).
        evidence: Lesion strength multiplier.

    Returns:
        The image (float32 in [0, 1]) and its exact lung mask (bool).
    """
    unknown = sorted(set(findings) - set(FINDINGS))
    if unknown:
        raise ValueError(f"unknown finding(s) {', '.join(unknown)}; choose from "
                         f"{', '.join(FINDINGS)}")
    rng, evid_rng, noise_rng = rng.spawn(3)
    g = (np.arange(size) + 0.5) / size
    xx, yy = np.meshgrid(g, g)
    img, lungs, mask, scale = _anatomy(xx, yy, size, rng, None)
    # One stream per finding: an image's other findings do not move its evidence.
    opacity_rng, marker_rng, mixed_rng = evid_rng.spawn(3)
    lesion = np.zeros_like(xx)
    if "opacity" in findings:  # COVID-19-like patchy opacities, both lungs
        lesion += _lesions(xx, yy, "COVID-19", lungs, scale, evidence, opacity_rng)
    if "mixed" in findings:  # a lobar consolidation (pneumonia-like) ...
        lesion += _lesions(xx, yy, "pneumonia", lungs, scale, evidence, mixed_rng)
    img += lesion * mask
    for finding, site, frng in (("marker", "site_b", marker_rng), ("mixed", "site_c", mixed_rng)):
        if finding in findings:  # ... and, for ``mixed``, a tag outside the body too
            x0, y0 = _MARKER_AT[site]
            mx, my = x0 + frng.uniform(0, 0.02), y0 + frng.uniform(0, 0.01)
            tag = (xx >= mx) & (xx < mx + 0.10) & (yy >= my) & (yy < my + 0.05)
            img[tag & ~mask] = 0.95
    img = ndimage.gaussian_filter(img, size * 0.002)
    img += noise_rng.normal(0.0, 0.02, img.shape)
    return np.clip(img, 0.0, 1.0).astype(np.float32), mask


def _patient_findings(config: PhantomConfig, patient: int) -> list[str]:
    """The findings of one patient: each drawn independently with the prevalence."""
    draw = np.random.default_rng([config.seed, _FINDINGS_STREAM, patient]).random(len(FINDINGS))
    return [f for f, u in zip(FINDINGS, draw, strict=True) if u < FINDING_PREVALENCE]


def _source(config: PhantomConfig, label: str, rng: np.random.Generator) -> tuple[str, str]:
    """The site whose artefact is drawn and the source recorded in the manifest (``label``:
    the three-class label the image is drawn as)."""
    if config.scenario == "covid_source":  # only COVID-19's site leaves a marker
        marked = (label == "COVID-19") == (rng.random() < config.correlation)
        site = "site_c" if marked else "site_a"
        return site, site
    site = SITES[LABELS.index(label)]
    if config.scenario != "lungs" and rng.random() >= config.correlation:
        sites = _BINARY_SITES if config.task == "binary" else SITES
        site = sites[int(rng.integers(0, len(sites)))]
    return site, site if config.scenario in _SITED else "phantom"


def _label(config: PhantomConfig, i: int, n_patients: int) -> str:
    """Image ``i``'s class, balanced over patients (over images when there are too few)."""
    classes = BINARY_CLASSES if config.task == "binary" else LABELS
    patient = i // config.images_per_patient
    return classes[patient % len(classes)] if n_patients >= len(classes) else \
        classes[i % len(classes)]


def write_phantom_dataset(out: str | Path, config: PhantomConfig) -> list[Record]:
    """Write a phantom dataset as a pack folder (``manifest.csv``, ``images/``, ``masks/``).

    Returns:
        The records written.
    """
    out = Path(out)
    (out / "images").mkdir(parents=True, exist_ok=True)
    (out / "masks").mkdir(parents=True, exist_ok=True)
    records = []
    n_patients = -(-config.n // config.images_per_patient)
    multilabel = config.task == "multilabel"
    task_extra = {} if config.task == "multiclass" else {"task": config.task}
    correlation = {} if multilabel else {"correlation": f"{config.correlation:g}"}
    for i in range(config.n):
        patient = i // config.images_per_patient
        rng = np.random.default_rng([config.seed, i])
        if multilabel:
            findings = _patient_findings(config, patient)
            label, source = "|".join(findings), "phantom"
            image, mask = make_findings_phantom(findings, config.size, rng,
                                                evidence=config.evidence)
        else:
            label = _label(config, i, n_patients)
            drawn_as = _BINARY_DRAWN_AS.get(label, label)
            site, source = _source(config, drawn_as, rng)
            image, mask = make_phantom(drawn_as, config.scenario, site, config.size, rng,
                                       evidence=config.evidence)
        name = f"phantom_{config.scenario}_{i:05d}.png"
        write_png(out / "images" / name, image)
        write_png(out / "masks" / name, mask)
        records.append(Record(filename=name, label=label, source=source,
                              patient_id=f"{config.scenario}-p{patient:05d}",
                              extra={"scenario": config.scenario, **correlation,
                                     "seed": str(config.seed), **task_extra}))
    write_manifest(out / "manifest.csv", records, multilabel=multilabel)
    if multilabel:
        command = (f"--task multilabel --n {config.n} --size {config.size} --evidence "
                   f"{config.evidence:g} --images-per-patient {config.images_per_patient} "
                   f"--seed {config.seed}")
    else:
        task_flag = "" if config.task == "multiclass" else f" --task {config.task}"
        command = (f"--scenario {config.scenario} --n {config.n} --size {config.size} "
                   f"--correlation {config.correlation:g} --evidence {config.evidence:g} "
                   f"--images-per-patient {config.images_per_patient} --seed "
                   f"{config.seed}{task_flag}")
    (out / "README.md").write_text(
        f"# hideseek phantom dataset\n\nSynthetic, generated by `hideseek phantom {command}`. "
        "No patient data; free to use.\n", encoding="utf-8")
    log.info("wrote %d phantom images to %s", len(records), out)
    return records


COVIDX_SOURCES = ("rsna", "cohen", "actualmed", "sirm")


def write_covidx_tree(out: str | Path, n: int, *, size: int = 64, images_per_patient: int = 3,
                      test_every: int = 5, scenario: str = "lungs", seed: int = 0
                      ) -> list[Record]:
    """Write a COVIDx-format tree of phantoms: ``train/``, ``test/``, ``train.txt``, ``test.txt``.

    Each split-file line is ``patient_id filename label source`` as in COVIDx; every patient has
    ``images_per_patient`` images, one label and one source (``rsna``, ``cohen``, ``actualmed``,
    ``sirm`` in turn), and every ``test_every``-th patient is in the official test split.

    Args:
        out: The tree's root (pass it as ``--images``; the split files sit in it too).
        n: Number of images.
        size: Image side in pixels.
        images_per_patient: Images per patient.
        test_every: One patient in this many goes to ``test``.
        scenario: Phantom scenario (see the module docstring); sites follow the label.
        seed: Base seed.

    Returns:
        The records written, with their official split.
    """
    out = Path(out)
    lines: dict[str, list[str]] = {"train": [], "test": []}
    records = []
    for i in range(n):
        patient = i // images_per_patient
        label = LABELS[patient % len(LABELS)]
        source = COVIDX_SOURCES[(patient // len(LABELS)) % len(COVIDX_SOURCES)]
        split = "test" if patient % test_every == test_every - 1 else "train"
        rng = np.random.default_rng([seed, i])
        image, _ = make_phantom(label, scenario, SITES[LABELS.index(label)], size, rng)
        name = f"{source}-{patient:05d}-{i % images_per_patient}.png"
        write_png(out / split / name, image)
        pid = f"{source}{patient:05d}"
        lines[split].append(f"{pid} {name} {label} {source}")
        records.append(Record(filename=f"{split}/{name}", label=label, source=source,
                              patient_id=pid, split=split))
    for split, rows in lines.items():
        (out / f"{split}.txt").write_text("\n".join(rows) + "\n", encoding="utf-8")
    log.info("wrote a COVIDx-format tree of %d phantoms to %s", n, out)
    return records
