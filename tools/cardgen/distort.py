"""Turn a flat rendered card into something like a phone photo of it."""

from __future__ import annotations

import io
import random
from dataclasses import dataclass

import cv2
import numpy as np
import numpy.typing as npt
from PIL import Image

__all__ = ["Distortion", "distort", "distort_jpeg", "random_distortion", "telegram_recompress"]


@dataclass(frozen=True)
class Distortion:
    frame: tuple[int, int] = (1600, 1200)  # photo size before the quarter turns (w, h)
    card_fraction: float = 0.7  # card width / frame width
    offset: tuple[float, float] = (0.0, 0.0)  # card centre shift, as a fraction of the frame
    skew_deg: float = 0.0
    perspective: float = 0.0  # corner jitter, fraction of the card size
    quarter_turns: int = 0  # counter-clockwise 90° turns of the whole photo
    blur_sigma: float = 0.0
    noise_sigma: float = 0.0
    light: float = 1.0  # global brightness factor (low light < 1)
    light_gradient: float = 0.0  # 0: even; 0.5: one side half as bright
    glare: float = 0.0  # peak of a soft white spot, 0..1
    jpeg_quality: int = 90


def random_distortion(rng: random.Random, *, hard: bool = True) -> Distortion:
    """Distortions a phone photo of a card on a desk plausibly shows."""
    frame = rng.choice(((1600, 1200), (1280, 960), (2000, 1500), (1920, 1080), (2400, 1800)))
    return Distortion(
        frame=frame,
        card_fraction=rng.uniform(0.5, 0.92),
        offset=(rng.uniform(-0.12, 0.12), rng.uniform(-0.1, 0.1)),
        skew_deg=rng.uniform(-8, 8) if hard else rng.uniform(-2, 2),
        perspective=rng.uniform(0.0, 0.06 if hard else 0.02),
        quarter_turns=rng.randrange(4) if hard else 0,
        blur_sigma=rng.choice((0.0, 0.0, 0.6, 1.0, 1.4)) if hard else 0.0,
        noise_sigma=rng.uniform(0, 8 if hard else 3),
        light=rng.choice((1.0, 1.0, 0.85, 0.65, 0.5)) if hard else 1.0,
        light_gradient=rng.uniform(0, 0.45 if hard else 0.1),
        glare=rng.choice((0.0, 0.0, 0.0, 0.25)) if hard else 0.0,
        jpeg_quality=rng.choice((50, 65, 75, 85, 92)) if hard else 90,
    )


