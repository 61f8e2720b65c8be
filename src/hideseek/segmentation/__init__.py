"""Lung segmentation: U-Net, training, Table-2 evaluation, whole-dataset prediction."""

from hideseek.segmentation.checkpoint import DEFAULT_MODEL, load_segmenter, save_segmenter
from hideseek.segmentation.metrics import PixelCounts, SegmentationReport, dice, table2
from hideseek.segmentation.postprocess import Box, LungRegions, boxes_mask, postprocess_mask
from hideseek.segmentation.predict import (
    evaluate_masks,
    mask_name,
    predict_dataset,
    predict_masks,
    read_regions,
)
from hideseek.segmentation.train import SegTrainConfig, train_segmenter
from hideseek.segmentation.unet import PAPER_UNET, UNet, UNetConfig

__all__ = [
    "DEFAULT_MODEL",
    "PAPER_UNET",
    "Box",
    "LungRegions",
    "PixelCounts",
    "SegTrainConfig",
    "SegmentationReport",
    "UNet",
    "UNetConfig",
    "boxes_mask",
    "dice",
    "evaluate_masks",
    "load_segmenter",
    "mask_name",
    "postprocess_mask",
    "predict_dataset",
    "predict_masks",
    "read_regions",
    "save_segmenter",
    "table2",
    "train_segmenter",
]
