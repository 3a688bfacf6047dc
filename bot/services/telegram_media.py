"""Fitting an image into what Telegram accepts as a photo.

A taxpayer may send a card as a document (up to 20 MB, any size); staff see it again as a photo in
/review. Telegram refuses a photo over 10 MB, with width + height over 10,000 or a side ratio over 20,
and a refused `sendMediaGroup` loses the whole album. So an image that does not fit is re-encoded:
scaled down, a too narrow strip padded onto a white canvas (staff must still see all of it), JPEG at
decreasing quality until it is small enough. An image that fits is sent untouched.
"""

from __future__ import annotations

import asyncio
import io
import warnings
from dataclasses import dataclass

MB = 1024 * 1024


@dataclass(frozen=True, slots=True)
class PhotoLimits:
    max_bytes: int = 10 * MB
    max_dimensions_sum: int = 10_000
    max_ratio: float = 20.0
    # Telegram shows at most 2560 px (HD) anyway: a re-encoded image need not be larger.
    target_side: int = 2560


PHOTO_LIMITS = PhotoLimits()
_QUALITIES = (90, 80, 70, 55, 40)


def fits(width: int, height: int, size: int, limits: PhotoLimits = PHOTO_LIMITS) -> bool:
    if width <= 0 or height <= 0:
        return False
    ratio = max(width, height) / min(width, height)
    return (
        size <= limits.max_bytes
        and width + height <= limits.max_dimensions_sum
        and ratio <= limits.max_ratio
    )


def fit_photo(data: bytes, limits: PhotoLimits = PHOTO_LIMITS) -> bytes:
    """`data` if Telegram accepts it as a photo, else a JPEG that it accepts. Bytes that are not an
    image are returned as they are (the caller's send fails as it would have)."""
    from PIL import Image

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # decompression-bomb warnings: the size is capped below
            with Image.open(io.BytesIO(data)) as img:
                if fits(img.width, img.height, len(data), limits) and img.format in {"JPEG", "PNG", "WEBP"}:
                    return data
                img.draft("RGB", (limits.target_side, limits.target_side))
                picture = img.convert("RGB")
    except Exception:  # not an image Pillow can read: nothing to fit
        return data
    picture.thumbnail((limits.target_side, limits.target_side))
    width, height = picture.size
    if max(width, height) / min(width, height) > limits.max_ratio:
        long_side = max(width, height)
        short_side = int(long_side / limits.max_ratio) + 1
        canvas_size = (long_side, short_side) if width >= height else (short_side, long_side)
        canvas = Image.new("RGB", canvas_size, "white")
        canvas.paste(picture, ((canvas_size[0] - width) // 2, (canvas_size[1] - height) // 2))
        picture = canvas
    while True:
        for quality in _QUALITIES:
            buf = io.BytesIO()
            picture.save(buf, format="JPEG", quality=quality)
            if buf.tell() <= limits.max_bytes:
                return buf.getvalue()
        if min(picture.size) <= 16:
            return buf.getvalue()
        # Still too big at the lowest quality (pure noise): fewer pixels, same proportions.
        picture = picture.resize((max(1, picture.width // 2), max(1, picture.height // 2)))


async def fit_photo_async(data: bytes) -> bytes:
    """:func:`fit_photo` off the event loop (decoding a 20 MB PNG takes a while)."""
    return await asyncio.to_thread(fit_photo, data)
