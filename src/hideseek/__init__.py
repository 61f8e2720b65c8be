"""hideseek: the ROI Hide-and-Seek protocol for chest X-ray classifiers.

Pipeline packages, in order: :mod:`hideseek.data` -> :mod:`hideseek.segmentation` ->
:mod:`hideseek.representations` -> :mod:`hideseek.classification` ->
:mod:`hideseek.explanation` -> :mod:`hideseek.protocol`.
"""

from hideseek.errors import HideseekError

__all__ = ["HideseekError", "__version__"]
__version__ = "0.1.0"
