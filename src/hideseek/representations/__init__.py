"""ROI Hide-and-Seek representations: the five versions of every image, on the fly and on disk."""

from hideseek.representations.figure import representation_figure
from hideseek.representations.masks import (
    BAD_MASK_POLICIES,
    MaskInfo,
    apply_policy,
    assess_masks,
    find_mask,
    mask_qc_table,
    resolve_masks_dir,
)
from hideseek.representations.transforms import (
    FILLS,
    REPRESENTATIONS,
    Representation,
    apply_representation,
    lung_boxes,
    visible_region,
)
from hideseek.representations.writer import RepresentOptions, output_name, write_representations

__all__ = [
    "BAD_MASK_POLICIES",
    "FILLS",
    "REPRESENTATIONS",
    "MaskInfo",
    "RepresentOptions",
    "Representation",
    "apply_policy",
    "apply_representation",
    "assess_masks",
    "find_mask",
    "lung_boxes",
    "mask_qc_table",
    "output_name",
    "representation_figure",
    "resolve_masks_dir",
    "visible_region",
    "write_representations",
]
