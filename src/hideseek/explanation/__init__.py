"""Explanations that are measured: Grad-CAM and other registered explainers, attribution-in-lungs
numbers beside their nulls, occlusion, figures."""

from hideseek.explanation.figures import cam_grid, ratio_plot
from hideseek.explanation.gradcam import CamBatch, GradCAM
from hideseek.explanation.measures import (
    attribution_numbers,
    null_numbers,
    outside_region,
    summarise,
)
from hideseek.explanation.occlusion import OcclusionMap
from hideseek.explanation.registry import (
    ExplainerSpec,
    explainer_names,
    get_explainer,
    register_explainer,
)
from hideseek.explanation.runner import cam_dataset, figure3, run_cam, stratified_sample

__all__ = [
    "CamBatch",
    "ExplainerSpec",
    "GradCAM",
    "OcclusionMap",
    "attribution_numbers",
    "cam_dataset",
    "cam_grid",
    "explainer_names",
    "figure3",
    "get_explainer",
    "null_numbers",
    "outside_region",
    "ratio_plot",
    "register_explainer",
    "run_cam",
    "stratified_sample",
    "summarise",
]
