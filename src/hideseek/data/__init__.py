"""Data layer: reading CXR files, manifests and split files, splits, caches, hashes, phantoms."""

from hideseek.data.cache import PreprocessCache, default_cache_dir
from hideseek.data.check import DataReport, check_dataset, check_path, format_report
from hideseek.data.datasets import ClassificationDataset, SegmentationDataset
from hideseek.data.hashing import code_fingerprint, content_hash, file_hashes
from hideseek.data.io import (
    DEFAULT_INTENSITY,
    IntensityPolicy,
    get_max_pixels,
    image_shape,
    read_image,
    read_image_info,
    read_mask,
    set_max_pixels,
    write_png,
)
from hideseek.data.labels import LABEL_INDEX, LABELS, normalise_label
from hideseek.data.manifest import CXRDataset, Problem, Record, load_dataset, write_manifest
from hideseek.data.phantom import (
    PhantomConfig,
    make_phantom,
    write_covidx_tree,
    write_phantom_dataset,
)
from hideseek.data.preprocess import Preprocess, center_square, crop_top, pad_to_square, resize
from hideseek.data.split import assign_splits, patient_overlap

__all__ = [
    "DEFAULT_INTENSITY",
    "LABELS",
    "LABEL_INDEX",
    "CXRDataset",
    "ClassificationDataset",
    "DataReport",
    "IntensityPolicy",
    "PhantomConfig",
    "Preprocess",
    "PreprocessCache",
    "Problem",
    "Record",
    "SegmentationDataset",
    "assign_splits",
    "center_square",
    "check_dataset",
    "check_path",
    "code_fingerprint",
    "content_hash",
    "crop_top",
    "default_cache_dir",
    "file_hashes",
    "format_report",
    "get_max_pixels",
    "image_shape",
    "load_dataset",
    "make_phantom",
    "normalise_label",
    "pad_to_square",
    "patient_overlap",
    "read_image",
    "read_image_info",
    "read_mask",
    "resize",
    "set_max_pixels",
    "write_covidx_tree",
    "write_manifest",
    "write_phantom_dataset",
    "write_png",
]
