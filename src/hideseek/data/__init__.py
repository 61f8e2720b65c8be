"""Data layer: reading CXR files, manifests and split files, splits, caches, phantoms."""

from hideseek.data.cache import PreprocessCache, default_cache_dir
from hideseek.data.check import check_dataset, format_report
from hideseek.data.datasets import ClassificationDataset, SegmentationDataset
from hideseek.data.io import image_shape, read_image, read_mask, write_png
from hideseek.data.labels import LABEL_INDEX, LABELS, normalise_label
from hideseek.data.manifest import CXRDataset, Record, load_dataset, write_manifest
from hideseek.data.phantom import PhantomConfig, make_phantom, write_phantom_dataset
from hideseek.data.preprocess import Preprocess, center_square, crop_top, pad_to_square, resize
from hideseek.data.split import assign_splits, patient_overlap

__all__ = [
    "LABELS",
    "LABEL_INDEX",
    "CXRDataset",
    "ClassificationDataset",
    "PhantomConfig",
    "Preprocess",
    "PreprocessCache",
    "Record",
    "SegmentationDataset",
    "assign_splits",
    "center_square",
    "check_dataset",
    "crop_top",
    "default_cache_dir",
    "format_report",
    "image_shape",
    "load_dataset",
    "make_phantom",
    "normalise_label",
    "pad_to_square",
    "patient_overlap",
    "read_image",
    "read_mask",
    "resize",
    "write_manifest",
    "write_phantom_dataset",
    "write_png",
]
