"""Lung segmentation: U-Net, training, Table-2 evaluation, whole-dataset prediction."""

from hideseek.segmentation.checkpoint import (
    DEFAULT_MODEL,
    SHIPPED_MODELS,
    export_segmenter,
    load_segmenter,
    save_segmenter,
    shipped_model_path,
)
from hideseek.segmentation.config import SegTrainConfig, load_seg_config
from hideseek.segmentation.metrics import PixelCounts, SegmentationReport, dice, table2
from hideseek.segmentation.postprocess import Box, LungRegions, boxes_mask, postprocess_mask
from hideseek.segmentation.predict import (
    evaluate_masks,
    mask_name,
    predict_dataset,
    predict_masks,
    predict_probabilities,
    read_regions,
)
from hideseek.segmentation.qc import MaskQC, ShapeRanges
from hideseek.segmentation.registry import register_segmenter, segmenter_kinds
from hideseek.segmentation.train import train_segmenter
from hideseek.segmentation.unet import PAPER_UNET, UNet, UNetConfig

__all__ = [
    "DEFAULT_MODEL",
    "PAPER_UNET",
    "SHIPPED_MODELS",
    "Box",
    "LungRegions",
    "MaskQC",
    "PixelCounts",
    "SegTrainConfig",
    "SegmentationReport",
    "ShapeRanges",
    "UNet",
    "UNetConfig",
    "boxes_mask",
    "dice",
    "evaluate_masks",
    "export_segmenter",
    "load_seg_config",
    "load_segmenter",
    "mask_name",
    "postprocess_mask",
    "predict_dataset",
    "predict_masks",
    "predict_probabilities",
    "read_regions",
    "register_segmenter",
    "save_segmenter",
    "segmenter_kinds",
    "shipped_model_path",
    "table2",
    "train_segmenter",
]
