"""Patient-grouped, label-stratified, seeded splits."""

from __future__ import annotations

import logging
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import replace

import numpy as np

from hideseek.data.manifest import SPLITS, Record
from hideseek.errors import DataError

__all__ = ["MIN_TEST_IMAGES", "assign_splits", "patient_overlap", "split_warnings"]

log = logging.getLogger(__name__)


def patient_overlap(records: Sequence[Record]) -> dict[str, list[str]]:
    """Patients whose images sit in more than one split: patient -> sorted splits."""
    where: dict[str, set[str]] = defaultdict(set)
    for r in records:
        if r.split:
            where[r.patient_id].add(r.split)
    return {p: sorted(s) for p, s in where.items() if len(s) > 1}


def _strata(records: Sequence[Record], multilabel: bool) -> dict[str, str]:
    """Each patient's stratum: its (majority) label; multi-label: its rarest finding (over the
    whole set; ``""`` when it has none), so every finding, rare ones too, is spread over the
    splits in proportion."""
    labels_of: dict[str, Counter[str]] = defaultdict(Counter)
    for r in records:
        labels_of[r.patient_id][r.label or ""] += 1
    if multilabel:
        freq = Counter(f for r in records for f in r.findings)
        return {p: min((f for lab in c for f in lab.split("|") if f), default="",
                       key=lambda f: (freq[f], f)) for p, c in labels_of.items()}
    # Ties broken by label name so the result depends on the seed only.
    return {p: sorted(c.items(), key=lambda kv: (-kv[1], kv[0]))[0][0]
            for p, c in labels_of.items()}


def assign_splits(records: Sequence[Record], fractions: tuple[float, float, float] = (0.7, 0.15,
                  0.15), seed: int = 0, *, multilabel: bool = False) -> list[Record]:
    """Give every record a split, grouped by patient and stratified by label.

    Records that already have a split keep it (and so does every other image of their patient).
    The remaining patients are shuffled per (majority) label with ``seed`` and dealt to the
    splits so that each label's patients follow ``fractions`` as closely as possible. When some
    records already carry a split (e.g. COVIDx train/test), new patients only go to the splits
    not yet present plus ``val``, so a given test set is never enlarged. When every record has
    a split and none is ``val`` (the official COVIDx train/test files), a validation split is
    carved from the *training* patients (``val / (train + val)`` of them, grouped, stratified,
    seeded); the test split is left as it is.

    Args:
        records: The dataset's records.
        fractions: Target shares of patients for train, val, test (must sum to 1).
        seed: Seed of the shuffle; the same seed gives the same split.
        multilabel: The labels are findings: stratify by each patient's rarest finding.

    Raises:
        DataError: A patient already appears in several splits.
    """
    if len(fractions) != 3 or abs(sum(fractions) - 1.0) > 1e-6 or min(fractions) < 0:
        raise ValueError(f"fractions must be three non-negative numbers summing to 1: {fractions}")
    overlap = patient_overlap(records)
    if overlap:
        shown = ", ".join(f"{p} ({'/'.join(s)})" for p, s in list(overlap.items())[:10])
        raise DataError(f"{len(overlap)} patient(s) appear in several splits: {shown}")
    fixed, targets = _open_targets(records, fractions)
    strata = _strata(records, multilabel)
    by_label: dict[str, list[str]] = defaultdict(list)
    for patient in sorted(strata):
        if patient not in fixed:
            by_label[strata[patient]].append(patient)
    assigned = dict(fixed)
    assigned.update(_deal(by_label, targets, seed))
    return [replace(r, split=assigned[r.patient_id]) for r in records]


def _open_targets(records: Sequence[Record], fractions: tuple[float, float, float]
                  ) -> tuple[dict[str, str], dict[str, float]]:
    """Patients whose split is fixed, and the target share of each split for the others."""
    fixed = {r.patient_id: r.split for r in records if r.split}
    present = set(fixed.values())
    targets = dict(zip(SPLITS, fractions, strict=True))
    if present and len(fixed) == len({r.patient_id for r in records}) and "val" not in present:
        # Every record has a split (e.g. COVIDx train/test) but none is val: carve val from the
        # training patients; the given test split is never touched.
        fixed = {p: s for p, s in fixed.items() if s != "train"}
        train, val, _ = fractions
        share = val / (train + val) if train + val > 0 else 0.0
        log.info("no validation split given: carving one from the training patients (%.0f%% "
                 "of them, grouped by patient, stratified by label, seeded)", 100 * share)
        return fixed, {"train": 1.0 - share, "val": share, "test": 0.0}
    if present:
        # Only fill what is missing: new patients go to train and val (and test when absent).
        open_splits = [s for s in SPLITS if s not in present or s == "train"]
        if "val" not in present:
            open_splits = ["train", "val"]
        total = sum(targets[s] for s in open_splits) or 1.0
        targets = {s: (targets[s] / total if s in open_splits else 0.0) for s in SPLITS}
    return fixed, targets


def _deal(by_label: dict[str, list[str]], targets: dict[str, float], seed: int
          ) -> dict[str, str]:
    """Shuffle each label's patients with ``seed`` and deal them to the splits by ``targets``."""
    rng = np.random.default_rng(seed)
    assigned: dict[str, str] = {}
    for label in sorted(by_label):
        patients = by_label[label]
        order = rng.permutation(len(patients))
        n = len(patients)
        # Largest-remainder allocation of n patients to the splits.
        raw = {s: targets[s] * n for s in SPLITS}
        share = {s: int(np.floor(v)) for s, v in raw.items()}
        for s in sorted(SPLITS, key=lambda s: raw[s] - share[s], reverse=True):
            if sum(share.values()) >= n:
                break
            if targets[s] > 0:
                share[s] += 1
        start = 0
        for s in SPLITS:
            for idx in order[start : start + share[s]]:
                assigned[patients[idx]] = s
            start += share[s]
    return assigned


#: A test split with fewer images than this gives intervals too wide to mean much.
MIN_TEST_IMAGES = 10


def split_warnings(records: Sequence[Record], min_test: int = MIN_TEST_IMAGES) -> list[str]:
    """Why the test split of ``records`` cannot mean much: empty, tiny, or lacking a class.

    Records without any split give no warning (the splits are not made yet).

    Args:
        records: The dataset's records, with their splits.
        min_test: Fewer test images than this is "tiny".

    Returns:
        One sentence per finding (none: the test split is usable).
    """
    if not any(r.split for r in records):
        return []
    test = [r for r in records if r.split == "test"]
    if not test:
        return [f"the test split is empty ({len(records)} images, none for testing): no result "
                "can be measured on held-out patients"]
    found = []
    if len(test) < min_test:
        found.append(f"the test split holds only {len(test)} image(s) (fewer than {min_test}): "
                     "its results mean little")
    lacking = sorted({r.label for r in records if r.label} - {r.label for r in test})
    if lacking:
        found.append(f"the test split has no image of class {', '.join(lacking)}: its "
                     "per-class results cannot be measured")
    return found
