"""Explanations that are measured: Grad-CAM, attribution-in-lungs numbers, occlusion, figures."""

from hideseek.explanation.figures import cam_grid, ratio_plot
from hideseek.explanation.gradcam import CamBatch, GradCAM
from hideseek.explanation.measures import attribution_numbers, outside_region, summarise
from hideseek.explanation.runner import cam_dataset, figure3, run_cam

__all__ = [
    "CamBatch",
    "GradCAM",
    "attribution_numbers",
    "cam_dataset",
    "cam_grid",
    "figure3",
    "outside_region",
    "ratio_plot",
    "run_cam",
    "summarise",
]
