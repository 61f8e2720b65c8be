"""Positive controls on the user's own images: plant known evidence into a copy of a dataset.

``plant_dataset`` writes a pack folder (``images/``, ``masks/``, ``manifest.csv``,
``planted.csv``, ``plant.json``, ``README.md``) in which

* a **marker** (a shortcut) is burnt in on exactly ``round(contamination x n)`` images of the
  marked class, entirely outside the union of the lung boxes
  (:func:`~hideseek.segmentation.postprocess.lung_boxes`, the boxes ``lungs_boxed_out`` hides)
  grown by a margin, outside the dilated lung mask, and inside the part of the image the
  classifier sees (below the protocol's top crop, inside the central square);
* **opacities** (lung evidence) are added to the images of one class: a few smooth Gaussian
  patches that raise the intensity, multiplied by the lung mask, so no pixel outside the mask
  changes;
* with ``relabel``, labels are drawn at random per patient (balanced over the new classes), so
  whatever the original labels were confounded with (source, age, hospital) carries nothing.

Markers (``marker_shape``): ``tag`` (a filled rectangle, like a lead site tag), ``letter`` (a
laterality letter, default ``R``, rendered with Pillow's default font), ``ring`` (an annulus, like
a nipple marker, a coin or an ECG electrode). Places (``marker_place``): ``corner`` (a corner of
the visible field, chosen per image), ``below`` (under the lungs, inside the body), ``spine``
(on the midline between the lungs, else above or below them along the spine), ``random``
(anywhere allowed). When the chosen place has no room on an image the next place that fits is
used, counted and recorded.

Opacity amplitudes are relative to the image's own lung intensity range ``r`` (5th to 95th
percentile of the pixels inside the mask, at least 0.05): a patch peaks at ``amplitude x r``
above the original (``weak`` 0.15, ``strong`` 0.6). Everything is deterministic for a seed; the
randomness of an image depends only on the seed and the image's name.
"""

from __future__ import annotations

import csv
import functools
import logging
import math
import shutil
import zlib
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
from scipy import ndimage

from hideseek import __version__
from hideseek.data.io import image_shape, read_image_info, read_mask, write_png
from hideseek.data.labels import LABELS
from hideseek.data.manifest import CXRDataset, Record, write_manifest
from hideseek.data.masks import find_mask, mask_name
from hideseek.data.preprocess import resize
from hideseek.errors import HideseekError
from hideseek.jsonio import dumps
from hideseek.progress import progress
from hideseek.segmentation.postprocess import Box, boxes_mask, lung_boxes, mask_problem

__all__ = [
    "MARKER_PLACES",
    "MARKER_SHAPES",
    "OPACITY_LEVELS",
    "PlantConfig",
    "PlantError",
    "PlantResult",
    "class_order",
    "marker_stamp",
    "plant_dataset",
    "visible_field",
]

log = logging.getLogger(__name__)

MARKER_SHAPES = ("tag", "letter", "ring")
MARKER_PLACES = ("corner", "below", "spine", "random")
#: Peak opacity above the original, as a fraction of the image's lung intensity range.
OPACITY_LEVELS = {"none": 0.0, "weak": 0.15, "strong": 0.6}
_MIN_LUNG_RANGE = 0.05  # a flat lung field still gets a visible patch
_PLANTED_COLUMNS = ("filename", "label", "original_label", "patient_id", "source", "marker",
                    "marker_shape", "marker_place", "marker_x0", "marker_y0", "marker_x1",
                    "marker_y1", "marker_contrast", "opacity", "opacity_peak", "opacity_blobs",
                    "lung_p5", "lung_p95", "mask_resized")
_MANIFEST_EXTRAS = ("original_label", "planted_marker", "planted_opacity", "collection")


class PlantError(HideseekError, ValueError):
    """A bad planting request (configuration, classes, masks); one line for the user."""