def _desk(rng: random.Random, size: tuple[int, int]) -> npt.NDArray[np.float32]:
    w, h = size
    base = np.array([rng.randint(40, 200) for _ in range(3)], dtype=np.float32)
    small = np.random.default_rng(rng.randrange(2**32)).normal(0, 18, (h // 32 + 2, w // 32 + 2, 3))
    texture = cv2.resize(small.astype(np.float32), (w, h), interpolation=cv2.INTER_CUBIC)
    if rng.random() < 0.5:  # wood-like grain
        ys = np.arange(h, dtype=np.float32)[:, None, None]
        texture += 12 * np.sin(ys / rng.uniform(6, 20) + rng.uniform(0, 6)).astype(np.float32)
    return np.asarray(np.clip(base + texture, 0, 255), dtype=np.float32)


def distort(card: Image.Image, rng: random.Random, d: Distortion | None = None) -> Image.Image:
    """Place ``card`` (RGBA, transparent corners) on a desk and photograph it: perspective, skew,
    lighting, blur, noise, quarter turns and JPEG. Returns the decoded JPEG as an RGB image."""
    return Image.open(io.BytesIO(distort_jpeg(card, rng, d))).convert("RGB")


def distort_jpeg(card: Image.Image, rng: random.Random, d: Distortion | None = None) -> bytes:
    """Like :func:`distort`, returning the JPEG file (what a phone would send)."""
    d = d or random_distortion(rng)
    w, h = d.frame
    photo = _desk(rng, (w, h))

    rgba = np.asarray(card.convert("RGBA"), dtype=np.float32)
    ch, cw = rgba.shape[:2]
    target_w = d.card_fraction * w
    scale = target_w / cw
    if ch * scale > 0.92 * h:
        scale = 0.92 * h / ch
    cx = w / 2 + d.offset[0] * w
    cy = h / 2 + d.offset[1] * h
    corners = np.array([[0, 0], [cw, 0], [cw, ch], [0, ch]], dtype=np.float32)
    centred = (corners - [cw / 2, ch / 2]) * scale
    a = np.deg2rad(d.skew_deg)
    rot = np.array([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]], dtype=np.float32)
    placed = centred @ rot.T + [cx, cy]
    jitter = (
        np.array([[rng.uniform(-1, 1), rng.uniform(-1, 1)] for _ in range(4)], dtype=np.float32)
        * d.perspective
        * np.array([cw * scale, ch * scale], dtype=np.float32)
    )
    placed = (placed + jitter).astype(np.float32)
    # Keep the card inside the frame: shift back if a corner left it.
    shift_x = max(0.0, 4 - placed[:, 0].min()) - max(0.0, placed[:, 0].max() - (w - 4))
    shift_y = max(0.0, 4 - placed[:, 1].min()) - max(0.0, placed[:, 1].max() - (h - 4))
    placed += np.array([shift_x, shift_y], dtype=np.float32)
    m = cv2.getPerspectiveTransform(corners, placed)
    warped = cv2.warpPerspective(rgba, m, (w, h), flags=cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR)
    alpha = np.asarray(warped[:, :, 3:4], dtype=np.float32) / np.float32(255.0)
    # A soft shadow under the card.
    shadow = np.asarray(cv2.GaussianBlur(alpha[:, :, 0], (0, 0), 6), dtype=np.float32).reshape(h, w, 1)
    shadow = np.roll(np.roll(shadow, 6, axis=0), 6, axis=1)
    photo = photo * (1 - 0.35 * shadow)
    photo = photo * (1 - alpha) + np.asarray(warped[:, :, :3], dtype=np.float32) * alpha

    # Lighting: global level, a linear gradient in a random direction, an optional glare spot.
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    ang = rng.uniform(0, 2 * np.pi)
    ramp = ((xx / w - 0.5) * np.cos(ang) + (yy / h - 0.5) * np.sin(ang)) + 0.5
    light = d.light * (1 - d.light_gradient * np.clip(ramp, 0, 1))
    photo = photo * light[:, :, None]
    if d.glare > 0:
        gx, gy = placed[:, 0].mean() + rng.uniform(-0.3, 0.3) * cw * scale, placed[:, 1].mean()
        r = 0.12 * cw * scale
        spot = np.exp(-(((xx - gx) ** 2 + (yy - gy) ** 2) / (2 * r * r)))
        photo = photo + (255 - photo) * (d.glare * spot)[:, :, None]
    rgb = np.clip(photo, 0, 255).astype(np.uint8)
    if d.blur_sigma > 0:
        rgb = cv2.GaussianBlur(rgb, (0, 0), d.blur_sigma)
    if d.noise_sigma > 0:
        noise = np.random.default_rng(rng.randrange(2**32)).normal(0, d.noise_sigma, rgb.shape)
        rgb = np.clip(rgb.astype(np.float32) + noise, 0, 255).astype(np.uint8)
    if d.quarter_turns % 4:
        rgb = np.ascontiguousarray(np.rot90(rgb, d.quarter_turns % 4))
    out = io.BytesIO()
    Image.fromarray(rgb, "RGB").save(out, format="JPEG", quality=d.jpeg_quality)
    return out.getvalue()


def telegram_recompress(data: bytes, *, max_side: int = 1280, quality: int = 87) -> bytes:
    """What Telegram makes of a photo sent as a photo (not as a file): the largest side scaled down to
    1280 px and re-encoded as JPEG at about quality 87, 4:2:0 chroma subsampling."""
    img = Image.open(io.BytesIO(data)).convert("RGB")
    scale = max_side / max(img.size)
    if scale < 1:
        img = img.resize((round(img.width * scale), round(img.height * scale)), Image.Resampling.LANCZOS)
    out = io.BytesIO()
    img.save(out, format="JPEG", quality=quality, subsampling=2)
    return out.getvalue()
