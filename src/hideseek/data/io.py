"""Reading any chest X-ray file into a float32 2-D array in [0, 1]."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from hideseek.errors import ImageReadError

__all__ = ["DICOM_SUFFIXES", "image_shape", "read_image", "read_mask", "write_png"]

DICOM_SUFFIXES = {".dcm", ".dicom", ".dic"}


def _is_dicom(path: Path, head: bytes) -> bool:
    return path.suffix.lower() in DICOM_SUFFIXES or head[128:132] == b"DICM"


def _read_dicom(path: Path) -> np.ndarray:
    import pydicom
    from pydicom.errors import InvalidDicomError
    from pydicom.pixels import apply_modality_lut, apply_voi_lut

    try:
        ds = pydicom.dcmread(path, force=path.suffix.lower() in DICOM_SUFFIXES)
        if int(getattr(ds, "NumberOfFrames", 1) or 1) > 1:
            raise ImageReadError(path, f"multi-frame DICOM ({ds.NumberOfFrames} frames)")
        pixels = ds.pixel_array
    except ImageReadError:
        raise
    except (InvalidDicomError, AttributeError, KeyError) as exc:
        raise ImageReadError(path, f"not a readable DICOM image ({exc})") from exc
    except Exception as exc:  # pydicom raises many types for broken pixel data
        raise ImageReadError(path, f"DICOM pixel data unreadable ({exc})") from exc
    if pixels.ndim != 2:
        raise ImageReadError(path, f"expected one 2-D grayscale frame, got shape {pixels.shape}")
    arr = apply_modality_lut(pixels, ds)
    # VOI LUT or window centre/width when present; otherwise the full range is used.
    arr = np.asarray(apply_voi_lut(arr, ds), dtype=np.float64)
    lo, hi = float(arr.min()), float(arr.max())
    arr = (arr - lo) / (hi - lo) if hi > lo else np.zeros_like(arr)
    if str(getattr(ds, "PhotometricInterpretation", "")).upper() == "MONOCHROME1":
        arr = 1.0 - arr  # MONOCHROME1: low values are white
    return arr.astype(np.float32)


def _to_unit_float(arr: np.ndarray, path: Path) -> np.ndarray:
    if arr.dtype == np.uint8:
        return arr.astype(np.float32) / 255.0
    if arr.dtype == np.uint16 or (arr.dtype.kind in "iu" and arr.max(initial=0) > 255):
        return np.clip(arr.astype(np.float32) / 65535.0, 0.0, 1.0)
    if arr.dtype.kind in "iu":
        return arr.astype(np.float32) / 255.0
    if arr.dtype.kind == "b":
        return arr.astype(np.float32)
    if arr.dtype.kind == "f":
        lo, hi = float(np.nanmin(arr)), float(np.nanmax(arr))
        if lo >= 0.0 and hi <= 1.0:
            return arr.astype(np.float32)
        return ((arr - lo) / (hi - lo) if hi > lo else np.zeros_like(arr)).astype(np.float32)
    raise ImageReadError(path, f"unsupported pixel type {arr.dtype}")


def _read_pil(path: Path) -> np.ndarray:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(path) as img:
                frames = int(getattr(img, "n_frames", 1))
                if frames > 1:
                    raise ImageReadError(path, f"multi-frame image ({frames} frames)")
                img.load()
                mode = img.mode
                if mode in {"I;16", "I;16B", "I;16L", "I;16N"}:
                    arr = np.asarray(img, dtype=np.uint16)
                elif mode in {"I", "F"}:
                    arr = np.asarray(img)
                elif mode in {"L", "1", "P", "LA", "RGB", "RGBA", "CMYK", "YCbCr", "PA", "La"}:
                    arr = np.asarray(img.convert("L"))
                else:
                    raise ImageReadError(path, f"unsupported image mode {mode}")
    except ImageReadError:
        raise
    except UnidentifiedImageError as exc:
        raise ImageReadError(path, "not an image (unrecognised format)") from exc
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombWarning) as exc:
        raise ImageReadError(path, f"corrupt or truncated image ({exc})") from exc
    return _to_unit_float(arr, path)


def read_image(path: str | Path) -> np.ndarray:
    """Read a chest X-ray as a float32 grayscale image in [0, 1].

    PNG / JPEG / TIFF (8 or 16 bit; L, LA, RGB, RGBA converted to grayscale) and DICOM (modality
    LUT, VOI LUT or window, MONOCHROME1 inverted) are supported.

    Args:
        path: The image file.

    Returns:
        A 2-D float32 array with values in [0, 1].

    Raises:
        ImageReadError: The file is missing, empty, truncated, not an image, multi-frame or
            zero-sized.
    """
    path = Path(path)
    if not path.exists():
        raise ImageReadError(path, "file not found")
    if path.is_dir():
        raise ImageReadError(path, "is a directory, not an image file")
    size = path.stat().st_size
    if size == 0:
        raise ImageReadError(path, "empty file (0 bytes)")
    with path.open("rb") as fh:
        head = fh.read(132)
    arr = _read_dicom(path) if _is_dicom(path, head) else _read_pil(path)
    if arr.ndim != 2:
        raise ImageReadError(path, f"expected a 2-D image, got shape {arr.shape}")
    if arr.size == 0 or min(arr.shape) == 0:
        raise ImageReadError(path, f"zero-sized image {arr.shape}")
    if not np.isfinite(arr).all():
        raise ImageReadError(path, "image contains NaN or infinite values")
    return arr


def image_shape(path: str | Path) -> tuple[int, int]:
    """(height, width) of an image file from its header, without decoding the pixels."""
    path = Path(path)
    try:
        with path.open("rb") as fh:
            head = fh.read(132)
        if _is_dicom(path, head):
            import pydicom

            ds = pydicom.dcmread(path, stop_before_pixels=True, force=True)
            return int(ds.Rows), int(ds.Columns)
        with Image.open(path) as img:
            return img.height, img.width
    except ImageReadError:
        raise
    except Exception:
        h, w = read_image(path).shape  # raises the precise error
        return h, w


def read_mask(path: str | Path, shape: tuple[int, int] | None = None) -> np.ndarray:
    """Read a lung mask as a boolean array.

    Masks coded 0/1, 0/255 or with several grey levels are accepted: any non-zero pixel is lung.

    Args:
        path: The mask file.
        shape: When given, the (height, width) the mask must have (its image's shape).

    Raises:
        ImageReadError: Unreadable mask or a size that differs from its image.
    """
    path = Path(path)
    arr = read_image(path)
    mask = arr > 0
    if shape is not None and mask.shape != tuple(shape):
        raise ImageReadError(
            path, f"mask size {mask.shape[1]}x{mask.shape[0]} differs from its image "
            f"{shape[1]}x{shape[0]} (width x height)"
        )
    return mask


def write_png(path: str | Path, image: np.ndarray, bits: int = 8) -> None:
    """Write a [0, 1] float image (or a boolean mask) as a lossless grayscale PNG.

    Args:
        path: Destination; parent folders are created.
        image: 2-D float array in [0, 1] or boolean mask (written 0/255).
        bits: 8 or 16.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if image.dtype == bool:
        Image.fromarray(image.astype(np.uint8) * 255).save(path)
        return
    clipped = np.clip(image, 0.0, 1.0)
    if bits == 16:
        Image.fromarray(np.round(clipped * 65535).astype(np.uint16)).save(path)
    else:
        Image.fromarray(np.round(clipped * 255).astype(np.uint8)).save(path)