@dataclass(frozen=True)
class PlantConfig:
    """What to plant, where and on which images.

    Attributes:
        contamination: Fraction of the marked class's images that get the marker (0..1;
            exactly ``round(contamination x n)`` images).
        marked_class: The class whose images get the marker (default: the last class, see
            :func:`class_order`).
        marker_shape: One of :data:`MARKER_SHAPES`.
        marker_place: One of :data:`MARKER_PLACES`.
        marker_size: The marker's height (ring: diameter) as a fraction of the image's shorter
            side (a tag is as wide, a letter about 0.7 of it).
        marker_intensity: The marker's grey value in [0, 1] (1 bright like lead, 0 dark).
        marker_letter: The character drawn by the ``letter`` shape.
        opacity: ``none``, ``weak``, ``strong`` or a peak amplitude (fraction of the lung
            intensity range, see :data:`OPACITY_LEVELS`).
        opacity_class: The class whose images get opacities (default: the marked class).
        opacity_fraction: Fraction of that class's images that get them.
        relabel: Draw new labels at random per patient (balanced over ``classes``).
        classes: The new class names (with ``relabel``).
        margin: Gap between a marker and the lung boxes / mask, as a fraction of the shorter
            side.
        crop_top: Top fraction of the rows the classifier never sees (the protocol's
            ``crop_top``); markers stay below it and inside the central square.
        seed: Seed of every random choice.
    """

    contamination: float = 0.5
    marked_class: str | None = None
    marker_shape: str = "tag"
    marker_place: str = "corner"
    marker_size: float = 0.06
    marker_intensity: float = 1.0
    marker_letter: str = "R"
    opacity: str | float = "none"
    opacity_class: str | None = None
    opacity_fraction: float = 1.0
    relabel: bool = False
    classes: tuple[str, ...] = ("clean", "planted")
    margin: float = 0.02
    crop_top: float = 0.08
    seed: int = 0

    def __post_init__(self) -> None:
        def check(ok: bool, message: str) -> None:
            if not ok:
                raise PlantError(message)

        check(0.0 <= self.contamination <= 1.0,
              f"contamination must be in [0, 1], got {self.contamination:g}")
        check(self.marker_shape in MARKER_SHAPES, f"unknown marker shape {self.marker_shape!r}; "
              f"choose from {', '.join(MARKER_SHAPES)}")
        check(self.marker_place in MARKER_PLACES, f"unknown marker place {self.marker_place!r}; "
              f"choose from {', '.join(MARKER_PLACES)}")
        check(0.0 < self.marker_size <= 0.25,
              f"marker size must be in (0, 0.25] of the image side, got {self.marker_size:g}")
        check(0.0 <= self.marker_intensity <= 1.0,
              f"marker intensity must be in [0, 1], got {self.marker_intensity:g}")
        check(len(self.marker_letter) == 1 and self.marker_letter.isprintable()
              and not self.marker_letter.isspace(),
              f"marker letter must be one visible character, got {self.marker_letter!r}")
        amplitude = self.opacity_amplitude  # validates ``opacity``
        check(0.0 <= self.opacity_fraction <= 1.0,
              f"opacity fraction must be in [0, 1], got {self.opacity_fraction:g}")
        classes = tuple(self.classes)
        object.__setattr__(self, "classes", classes)
        check(len(classes) >= 2 and all(c.strip() and c == c.strip() and "," not in c
                                         for c in classes) and len(set(classes)) == len(classes),
              f"classes must be at least two distinct non-empty names, got {list(classes)}")
        if self.relabel:
            for what, name in (("marked class", self.marked_class),
                               ("opacity class", self.opacity_class)):
                check(name is None or name in classes,
                      f"unknown {what} {name!r}; with relabel the classes are "
                      f"{', '.join(classes)}")
        check(0.0 <= self.margin <= 0.25, f"margin must be in [0, 0.25], got {self.margin:g}")
        check(0.0 <= self.crop_top < 0.5, f"crop_top must be in [0, 0.5), got {self.crop_top:g}")
        check(self.contamination > 0 or amplitude > 0 or self.relabel,
              "nothing to plant: set contamination > 0, an opacity or relabel")

    @property
    def opacity_amplitude(self) -> float:
        """The opacity's peak as a fraction of the lung intensity range (0: none)."""
        value = self.opacity
        if isinstance(value, str):
            if value.strip().lower() in OPACITY_LEVELS:
                return OPACITY_LEVELS[value.strip().lower()]
            try:
                value = float(value)
            except ValueError:
                raise PlantError(f"opacity must be none, weak, strong or a number, got "
                                 f"{self.opacity!r}") from None
        if not (math.isfinite(value) and 0.0 <= value <= 2.0):
            raise PlantError(f"opacity amplitude must be in [0, 2] (fraction of the lung "
                             f"intensity range), got {value:g}")
        return float(value)


