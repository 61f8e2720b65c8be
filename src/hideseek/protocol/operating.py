"""Operating characteristics of the verdict on real radiographs with planted evidence.

How strong must a shortcut be before hideseek finds it, at a given test size, and how often does
it call a lung-reading model a shortcut? Each *trial* draws patients from a real chest X-ray
collection (the backgrounds: ``../shared/data`` classification, Shenzhen, COVID-QU-Ex, their
own labels discarded), re-draws binary labels at random per patient (so the collection's own
confounds carry nothing), plants a marker outside the lung boxes on a share (the
*contamination*) of one class's images and/or opacities inside the lung masks of that class
(:mod:`hideseek.data.plant`), trains the protocol's models (originals, lungs removed, lungs
boxed out) on one part and judges a small and a large test set drawn from the rest
(:func:`~hideseek.protocol.rule.decide`), and audits the originals' model
(:func:`~hideseek.classification.audit.audit`). ``bench/operating.py`` runs the grid and prints
the rates with Wilson intervals.
"""

from __future__ import annotations

import hashlib
import logging
import shutil
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["OPERATING_TRAIN", "PUBLISHED", "Outcome", "TrialSpec", "background",
           "detection_sentence", "grid_summary", "load_outcomes", "publish", "published_trials",
           "run_trial", "table_rows", "trial_name"]

log = logging.getLogger(__name__)

#: The recipe of every trial's models (64 px so that a CPU can run the grid). A marker on
#: real radiographs is learned more slowly with the lungs hidden (10 epochs left those models at
#: 0.77 validation accuracy, still climbing, where the originals' model reached 0.98): up to 24
#: epochs, stopped once the 3-epoch mean of the validation balanced accuracy has not improved for
#: 5 epochs (never before epoch 8).
OPERATING_TRAIN: dict[str, Any] = {
    "arch": "resnet18", "epochs": 24, "image_size": 64, "batch_size": 32, "lr": 2e-3,
    "lr_schedule": "cosine", "pretrained": False, "crop_top": 0.0,
    "augment": {"enabled": False}, "split": (0.8, 0.2, 0.0),
    "select_metric": "balanced_accuracy", "patience": 5, "min_epochs": 8,
    "checkpoint_every": 24}
#: The classes of the re-drawn labels (the marked class carries the planted evidence).
CLASSES = ("clean", "marked")
_HIDDEN = ("lungs_removed", "lungs_boxed_out")
#: The published table (``bench/operating.py --publish``), shipped with the package and read by
#: the report to say how sensitive a verdict is at its test size.
PUBLISHED = Path(__file__).with_name("operating.json")


@dataclass(frozen=True)
class TrialSpec:
    """One trial of one grid cell.

    Attributes:
        background: The collection the images come from (a folder under the shared data).
        contamination: Share of the marked class's images with a marker outside the lungs.
        lung: Opacities in the marked class's lungs: ``none``, ``weak`` or ``strong``.
        trial: The trial's number (its seed).
        n_train: Training images (a fifth of them validate).
        n_small: The small test set (the first images of the large one).
        n_large: The large test set.
        marker_size: The marker's height as a share of the image side.
        marker_place: Where the marker goes (``corner``, ``below``, ``spine``, ``random``).
    """

    background: str
    contamination: float
    lung: str
    trial: int
    n_train: int = 300
    n_small: int = 60
    n_large: int = 200
    marker_size: float = 0.1
    marker_place: str = "corner"

    @property
    def seed(self) -> int:
        """The trial's seed, from everything that defines it."""
        key = f"{self.background}|{self.contamination}|{self.lung}|{self.trial}"
        return int.from_bytes(hashlib.blake2b(key.encode(), digest_size=4).digest(), "little")


@dataclass(frozen=True)
class Outcome:
    """What one trial found at one test size.

    Attributes:
        verdict: The architecture's verdict (``decide``).
        marked: The marked class's verdict.
        flags: The verdict's flags.
        audit: The audit's verdict on the originals' model (large test set only).
    """

    spec: TrialSpec
    size: str
    n_test: int
    verdict: str
    marked: str
    flags: list[str] = field(default_factory=list)
    audit: str | None = None
    sentence: str = ""


