"""Safe image decoding and simple quality measures shared by the document and face engines.

Everything that reaches an engine as user-supplied bytes goes through :func:`decode_image`: it looks at
the header first (format, frame count, size) and only then decodes, so a decompression bomb or an
oversized picture is refused before any pixel memory is allocated.
"""

from __future__ import annotations

import functools
import io
import struct
import warnings
from dataclasses import dataclass
from enum import StrEnum

import cv2
import numpy as np
import numpy.typing as npt
from PIL import Image, ImageFile, ImageOps, UnidentifiedImageError

__all__ = [
    "ImageLimits",
    "ImageReason",
    "ImageRejected",
    "brightness",
    "decode_image",
    "encode_jpeg",
    "glare_fraction",
    "sharpness",
    "to_bgr_array",
    "to_gray_array",
]

# Formats a phone or a messenger can plausibly send. Everything else (PSD, ICO, EPS, TIFF, ...) is
# refused: fewer decoders exposed to untrusted bytes.
_ALLOWED_FORMATS = frozenset({"JPEG", "MPO", "PNG", "WEBP", "HEIF", "AVIF", "BMP", "GIF"})

# A file that declares far more pixels than its size can plausibly carry is a bomb rather than a
# merely large photo. Phone JPEGs carry 3-20 pixels per byte; flat PNGs a few hundred at most.
_BOMB_PIXELS_PER_BYTE = 1000


@dataclass(frozen=True)
class ImageLimits:
    max_bytes: int = 15 * 1024 * 1024
    max_pixels: int = 40_000_000
    min_side: int = 0  # callers may raise it


class ImageReason(StrEnum):
    EMPTY = "image_empty"
    NOT_AN_IMAGE = "image_not_an_image"
    UNSUPPORTED_FORMAT = "image_unsupported_format"
    TRUNCATED = "image_truncated"
    CORRUPT = "image_corrupt"
    TOO_MANY_BYTES = "image_too_many_bytes"
    TOO_MANY_PIXELS = "image_too_many_pixels"
    DECOMPRESSION_BOMB = "image_decompression_bomb"
    ANIMATED = "image_animated"
    TOO_SMALL = "image_too_small"
    # Quality verdicts, given by the engines from the measures below.
    TOO_BLURRY = "image_too_blurry"
    TOO_DARK = "image_too_dark"
    GLARE = "image_glare"


class ImageRejected(Exception):
    def __init__(self, code: ImageReason, detail: str = "") -> None:
        super().__init__(f"{code}: {detail}" if detail else str(code))
        self.code = code
        self.detail = detail

    def __reduce__(self) -> tuple[type[ImageRejected], tuple[ImageReason, str]]:
        # Keeps the exception picklable across the process pool with both arguments.
        return (type(self), (self.code, self.detail))


@functools.cache
def _register_heif() -> bool:
    try:
        import pillow_heif
    except ImportError:  # pragma: no cover - depends on the wheel being available
        return False
    pillow_heif.register_heif_opener()
    return True


def _open_header(data: bytes) -> Image.Image:
    """Parse only the header. Pillow's own bomb check is turned into our reason code."""
    _register_heif()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            return Image.open(io.BytesIO(data))
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise ImageRejected(ImageReason.DECOMPRESSION_BOMB, str(exc)) from exc
    except UnidentifiedImageError as exc:
        raise ImageRejected(ImageReason.NOT_AN_IMAGE) from exc
    except (OSError, SyntaxError, ValueError, EOFError, struct.error) as exc:
        # Some plugins recognise the magic bytes but fail on a broken header.
        raise ImageRejected(ImageReason.CORRUPT, type(exc).__name__) from exc


def _frame_count(img: Image.Image) -> int:
    try:
        return int(getattr(img, "n_frames", 1))
    except (OSError, EOFError, ValueError, SyntaxError):
        # Counting frames walks the file; a cut-off animation fails here.
        raise ImageRejected(ImageReason.TRUNCATED, "frame table") from None