@dataclass
class PlantResult:
    """What :func:`plant_dataset` wrote.

    Attributes:
        out: The pack folder.
        classes: The classes, in order (the last is the default marked class).
        marked_class: The class that got markers.
        opacity_class: The class that got opacities.
        counts: Per class: ``images``, ``marked`` and ``opacity`` counts.
        skipped: Images left out, by reason (``missing mask``, ``empty mask``...).
        marker_moved: Markers placed at another place than the one asked for.
        marker_unplaceable: Marked-class images with no room for the marker anywhere (another
            image of the class was marked instead).
        records: The manifest records written.
    """

    out: Path
    classes: list[str]
    marked_class: str
    opacity_class: str
    counts: dict[str, dict[str, int]]
    skipped: dict[str, int] = field(default_factory=dict)
    marker_moved: int = 0
    marker_unplaceable: int = 0
    records: list[Record] = field(default_factory=list)

    @property
    def n_images(self) -> int:
        """Images written."""
        return len(self.records)

    def summary(self) -> str:
        """One line per class and the skipped images."""
        lines = [f"wrote {self.n_images} images to {self.out}"]
        for c in self.classes:
            n = self.counts.get(c, {})
            lines.append(f"  {c}: {n.get('images', 0)} images, {n.get('marked', 0)} with the "
                         f"marker, {n.get('opacity', 0)} with opacities")
        if self.skipped:
            lines.append("  skipped: " + ", ".join(f"{k} {v}" for k, v in self.skipped.items()))
        if self.marker_moved or self.marker_unplaceable:
            lines.append(f"  markers moved to another place: {self.marker_moved}; images with "
                         f"no room for one: {self.marker_unplaceable}")
        return "\n".join(lines)


def class_order(labels: list[str]) -> list[str]:
    """The classes of ``labels`` in order: the protocol's known labels first (``normal``,
    ``pneumonia``, ``COVID-19``), then the others in order of first appearance."""
    present = list(dict.fromkeys(labels))
    return [c for c in LABELS if c in present] + [c for c in present if c not in LABELS]


def visible_field(shape: tuple[int, int], crop_top: float) -> tuple[int, int, int, int]:
    """(x0, y0, x1, y1) of the pixels a classifier sees after the top crop and the central
    square (:class:`~hideseek.data.preprocess.Preprocess` with ``square="crop"``)."""
    h, w = shape
    r0 = round(h * crop_top)
    side = min(h - r0, w)
    y0, x0 = r0 + (h - r0 - side) // 2, (w - side) // 2
    return x0, y0, x0 + side, y0 + side


@functools.lru_cache(maxsize=16)
def _letter(letter: str, size: int) -> np.ndarray:
    from PIL import Image, ImageDraw, ImageFont

    big = 4 * size
    try:
        font: ImageFont.FreeTypeFont | ImageFont.ImageFont = ImageFont.load_default(size=big)
    except (TypeError, OSError, ImportError):  # old Pillow or no FreeType: the bitmap font
        font = ImageFont.load_default()
    canvas = Image.new("L", (3 * big + 16, 3 * big + 16), 0)
    ImageDraw.Draw(canvas).text((8, 8), letter, fill=255, font=font)
    glyph = np.asarray(canvas) > 127
    if not glyph.any():
        raise PlantError(f"the default font has no glyph for marker letter {letter!r}")
    ys, xs = np.nonzero(glyph)
    glyph = glyph[ys.min(): ys.max() + 1, xs.min(): xs.max() + 1]
    if glyph.shape[0] >= big // 2:  # a FreeType rendering: thicken the strokes (a lead letter)
        glyph = ndimage.binary_dilation(glyph, iterations=max(1, round(0.03 * big)))
    width = max(3, round(size * glyph.shape[1] / glyph.shape[0]))
    img = Image.fromarray(glyph.astype(np.uint8) * 255)
    shrink = img.width >= width
    img = img.resize((width, size), Image.Resampling.BOX if shrink else Image.Resampling.NEAREST)
    stamp = np.asarray(img) >= 128
    stamp.setflags(write=False)  # cached: shared by every image
    return stamp