def background(shared: Path, name: str, out: Path, side: int = 96) -> Path:
    """A collection of ``shared`` downscaled to ``side`` pixels (a pack with ``masks/``),
    written once into ``out``: centre-cropped to a square as the classifiers see it. Masks:
    the collection's own, else the shipped U-Net's (predicted once)."""
    from hideseek.data.io import image_shape, read_image, read_mask, write_png
    from hideseek.data.manifest import load_dataset, write_manifest
    from hideseek.data.masks import find_mask
    from hideseek.data.preprocess import Preprocess

    root = out / f"{name}-{side}px"
    if (root / "manifest.csv").is_file():
        return root
    data = load_dataset(shared / name, require_label=False)
    masks_dir = data.masks_dir
    if masks_dir is None:
        from hideseek.segmentation import load_segmenter, predict_dataset

        seg = out / f"{name}-masks"
        model, size, _ = load_segmenter("default")
        predict_dataset(data, seg, model, size, workers=0)
        masks_dir = seg / "masks"
    prep = Preprocess(size=side, crop_top=0.0, square="crop")
    tmp = out / f"{name}-{side}px.partial"
    shutil.rmtree(tmp, ignore_errors=True)
    records = []
    for r in data.records:
        path = find_mask(masks_dir, r.filename)
        if path is None:
            continue
        shape = image_shape(data.image_path(r))
        mask = read_mask(path, shape)
        if not mask.any():
            continue
        name_png = Path(r.filename).with_suffix(".png").as_posix()
        write_png(tmp / "images" / name_png, prep(read_image(data.image_path(r))))
        write_png(tmp / "masks" / name_png, prep(mask.astype(np.float32)) >= 0.5)
        records.append(replace(r, filename=name_png, label="any", split=None))
    write_manifest(tmp / "manifest.csv", records)
    tmp.replace(root)
    return root


def _draw(pack: Path, spec: TrialSpec) -> list[Any]:
    """The trial's images: whole patients, shuffled by the trial's seed."""
    from hideseek.data.manifest import load_dataset

    data = load_dataset(pack, require_label=False)
    rng = np.random.default_rng(spec.seed)
    patients = sorted({r.patient_id for r in data.records})
    order = {p: k for k, p in enumerate(rng.permutation(patients))}
    records = sorted(data.records, key=lambda r: (order[r.patient_id], r.filename))
    return records[: spec.n_train + spec.n_large]


def _plant(pack: Path, spec: TrialSpec, out: Path) -> Path:
    """The trial's planted pack: train / test split by patient (``split`` column)."""
    from hideseek.data.manifest import load_dataset, write_manifest
    from hideseek.data.plant import PlantConfig, plant_dataset

    planted = out / "planted"
    if (planted / "manifest.csv").is_file():
        return planted
    data = load_dataset(pack, require_label=False)
    records = _draw(pack, spec)
    first_test = {r.patient_id for r in records[spec.n_train:]}
    records = [replace(r, split="test" if r.patient_id in first_test else None)
               for r in records]
    subset = out / "subset"
    subset.mkdir(parents=True, exist_ok=True)
    write_manifest(subset / "manifest.csv", records)
    for d in ("images", "masks"):
        link = subset / d
        if not link.exists():
            link.symlink_to((pack / d).resolve(), target_is_directory=True)
    plant_dataset(load_dataset(subset, require_label=False), subset / "masks", planted,
                  PlantConfig(contamination=spec.contamination, relabel=True, classes=CLASSES,
                              marked_class=CLASSES[1], opacity=spec.lung,
                              opacity_class=CLASSES[1], marker_size=spec.marker_size,
                              marker_place=spec.marker_place, crop_top=0.0, seed=spec.seed))
    del data
    return planted


