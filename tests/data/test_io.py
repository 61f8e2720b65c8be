"""The bad-input suite of the image reader, built from files made in the tests."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from hideseek.data.io import image_shape, read_image, read_mask, write_png
from hideseek.errors import ImageReadError


def _png_bytes(arr: np.ndarray, mode: str | None = None) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(arr, mode=mode).save(buf, format="PNG") if mode else Image.fromarray(
        arr).save(buf, format="PNG")
    return buf.getvalue()


def test_8bit_png_scaled_to_unit(tmp_path: Path) -> None:
    arr = np.array([[0, 128], [255, 64]], dtype=np.uint8)
    p = tmp_path / "a.png"
    p.write_bytes(_png_bytes(arr))
    out = read_image(p)
    assert out.dtype == np.float32
    np.testing.assert_allclose(out, arr / 255.0, atol=1e-7)


def test_16bit_png_keeps_precision(tmp_path: Path) -> None:
    arr = np.array([[0, 1000], [65535, 30000]], dtype=np.uint16)
    p = tmp_path / "b16.png"
    Image.fromarray(arr).save(p)
    np.testing.assert_allclose(read_image(p), arr / 65535.0, atol=1e-7)


@pytest.mark.parametrize("mode", ["RGB", "RGBA", "LA"])
def test_color_and_alpha_become_grayscale(tmp_path: Path, mode: str) -> None:
    gray = np.array([[10, 200], [90, 255]], dtype=np.uint8)
    img = Image.fromarray(gray).convert(mode)
    p = tmp_path / f"c_{mode}.png"
    img.save(p)
    np.testing.assert_allclose(read_image(p), gray / 255.0, atol=1.5 / 255)


def test_jpeg_and_tiff(tmp_path: Path) -> None:
    gray = np.full((16, 20), 100, dtype=np.uint8)
    for ext in ("jpg", "tif"):
        p = tmp_path / f"x.{ext}"
        Image.fromarray(gray).save(p)
        out = read_image(p)
        assert out.shape == (16, 20)
        assert abs(float(out.mean()) - 100 / 255) < 2 / 255


@pytest.mark.parametrize(
    ("name", "content", "reason"),
    [
        ("empty.png", b"", "empty file"),
        ("text.png", b"this is not an image at all", "not an image"),
        ("trunc.png", None, "corrupt or truncated"),
        ("trunc.jpg", None, "corrupt or truncated"),
    ],
)
def test_broken_files_name_file_and_reason(tmp_path: Path, name: str, content: bytes | None,
                                           reason: str) -> None:
    p = tmp_path / name
    if content is None:
        buf = io.BytesIO()
        rng = np.random.default_rng(0)
        Image.fromarray(rng.integers(0, 255, (64, 64), dtype=np.uint8)).save(
            buf, format="PNG" if name.endswith("png") else "JPEG")
        content = buf.getvalue()[: len(buf.getvalue()) // 2]
    p.write_bytes(content)
    with pytest.raises(ImageReadError) as err:
        read_image(p)
    assert str(p) in str(err.value)
    assert reason in str(err.value)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ImageReadError, match="file not found"):
        read_image(tmp_path / "nope.png")


def test_multiframe_tiff_refused(tmp_path: Path) -> None:
    p = tmp_path / "multi.tif"
    frames = [Image.fromarray(np.zeros((8, 8), np.uint8)) for _ in range(3)]
    frames[0].save(p, save_all=True, append_images=frames[1:])
    with pytest.raises(ImageReadError, match="multi-frame"):
        read_image(p)


def _dicom(path: Path, pixels: np.ndarray, photometric: str, **extra: object) -> None:
    from pydicom.dataset import FileDataset, FileMetaDataset
    from pydicom.uid import ExplicitVRLittleEndian, SecondaryCaptureImageStorage, generate_uid

    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = SecondaryCaptureImageStorage
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = FileDataset(str(path), {}, file_meta=meta, preamble=b"\0" * 128)
    ds.SOPClassUID = meta.MediaStorageSOPClassUID
    ds.SOPInstanceUID = meta.MediaStorageSOPInstanceUID
    ds.Modality = "DX"
    ds.Rows, ds.Columns = pixels.shape
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = photometric
    ds.BitsAllocated = 16
    ds.BitsStored = 12
    ds.HighBit = 11
    ds.PixelRepresentation = 0
    for k, v in extra.items():
        setattr(ds, k, v)
    ds.PixelData = pixels.astype(np.uint16).tobytes()
    ds.save_as(path, enforce_file_format=True)


def test_dicom_monochrome2_and_monochrome1(tmp_path: Path) -> None:
    pixels = np.array([[0, 1000], [2000, 4000]], dtype=np.uint16)
    _dicom(tmp_path / "m2.dcm", pixels, "MONOCHROME2")
    _dicom(tmp_path / "m1.dcm", pixels, "MONOCHROME1")
    m2, m1 = read_image(tmp_path / "m2.dcm"), read_image(tmp_path / "m1.dcm")
    # One intensity policy: BitsStored 12 -> divided by 4095 (no longer min-max per image).
    np.testing.assert_allclose(m2, pixels / 4095.0, atol=1e-6)
    np.testing.assert_allclose(m1, 1.0 - pixels / 4095.0, atol=1e-6)
    assert image_shape(tmp_path / "m2.dcm") == (2, 2)


def test_dicom_window_applied(tmp_path: Path) -> None:
    pixels = np.array([[0, 1000], [2000, 4000]], dtype=np.uint16)
    _dicom(tmp_path / "w.dcm", pixels, "MONOCHROME2", WindowCenter=1500, WindowWidth=1000)
    out = read_image(tmp_path / "w.dcm")
    # Inside the window [1000, 2000] values spread over [0, 1]; outside they saturate.
    assert out[0, 0] == pytest.approx(0.0) and out[0, 1] == pytest.approx(0.0, abs=1e-3)
    assert out[1, 0] == pytest.approx(1.0, abs=1e-3) and out[1, 1] == pytest.approx(1.0)


def test_dicom_without_pixels(tmp_path: Path) -> None:
    p = tmp_path / "bad.dcm"
    p.write_bytes(b"\0" * 128 + b"DICM" + b"\x02\x00")
    with pytest.raises(ImageReadError) as err:
        read_image(p)
    assert "bad.dcm" in str(err.value)


@pytest.mark.parametrize("levels", [(0, 1), (0, 255), (0, 128, 255)])
def test_mask_codings(tmp_path: Path, levels: tuple[int, ...]) -> None:
    arr = np.zeros((6, 6), np.uint8)
    for k, v in enumerate(levels[1:], start=1):
        arr[k, :] = v
    p = tmp_path / "m.png"
    Image.fromarray(arr).save(p)
    mask = read_mask(p)
    assert mask.dtype == bool and mask.sum() == 6 * (len(levels) - 1)


def test_mask_size_mismatch_is_clear(tmp_path: Path) -> None:
    p = tmp_path / "m.png"
    write_png(p, np.zeros((10, 12), dtype=bool))
    with pytest.raises(ImageReadError, match="differs from its image"):
        read_mask(p, (10, 10))


def test_write_png_roundtrip(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    img = rng.integers(0, 256, (20, 30)).astype(np.float32) / 255.0
    write_png(tmp_path / "r.png", img)
    np.testing.assert_array_equal(read_image(tmp_path / "r.png"), img)