def marker_stamp(shape: str, size: int, letter: str = "R") -> np.ndarray:
    """The marker's pixels (a boolean array) of height ``size``.

    Args:
        shape: ``tag`` (a filled rectangle ``size`` wide and ``ceil(0.6 size)`` high),
            ``letter`` (``letter`` in Pillow's default font, bold, ``size`` high) or ``ring``
            (an annulus of diameter ``size``, a sixth of it thick).
        size: Height in pixels (at least 5).
        letter: The character of the ``letter`` shape.
    """
    size = max(5, int(size))
    if shape == "tag":
        return np.ones((max(3, math.ceil(0.6 * size)), size), dtype=bool)
    if shape == "letter":
        return _letter(letter, max(7, size))
    if shape == "ring":
        c = (size - 1) / 2
        yy, xx = np.mgrid[:size, :size]
        d = np.hypot(yy - c, xx - c)
        thick = max(1.0, size / 6)
        return (d <= size / 2) & (d >= size / 2 - thick)
    raise PlantError(f"unknown marker shape {shape!r}; choose from {', '.join(MARKER_SHAPES)}")


def _free_positions(forbidden: np.ndarray, h: int, w: int) -> np.ndarray:
    """``free[y, x]``: a ``h`` x ``w`` marker with its top-left pixel at (y, x) touches no
    forbidden pixel (an integral image)."""
    hh, ww = forbidden.shape
    if h > hh or w > ww:
        return np.zeros((0, 0), dtype=bool)
    s = np.zeros((hh + 1, ww + 1), dtype=np.int64)
    s[1:, 1:] = forbidden.astype(np.int64).cumsum(0).cumsum(1)
    sums = s[h:, w:] - s[:-h, w:] - s[h:, :-w] + s[:-h, :-w]
    return np.asarray(sums == 0)


@dataclass(frozen=True)
class _Geometry:
    """What placing a marker on one image needs: its shape, lungs and allowed pixels."""

    shape: tuple[int, int]
    boxes: list[Box]
    forbidden: np.ndarray
    field: tuple[int, int, int, int]
    margin: int