def run_trial(shared: Path, spec: TrialSpec, out: Path, *, audit: bool = True,
              n_boot: int = 1000, keep_models: bool = False) -> list[Outcome]:
    """Plant, train, judge (both test sizes) and audit one trial; its folder is reused when
    it finished before, and removed of models once judged (disk)."""
    import json

    from hideseek.classification.audit import audit as run_audit
    from hideseek.classification.config import TrainConfig
    from hideseek.classification.evaluate import evaluate
    from hideseek.classification.train import train_classifier
    from hideseek.data.manifest import load_dataset
    from hideseek.protocol.matrix import _as_set
    from hideseek.protocol.rule import VerdictMargins, decide

    folder = out / trial_name(spec)
    done = folder / "outcomes.json"
    if done.is_file():
        return _read_outcomes(done, spec)
    pack = background(shared, spec.background, out / "backgrounds")
    planted = _plant(pack, spec, folder)
    data = load_dataset(planted)
    train = data.with_records([r for r in data.records if r.split != "test"])
    test = data.with_records([r for r in data.records if r.split == "test"])
    preds, convergence = {}, {}
    for rep in ("data", *_HIDDEN):
        cfg = TrainConfig(**{**OPERATING_TRAIN, "representation": rep, "seed": spec.seed % 1000})
        model = folder / "models" / rep
        if not (model / "best.pt").is_file():
            train_classifier(train.with_records([replace(r, split=None) for r in train.records]),
                             model, cfg, masks_dir=planted / "masks", cache_dir=out / "cache")
        convergence[rep] = [json.loads((model / "train.json").read_text()).get("convergence")]
        _, p = evaluate(model, test, masks_dir=planted / "masks", split="all",
                        cache_dir=out / "cache", n_boot=0)
        preds[rep] = _as_set(p)
    margins = VerdictMargins(n_boot=n_boot)
    names = preds["data"].filenames
    outcomes = []
    for size, keep in (("small", names[: spec.n_small]), ("large", names)):
        v = decide({rep: [p.subset(keep)] for rep, p in preds.items()}, margins,
                   convergence=convergence)
        outcomes.append(Outcome(spec, size, len(keep), v.verdict,
                                v.per_class[CLASSES[1]].verdict, list(v.flags),
                                sentence=v.sentence))
    if audit:
        found, _ = run_audit(folder / "models" / "data", test, planted / "masks", _HIDDEN,
                             split="all", cache_dir=out / "cache", n_boot=n_boot)
        outcomes[-1] = replace(outcomes[-1], audit=found["audit_verdict"])
    done.write_text(json.dumps([{"size": o.size, "n_test": o.n_test, "verdict": o.verdict,
                                 "marked": o.marked, "flags": o.flags, "audit": o.audit,
                                 "sentence": o.sentence, "spec": asdict(spec)}
                                for o in outcomes]))
    if not keep_models:
        shutil.rmtree(folder / "models", ignore_errors=True)  # the outcomes are what is kept
    return outcomes


def _read_outcomes(path: Path, spec: TrialSpec | None = None) -> list[Outcome]:
    """A trial's ``outcomes.json`` (its spec stored in it, or given)."""
    import json

    found = []
    for o in json.loads(path.read_text()):
        s = spec if spec is not None else TrialSpec(**o["spec"])
        found.append(Outcome(s, o["size"], o["n_test"], o["verdict"], o["marked"], o["flags"],
                             o.get("audit"), o.get("sentence", "")))
    return found


def _spec_of_folder(name: str) -> TrialSpec | None:
    """The spec a trial folder's name encodes (``<background>-c<c>-<lung>-t<trial>``, as
    :func:`run_trial` names it; default sizes), or None."""
    import re

    m = re.fullmatch(r"(.+)-c([0-9.]+)-(none|weak|strong)-t(\d+)", name)
    return TrialSpec(m[1], float(m[2]), m[3], int(m[4])) if m else None


def load_outcomes(out: str | Path) -> list[Outcome]:
    """Every finished trial under a ``bench/operating.py`` output folder (the spec stored in
    ``outcomes.json``, else read from the folder's name; a folder that gives neither is
    skipped with a warning)."""
    found: list[Outcome] = []
    for path in sorted(Path(out).glob("*/outcomes.json")):
        try:
            found += _read_outcomes(path)
        except (KeyError, TypeError):
            spec = _spec_of_folder(path.parent.name)
            if spec is None:
                log.warning("%s: no trial spec stored or in the folder's name; skipped", path)
                continue
            found += _read_outcomes(path, spec)
    return found


