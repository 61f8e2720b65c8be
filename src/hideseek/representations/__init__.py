"""ROI Hide-and-Seek representations: the versions of every image, on the fly and on disk.

Importing the package registers the built-in representations (the paper's five and the
``lungs_silhouette`` control) and fills (``zero``, ``mean``, ``blur``, ``linear``).
"""

from hideseek.representations import silhouette as _silhouette  # noqa: F401  (registers it)
from hideseek.representations.figure import figure_samples, representation_figure
from hideseek.representations.masks import (
    BAD_MASK_POLICIES,
    MaskInfo,
    apply_policy,
    assess_masks,
    find_mask,
    mask_qc_table,
    resolve_masks_dir,
)
from hideseek.representations.registry import (
    RepresentationSpec,
    check_fill,
    check_representations,
    fill_help,
    fill_names,
    get_fill,
    get_representation,
    hidden_representations,
    register_fill,
    register_representation,
    representation_names,
    representation_title,
    unregister_fill,
    unregister_representation,
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
    "RepresentationSpec",
    "apply_policy",
    "apply_representation",
    "assess_masks",
    "check_fill",
    "check_representations",
    "figure_samples",
    "fill_help",
    "fill_names",
    "find_mask",
    "get_fill",
    "get_representation",
    "hidden_representations",
    "lung_boxes",
    "mask_qc_table",
    "output_name",
    "register_fill",
    "register_representation",
    "representation_figure",
    "representation_names",
    "representation_title",
    "resolve_masks_dir",
    "unregister_fill",
    "unregister_representation",
    "visible_region",
    "write_representations",
]