def _geometry(mask: np.ndarray, boxes: list[Box], config: PlantConfig) -> _Geometry:
    h, w = mask.shape
    margin = max(2, round(config.margin * min(h, w)))
    forbidden = boxes_mask((h, w), boxes, margin)
    forbidden |= ndimage.maximum_filter(mask, size=2 * margin + 1)  # every mask pixel (specks)
    x0, y0, x1, y1 = visible_field((h, w), config.crop_top)
    edge = max(1, margin // 2)
    inside = np.zeros((h, w), dtype=bool)
    inside[y0 + edge: y1 - edge, x0 + edge: x1 - edge] = True
    return _Geometry((h, w), boxes, forbidden | ~inside, (x0, y0, x1, y1), margin)


def _pick(ys: np.ndarray, xs: np.ndarray, cy: np.ndarray, cx: np.ndarray, target: tuple[float,
          float], jitter: float, rng: np.random.Generator) -> tuple[int, int]:
    """The free position nearest to ``target`` (x, y), jittered among those nearly as near."""
    d = np.hypot(cx - target[0], cy - target[1])
    near = np.flatnonzero(d <= d.min() + jitter)
    k = int(near[rng.integers(len(near))])
    return int(xs[k]), int(ys[k])


def _place(place: str, geo: _Geometry, mh: int, mw: int,
           rng: np.random.Generator) -> tuple[int, int] | None:
    """Top-left (x, y) of an ``mh`` x ``mw`` marker at ``place``, or None when none fits."""
    free = _free_positions(geo.forbidden, mh, mw)
    ys, xs = np.nonzero(free)
    if not len(ys):
        return None
    if place == "random":
        k = int(rng.integers(len(ys)))
        return int(xs[k]), int(ys[k])
    cx, cy = xs + mw / 2, ys + mh / 2  # marker centres
    side = min(geo.shape)
    jitter = 0.02 * side
    fx0, fy0, fx1, fy1 = geo.field
    bx0 = min(b[0] for b in geo.boxes)
    bx1 = max(b[2] for b in geo.boxes)
    by0 = min(b[1] for b in geo.boxes)
    by1 = max(b[3] for b in geo.boxes)
    if place == "corner":
        inset = geo.margin // 2 + 1
        corners = [(fx0 + inset + mw / 2, fy0 + inset + mh / 2),
                   (fx1 - inset - mw / 2, fy0 + inset + mh / 2),
                   (fx0 + inset + mw / 2, fy1 - inset - mh / 2),
                   (fx1 - inset - mw / 2, fy1 - inset - mh / 2)]
        for i in rng.permutation(4):
            t = corners[int(i)]
            ok = np.hypot(cx - t[0], cy - t[1]) <= 0.25 * side
            if ok.any():
                return _pick(ys[ok], xs[ok], cy[ok], cx[ok], t, jitter, rng)
        return None
    if place == "below":  # under the diaphragm, inside the lung boxes' span: the upper abdomen
        ok = (ys >= by1 + geo.margin) & (cx >= bx0) & (cx <= bx1)
        if not ok.any():
            return None
        targets = [((b[0] + b[2]) / 2, by1 + geo.margin + mh / 2) for b in geo.boxes]
        targets.append(((bx0 + bx1) / 2, by1 + geo.margin + mh / 2))
        t = targets[int(rng.integers(len(targets)))]
        return _pick(ys[ok], xs[ok], cy[ok], cx[ok], t, jitter, rng)
    if place == "spine":  # the midline: between the lungs, else above or below them
        two = len(geo.boxes) >= 2
        mid = (geo.boxes[0][2] + geo.boxes[-1][0]) / 2 if two else (bx0 + bx1) / 2
        ok = np.abs(cx - mid) <= max(mw / 2, 0.03 * side)
        if not ok.any():
            return None
        return _pick(ys[ok], xs[ok], cy[ok], cx[ok], (mid, (by0 + by1) / 2), jitter, rng)
    raise PlantError(f"unknown marker place {place!r}; choose from {', '.join(MARKER_PLACES)}")


def _place_marker(geo: _Geometry, stamp: np.ndarray, first: str,
                  rng: np.random.Generator) -> tuple[str, Box] | None:
    """The place used (``first`` if it fits, else the next of :data:`MARKER_PLACES`) and the
    marker's box (x0, y0, x1, y1), or None when no place fits."""
    mh, mw = stamp.shape
    order = [first, *(p for p in MARKER_PLACES if p != first and p != "random")]
    if first != "random":
        order.append("random")
    for place in order:
        at = _place(place, geo, mh, mw, rng)
        if at is not None:
            return place, (at[0], at[1], at[0] + mw, at[1] + mh)
    return None


def _opacity(image: np.ndarray, mask: np.ndarray, boxes: list[Box], amplitude: float,
             rng: np.random.Generator) -> tuple[np.ndarray, dict[str, float]]:
    """Add 2-4 smooth Gaussian patches inside the lung mask (nothing outside it changes)."""
    lung = image[mask]
    p5, p95 = (float(v) for v in np.percentile(lung, [5, 95]))
    peak = amplitude * max(p95 - p5, _MIN_LUNG_RANGE)
    lung_h = float(np.mean([b[3] - b[1] for b in boxes]))
    inside = mask & boxes_mask(mask.shape, boxes)  # the two lungs, not stray specks
    depth = ndimage.distance_transform_edt(inside)
    n = int(rng.integers(2, 5))
    sigmas = rng.uniform(0.07, 0.14, size=n) * lung_h
    field = np.zeros(mask.shape, dtype=np.float64)
    yy, xx = np.ogrid[: mask.shape[0], : mask.shape[1]]
    for sigma in sigmas:
        centres = np.flatnonzero(depth >= min(sigma, 0.5 * depth.max()))
        c = int(centres[rng.integers(len(centres))])
        y, x = divmod(c, mask.shape[1])
        weight = rng.uniform(0.7, 1.0)
        blob = np.exp(-((yy - y) ** 2 + (xx - x) ** 2) / (2 * sigma * sigma))
        field = np.maximum(field, weight * blob)  # overlapping patches never exceed the peak
    # Feathered inside the mask (0 on its border, 1 from ``feather`` pixels in): no hard
    # mask-shaped edge, and still nothing changes outside the mask.
    feather = max(1.0, 0.02 * min(mask.shape))
    weight = np.clip(ndimage.distance_transform_edt(mask) / feather, 0.0, 1.0)
    out = np.clip(image + (peak * field * weight).astype(np.float32), 0.0, 1.0)
    return out, {"opacity_peak": peak, "opacity_blobs": float(n), "lung_p5": p5, "lung_p95": p95}


def _image_seed(seed: int, stream: int, key: str) -> np.random.Generator:
    return np.random.default_rng([seed, stream, zlib.crc32(key.encode("utf-8"))])


def _relabel(records: list[Record], classes: tuple[str, ...],
             rng: np.random.Generator) -> dict[str, str]:
    """New label per patient id: patients in random order, each to the class with the fewest
    images so far (ties at random), so the classes' image counts differ by at most one
    patient's images."""
    patients: dict[str, int] = Counter(r.patient_id for r in records)
    ids = list(patients)
    counts = np.zeros(len(classes), dtype=np.int64)
    out: dict[str, str] = {}
    for i in rng.permutation(len(ids)):
        pid = ids[int(i)]
        low = np.flatnonzero(counts == counts.min())
        k = int(low[rng.integers(len(low))])
        out[pid] = classes[k]
        counts[k] += patients[pid]
    return out


def _resolve_masks(data: CXRDataset, masks_dir: str | Path | None) -> list[Path | None]:
    """The mask file of every record (None: missing)."""
    if masks_dir is not None:
        from hideseek.representations.masks import resolve_masks_dir

        folder = resolve_masks_dir(masks_dir)
        return [find_mask(folder, r.filename) for r in data.records]
    if not data.has_masks:
        raise PlantError(f"{data.root}: no lung masks (no masks/ folder and no masks given); run "
                         "`hideseek segment predict DATA --out M` first and pass --masks M")
    return [data.mask_path(r) for r in data.records]


def _read_lungs(path: Path, shape: tuple[int, int]) -> tuple[np.ndarray, bool]:
    """The mask at the image's size (resized when it differs) and whether it was resized."""
    mask = read_mask(path)
    if mask.shape == shape:
        return mask, False
    return resize(mask, shape), True


@dataclass(frozen=True)
class _Item:
    """An image with a usable lung mask."""

    record: Record
    mask: Path
    shape: tuple[int, int]


def _usable(data: CXRDataset, mask_paths: list[Path | None]
            ) -> tuple[list[_Item], Counter[str], list[str]]:
    """The images with a usable mask; the others counted by reason and named (never dropped
    silently). A mask is unusable when missing, unreadable, empty or of implausible area
    (:func:`~hideseek.segmentation.postprocess.mask_problem`, the protocol's bad-mask rule); an
    image whose header cannot be read is left out too."""
    skipped: Counter[str] = Counter()
    names: list[str] = []
    kept: list[_Item] = []
    for r, path in progress(list(zip(data.records, mask_paths, strict=True)), "masks"):
        try:
            shape = image_shape(data.image_path(r))
        except HideseekError as exc:
            log.warning("%s", exc)
            skipped["unreadable image"] += 1
            names.append(f"{r.key}: unreadable image")
            continue
        reason = "missing mask"
        if path is not None:
            try:
                mask, _ = _read_lungs(path, shape)
                problem = mask_problem(float(mask.mean()), len(lung_boxes(mask)))
                reason = {"empty": "empty mask", "implausible_area": "implausible mask area"
                          }.get(problem, problem)
            except HideseekError as exc:
                reason = "unreadable mask"
                log.warning("%s", exc)
        if reason:
            skipped[reason] += 1
            names.append(f"{r.key}: {reason}")
        else:
            assert path is not None
            kept.append(_Item(r, path, shape))
    if skipped:
        log.warning("skipped %d of %d images without a usable lung mask (%s)",
                    sum(skipped.values()), len(data.records),
                    ", ".join(f"{k}: {v}" for k, v in skipped.items()))
    if not kept:
        raise PlantError(f"{data.root}: no image has a usable lung mask "
                         f"({', '.join(f'{k}: {v}' for k, v in skipped.items())})")
    return kept, skipped, names


def _labels(data: CXRDataset, records: list[Record],
            config: PlantConfig) -> tuple[list[str], list[str], str, str]:
    """Each image's label, the classes, the marked class and the opacity class."""
    if config.relabel:
        new = _relabel(records, config.classes, np.random.default_rng([config.seed, 1]))
        labels = [new[r.patient_id] for r in records]
        classes = list(config.classes)
    else:
        unlabelled = sum(r.label is None for r in records)
        if unlabelled:
            raise PlantError(f"{data.root}: {unlabelled} of {len(records)} images have no label; "
                             "pass --relabel to draw labels at random")
        labels = [str(r.label) for r in records]
        classes = class_order(labels)
    marked_class = config.marked_class or classes[-1]
    opacity_class = config.opacity_class or marked_class
    for what, name in (("marked class", marked_class), ("opacity class", opacity_class)):
        if name not in classes:
            raise PlantError(f"unknown {what} {name!r}; the classes are {', '.join(classes)}")
    return labels, classes, marked_class, opacity_class


_Spot = tuple[str, Box, np.ndarray]  # place used, marker box, marker pixels


def _choose_marked(items: list[_Item], pool: list[int], config: PlantConfig
                   ) -> tuple[dict[int, _Spot], int, int]:
    """Markers for exactly ``round(contamination x len(pool))`` images of ``pool`` (drawn at
    random; an image with no room anywhere is replaced by the next one drawn).

    Returns:
        The spot of every marked image (by index into ``items``), the markers moved to another
        place and the images with no room.
    """
    target = round(config.contamination * len(pool))
    placed: dict[int, _Spot] = {}
    moved = unplaceable = 0
    for i in np.random.default_rng([config.seed, 2]).permutation(len(pool)):
        if len(placed) >= target:
            break
        item = items[pool[int(i)]]
        mask, _ = _read_lungs(item.mask, item.shape)
        stamp = marker_stamp(config.marker_shape, round(config.marker_size * min(item.shape)),
                             config.marker_letter)
        spot = _place_marker(_geometry(mask, lung_boxes(mask), config), stamp,
                             config.marker_place, _image_seed(config.seed, 4, item.record.key))
        if spot is None:
            unplaceable += 1
            log.warning("%s: no room for a marker outside the lung boxes; another image gets it",
                        item.record.key)
            continue
        moved += spot[0] != config.marker_place
        placed[pool[int(i)]] = (spot[0], spot[1], stamp)
    if len(placed) < target:
        log.warning("only %d of the %d images asked for could take a marker", len(placed), target)
    if moved:
        log.warning("%d of %d markers did not fit at %r and went to another place (see "
                    "planted.csv)", moved, len(placed), config.marker_place)
    return placed, moved, unplaceable


def _plant_one(data: CXRDataset, item: _Item, spot: _Spot | None, amplitude: float,
               config: PlantConfig, out: Path) -> dict[str, object]:
    """Write one image (planted or not) and its mask; its ``planted.csv`` row."""
    r = item.record
    decoded = read_image_info(data.image_path(r))
    image = decoded.pixels.copy()
    mask, resized = _read_lungs(item.mask, item.shape)
    name = mask_name(r.key)
    row: dict[str, object] = {c: "" for c in _PLANTED_COLUMNS}
    row.update(filename=name, original_label=r.label or "", patient_id=r.patient_id,
               source=r.source, marker=int(spot is not None), opacity=int(amplitude > 0),
               mask_resized=int(resized))
    if amplitude > 0:
        image, info = _opacity(image, mask, lung_boxes(mask), amplitude,
                               _image_seed(config.seed, 5, r.key))
        row.update({key: f"{v:.4g}" for key, v in info.items()})
    if spot is not None:
        place, (x0, y0, x1, y1), stamp = spot
        region = image[y0:y1, x0:x1]
        contrast = float(np.abs(config.marker_intensity - region[stamp]).mean())
        region[stamp] = config.marker_intensity
        row.update(marker_shape=config.marker_shape, marker_place=place, marker_x0=x0,
                   marker_y0=y0, marker_x1=x1, marker_y1=y1, marker_contrast=f"{contrast:.4g}")
    # 8-bit sources stay 8-bit (an unplanted image reads back bit-identical); deeper or
    # windowed ones are written as 16-bit.
    write_png(out / "images" / name, image, bits=8 if decoded.scaling == "8" else 16)
    write_png(out / "masks" / name, mask)
    return row


def plant_dataset(data: CXRDataset, masks_dir: str | Path | None, out: str | Path,
                  config: PlantConfig) -> PlantResult:
    """Write a copy of ``data`` with known evidence planted (see the module docstring).

    Args:
        data: The dataset (its labels are kept unless ``config.relabel``).
        masks_dir: Lung masks (a folder or a ``segment predict`` output); None for the
            dataset's own ``masks/``.
        out: The pack folder to write (must not exist or be empty).
        config: What to plant.

    Returns:
        The counts and records written.

    Raises:
        PlantError: No masks, an unknown class, missing labels, or a non-empty ``out``.
    """
    out = Path(out).resolve()
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise PlantError(f"{out}: already exists and is not empty; choose a new --out folder")
    if not data.records:
        raise PlantError(f"{data.root}: no images")
    items, skipped, skipped_files = _usable(data, _resolve_masks(data, masks_dir))
    labels, classes, marked_class, opacity_class = _labels(
        data, [it.record for it in items], config)

    amplitude = config.opacity_amplitude
    opacity_pool = [i for i, c in enumerate(labels) if c == opacity_class]
    n_opacity = round(config.opacity_fraction * len(opacity_pool)) if amplitude > 0 else 0
    draw = np.random.default_rng([config.seed, 3]).permutation(len(opacity_pool))[:n_opacity]
    with_opacity = {opacity_pool[int(i)] for i in draw}
    pool = [i for i, c in enumerate(labels) if c == marked_class]
    placed, moved, unplaceable = _choose_marked(items, pool, config)

    tmp = out.with_name(out.name + ".partial")  # renamed to ``out`` when complete
    if tmp.exists():
        shutil.rmtree(tmp)
    written: list[Record] = []
    rows: list[dict[str, object]] = []
    counts = {c: {"images": 0, "marked": 0, "opacity": 0} for c in classes}
    for k, item in enumerate(progress(items, "plant")):
        r = item.record
        row = _plant_one(data, item, placed.get(k), amplitude if k in with_opacity else 0.0,
                         config, tmp)
        row["label"] = labels[k]
        rows.append(row)
        marked, opaque = int(k in placed), int(k in with_opacity)
        counts[labels[k]]["images"] += 1
        counts[labels[k]]["marked"] += marked
        counts[labels[k]]["opacity"] += opaque
        extra = {key: v for key, v in r.extra.items() if key not in _MANIFEST_EXTRAS}
        if r.collection:
            extra["collection"] = r.collection
        extra.update(original_label=r.label or "", planted_marker=str(marked),
                     planted_opacity=str(opaque))
        written.append(Record(filename=str(row["filename"]), label=labels[k], source=r.source,
                              patient_id=r.patient_id, split=r.split, extra=extra))
    write_manifest(tmp / "manifest.csv", written)
    _write_planted(tmp / "planted.csv", rows)
    result = PlantResult(out=out, classes=classes, marked_class=marked_class,
                         opacity_class=opacity_class, counts=counts, skipped=dict(skipped),
                         marker_moved=moved, marker_unplaceable=unplaceable, records=written)
    summary = {
        "hideseek": __version__, "data": str(data.root),
        "masks": str(masks_dir) if masks_dir is not None else "the dataset's masks/",
        "config": {**asdict(config), "classes": list(config.classes)},
        "opacity_amplitude": amplitude, "classes": classes, "marked_class": marked_class,
        "opacity_class": opacity_class, "marked_target": round(config.contamination * len(pool)),
        "counts": counts, "skipped": dict(skipped), "skipped_files": skipped_files,
        "marker_moved": moved, "marker_unplaceable": unplaceable, "seed": config.seed,
    }
    (tmp / "plant.json").write_text(dumps(summary) + "\n", encoding="utf-8")
    (tmp / "README.md").write_text(_readme(result, config, data.root), encoding="utf-8")
    if out.exists():
        out.rmdir()  # empty (checked above)
    tmp.replace(out)
    return result


def _write_planted(path: Path, rows: list[dict[str, object]]) -> None:
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(_PLANTED_COLUMNS))
        writer.writeheader()
        writer.writerows(rows)


def _readme(result: PlantResult, config: PlantConfig, root: Path) -> str:
    relabel = (f"Labels were redrawn at random per patient over {', '.join(config.classes)} "
               f"(seed {config.seed}); the original ones are in `original_label`.\n"
               if config.relabel else "Labels are the dataset's own.\n")
    return (f"# hideseek planted dataset (a positive control)\n\nA copy of `{root}` with known "
            f"evidence planted by `hideseek plant` (hideseek {__version__}): markers "
            f"({config.marker_shape}, {config.marker_place}) outside the lung boxes on "
            f"{config.contamination:g} of the `{result.marked_class}` images, opacities "
            f"({config.opacity}) inside the lung masks of `{result.opacity_class}` images. "
            f"{relabel}Per image: `planted.csv`; the settings and counts: `plant.json`. The "
            "images keep the source data's licence.\n")