#: The rates of a table row: (name, what an outcome counts as a hit, audited outcomes only).
_RATES: tuple[tuple[str, Callable[[Outcome], bool], bool], ...] = (
    ("marked_shortcut", lambda o: o.marked == "shortcut", False),
    ("shortcut", lambda o: o.verdict == "shortcut", False),
    ("uses_lungs", lambda o: o.verdict == "uses_lungs", False),
    ("inconclusive", lambda o: o.verdict == "inconclusive", False),
    ("not_learned", lambda o: o.verdict == "not_learned", False),
    ("undertrained", lambda o: "undertrained" in o.flags, False),
    ("audit_relies_outside", lambda o: o.audit == "relies_outside", True),
    ("audit_relies_on_lungs", lambda o: o.audit == "relies_on_lungs", True),
)
_LUNG_ORDER = ("none", "weak", "strong")


def trial_name(spec: TrialSpec) -> str:
    """The trial's folder name and its key in the published table."""
    return f"{spec.background}-c{spec.contamination:g}-{spec.lung}-t{spec.trial}"


def _counts(hits: int, n: int) -> dict[str, Any]:
    from hideseek.classification.stats import wilson

    lo, hi = wilson(hits, n) if n else (None, None)
    return {"hits": hits, "n": n, "rate": hits / n if n else None, "ci": [lo, hi]}


def _key(row: dict[str, Any]) -> tuple[float, str, str]:
    return row["contamination"], row["lung"], row["size"]


def table_rows(outcomes: Sequence[Outcome],
               rows: Sequence[dict[str, Any]] = ()) -> list[dict[str, Any]]:
    """The operating table's rows (one per contamination, lung evidence and test size: each
    rate's hits, trials and Wilson 95% interval) of ``outcomes``, added to ``rows`` (a table
    published before: counts add up, test sizes and backgrounds join)."""
    cells: dict[tuple[float, str, str], dict[str, Any]] = {_key(r): {
        "n_test": set(r["n_test"]), "backgrounds": set(r["backgrounds"]),
        **{name: [r[name]["hits"], r[name]["n"]] for name, _, _ in _RATES}} for r in rows}
    for o in outcomes:
        cell = cells.setdefault((o.spec.contamination, o.spec.lung, o.size), {
            "n_test": set(), "backgrounds": set(), **{name: [0, 0] for name, _, _ in _RATES}})
        cell["n_test"].add(o.n_test)
        cell["backgrounds"].add(o.spec.background)
        for name, hit, audited_only in _RATES:
            if audited_only and o.audit is None:
                continue
            cell[name][0] += hit(o)
            cell[name][1] += 1
    order = sorted(cells, key=lambda k: (k[0], _LUNG_ORDER.index(k[1]), k[2] != "small"))
    return [{"contamination": c, "lung": lung, "size": size,
             "n_test": sorted(cells[c, lung, size]["n_test"]),
             "backgrounds": sorted(cells[c, lung, size]["backgrounds"]),
             **{name: _counts(*cells[c, lung, size][name]) for name, _, _ in _RATES}}
            for c, lung, size in order]


def _recipe() -> dict[str, Any]:
    return {k: (list(v) if isinstance(v, tuple) else v) for k, v in OPERATING_TRAIN.items()}


def _published(path: Path, warn: bool = False) -> dict[str, Any]:
    """The table published in ``path`` when it was made with today's training recipe; else
    empty (said when ``warn``: a table of another recipe is replaced, never added to)."""
    import json

    if not path.is_file():
        return {}
    table = json.loads(path.read_text())
    if table.get("recipe") == _recipe():
        return table
    if warn:
        log.warning("%s was made with another training recipe: replaced", path)
    return {}


def published_trials(path: str | Path = PUBLISHED) -> set[str]:
    """The trials (:func:`trial_name`) counted in a published table (none when there is no
    table or it was made with another training recipe)."""
    return set(_published(Path(path)).get("trials", []))