def decode_image(
    data: bytes, limits: ImageLimits | None = None, *, max_side: int | None = None
) -> Image.Image:
    """Decode untrusted bytes into an RGB image with the EXIF orientation applied.

    ``max_side`` lets a JPEG be decoded at a reduced scale (DCT scaling: much faster than decoding
    the full 12 MP and resizing); the result may still be larger than ``max_side``.
    Raises :class:`ImageRejected` with a reason code; never returns a partial image.
    """
    limits = limits or ImageLimits()
    if not data:
        raise ImageRejected(ImageReason.EMPTY)
    if len(data) > limits.max_bytes:
        raise ImageRejected(ImageReason.TOO_MANY_BYTES, f"{len(data)} > {limits.max_bytes}")

    img = _open_header(data)
    try:
        fmt = (img.format or "").upper()
        if fmt not in _ALLOWED_FORMATS:
            raise ImageRejected(ImageReason.UNSUPPORTED_FORMAT, fmt)
        width, height = img.size
        if width <= 0 or height <= 0:
            raise ImageRejected(ImageReason.CORRUPT, "zero size")
        pixels = width * height
        if pixels > limits.max_pixels:
            if pixels > _BOMB_PIXELS_PER_BYTE * len(data):
                raise ImageRejected(ImageReason.DECOMPRESSION_BOMB, f"{width}x{height} in {len(data)} bytes")
            raise ImageRejected(ImageReason.TOO_MANY_PIXELS, f"{width}x{height}")
        # MPO is a JPEG with a second (depth / preview) picture: not an animation.
        if fmt != "MPO" and (getattr(img, "is_animated", False) or _frame_count(img) > 1):
            raise ImageRejected(ImageReason.ANIMATED)
        if min(width, height) < limits.min_side:
            raise ImageRejected(ImageReason.TOO_SMALL, f"{width}x{height} < {limits.min_side}")

        if max_side and fmt in ("JPEG", "MPO") and max(width, height) > max_side:
            scale = max_side / max(width, height)
            img.draft("RGB", (max(1, int(width * scale)), max(1, int(height * scale))))
        if ImageFile.LOAD_TRUNCATED_IMAGES:  # pragma: no cover - someone flipped the global switch
            raise RuntimeError("PIL.ImageFile.LOAD_TRUNCATED_IMAGES must stay False")
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("error", Image.DecompressionBombWarning)
                img.load()
        except ImageRejected:
            raise
        except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
            raise ImageRejected(ImageReason.DECOMPRESSION_BOMB, str(exc)) from exc
        except (OSError, EOFError, SyntaxError, ValueError, struct.error) as exc:
            message = str(exc).lower()
            if "truncated" in message or "end of file" in message or isinstance(exc, EOFError):
                raise ImageRejected(ImageReason.TRUNCATED) from exc
            raise ImageRejected(ImageReason.CORRUPT, type(exc).__name__) from exc
        except MemoryError as exc:
            raise ImageRejected(ImageReason.TOO_MANY_PIXELS, "out of memory") from exc

        try:
            oriented = ImageOps.exif_transpose(img)
        except Exception:  # a broken EXIF block must not lose an otherwise good photo
            oriented = img
        if oriented is None:  # pragma: no cover - only with in_place=True
            oriented = img
        return _to_rgb(oriented)
    finally:
        img.close()


def _to_rgb(img: Image.Image) -> Image.Image:
    mode = img.mode
    if mode == "RGB":
        return img.copy()
    if mode in ("RGBA", "LA", "PA") or (mode == "P" and "transparency" in img.info):
        # Transparent areas become white, as a viewer would show them on a light background.
        rgba = img.convert("RGBA")
        background = Image.new("RGB", rgba.size, (255, 255, 255))
        background.paste(rgba, mask=rgba.getchannel("A"))
        return background
    if mode.startswith("I;16") or mode in ("I", "F"):
        arr = np.asarray(img, dtype=np.float64)
        hi = float(arr.max()) if arr.size else 0.0
        scaled = (arr * (255.0 / hi)) if hi > 0 else arr
        return Image.fromarray(scaled.clip(0, 255).astype(np.uint8), "L").convert("RGB")
    return img.convert("RGB")


def to_bgr_array(img: Image.Image) -> npt.NDArray[np.uint8]:
    """A contiguous HxWx3 uint8 array in OpenCV's channel order."""
    rgb = np.asarray(img.convert("RGB") if img.mode != "RGB" else img, dtype=np.uint8)
    return np.ascontiguousarray(rgb[:, :, ::-1])


def to_gray_array(img: Image.Image | npt.NDArray[np.uint8]) -> npt.NDArray[np.uint8]:
    """HxW uint8 luminance from a PIL image or a BGR / gray array."""
    if isinstance(img, Image.Image):
        return np.asarray(img.convert("L"), dtype=np.uint8)
    if img.ndim == 2:
        return img
    return np.asarray(cv2.cvtColor(img, cv2.COLOR_BGR2GRAY), dtype=np.uint8)


def encode_jpeg(img: Image.Image, quality: int = 90) -> bytes:
    out = io.BytesIO()
    rgb = img if img.mode == "RGB" else img.convert("RGB")
    rgb.save(out, format="JPEG", quality=quality, optimize=True)
    return out.getvalue()


# --- quality measures ------------------------------------------------------------------------------
# Plain numbers; each engine decides its own thresholds (text needs more sharpness than a face).


def sharpness(gray: npt.NDArray[np.uint8], *, max_side: int = 1000) -> float:
    """Variance of the Laplacian on a copy scaled to ``max_side`` (so the figure does not depend on
    the camera resolution). Below ~60 text is usually unreadable."""
    g = _limit_side(gray, max_side)
    return float(cv2.Laplacian(g, cv2.CV_64F).var())


def brightness(gray: npt.NDArray[np.uint8]) -> float:
    """Mean luminance, 0 (black) to 255 (white)."""
    return float(gray.mean()) if gray.size else 0.0


def glare_fraction(gray: npt.NDArray[np.uint8], *, threshold: int = 250) -> float:
    """Share of (nearly) saturated pixels: specular reflections that wipe out printed text."""
    if gray.size == 0:
        return 0.0
    return float(np.count_nonzero(gray >= threshold)) / float(gray.size)


def _limit_side(gray: npt.NDArray[np.uint8], max_side: int) -> npt.NDArray[np.uint8]:
    h, w = gray.shape[:2]
    side = max(h, w)
    if side <= max_side:
        return gray
    scale = max_side / side
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    resized = cv2.resize(gray, size, interpolation=cv2.INTER_AREA)
    return np.asarray(resized, dtype=np.uint8)