def publish(outcomes: Sequence[Outcome], path: str | Path = PUBLISHED,
            merge: bool = True) -> dict[str, Any]:
    """Write the operating table as JSON and return it.

    With ``merge`` (default) the trials are added to those already published in ``path`` with
    the same training recipe (a trial already counted is not counted again), so trials run
    in several sessions add up; a table of another recipe is replaced, never mixed in.
    """
    import json

    path = Path(path)
    old = _published(path, warn=True) if merge else {}
    counted = set(old.get("trials", []))
    fresh = [o for o in outcomes if trial_name(o.spec) not in counted]
    table = {"recipe": _recipe(),
             "note": "ResNet-18 from random initialisation at 64 px on real radiographs with "
                     "planted evidence (bench/operating.py); docs/VERDICTS.md",
             "trials": sorted(counted | {trial_name(o.spec) for o in fresh}),
             "rows": table_rows(fresh, old.get("rows", []))}
    path.write_text(json.dumps(table, indent=1) + "\n")
    return table


def detection_sentence(n_test: int, path: str | Path = PUBLISHED) -> str | None:
    """What the published operating table says about a verdict at ``n_test`` test images: the
    detection rate of a marker on every / half of a class's images and the false-alarm rate,
    measured at the nearest published test size (None when nothing is published)."""
    import json

    path = Path(path)
    if not path.is_file():
        return None
    rows = json.loads(path.read_text()).get("rows", [])
    if not rows or n_test <= 0:
        return None
    sizes = {r["size"]: min(r["n_test"]) for r in rows}
    size = min(sizes, key=lambda s: abs(np.log(sizes[s] / n_test)))
    most = max(max(r["n_test"]) for r in rows if r["size"] == size)
    measured = f"{sizes[size]}" if most == sizes[size] else f"{sizes[size]}-{most}"

    def rate(c: float, lung: str, key: str) -> str | None:
        row = next((r for r in rows if r["contamination"] == c and r["lung"] == lung
                    and r["size"] == size), None)
        if row is None or not row[key]["n"]:
            return None
        k = row[key]
        return f"{k['hits']} of {k['n']} trials"

    parts = []
    for c in (1.0, 0.5):
        found = rate(c, "none", "marked_shortcut")
        if found:
            parts.append(f"a marker on {c:.0%} of a class's images was found in {found}")
    alarm = rate(0.0, "strong", "shortcut")
    if alarm:
        parts.append(f"lung-only evidence was called shortcut in {alarm}")
    if not parts:
        return None
    return (f"How sensitive is this verdict? On real radiographs with planted evidence at "
            f"{measured} test images (this run: {n_test}; ResNet-18, 64 px, random "
            f"initialisation), " + "; ".join(parts) + ". A verdict that finds nothing is only "
            "as strong as that (docs/VERDICTS.md, operating characteristics).")


def _rate(k: dict[str, Any]) -> str:
    if not k["n"]:
        return "-"
    lo, hi = k["ci"]
    return f"{k['rate']:.2f} [{lo:.2f}, {hi:.2f}] ({k['hits']}/{k['n']})"


def grid_summary(rows: Sequence[dict[str, Any]]) -> list[list[str]]:
    """The printed table of :func:`table_rows`: per row, the rates with Wilson 95% intervals
    of ``shortcut`` for the marked class (detection), the architecture's verdict ``shortcut``
    (a false alarm where no marker was planted), ``uses_lungs``, ``inconclusive``,
    ``not_learned``, ``undertrained``; the audit's ``relies_outside`` and ``relies_on_lungs``."""
    out = []
    for r in rows:
        sizes = r["n_test"]
        span = str(sizes[0]) if len(sizes) == 1 else f"{sizes[0]}-{sizes[-1]}"
        out.append([f"{r['contamination']:g}", r["lung"], r["size"], span,
                    str(r["marked_shortcut"]["n"]), *(_rate(r[name]) for name, _, _ in _RATES)])
    return out


HEADER = ["contamination", "lung evidence", "test", "n test", "trials",
          "marked class shortcut", "shortcut", "uses_lungs", "inconclusive", "not_learned",
          "undertrained", "audit relies_outside", "audit relies_on_lungs"]
