"""ID card photos composed at test time for the end-to-end tests (never committed).

A fictitious identity rendered by tools/cardgen with, as its portrait, a frame of one public test clip's
person; the selfie is another clip of the same person (`live_open_mouth_varun.webm`: mouth opens at
~0.3–0.9 s, a blink at ~1.2 s, mouth again ~1.3–1.9 s).
"""

from __future__ import annotations

import io
import random
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from bot.verification.ids import add_years, age_on, expected_validity_years

SELFIE = "videos/live_open_mouth_varun.webm"
PORTRAIT_CLIP = "videos/live_nod_up_down_varun.webm"  # same man, another recording


def frame(path: Path, seconds: float) -> Image.Image:
    import cv2

    capture = cv2.VideoCapture(str(path))
    capture.set(cv2.CAP_PROP_POS_MSEC, seconds * 1000)
    ok, bgr = capture.read()
    capture.release()
    assert ok, path
    return Image.fromarray(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB))


def portrait(testdata: Path) -> Image.Image:
    """The face of a frontal frame, cropped like an ID photo (head and shoulders, 3:4)."""
    import dlib
    import numpy as np

    still = frame(testdata / PORTRAIT_CLIP, 0.5)
    faces = dlib.get_frontal_face_detector()(np.asarray(still), 1)
    assert faces, "no face in the portrait frame"
    f = max(faces, key=lambda r: r.width())
    cx, cy, w = (f.left() + f.right()) / 2, (f.top() + f.bottom()) / 2, f.width()
    box = (int(cx - w * 0.9), int(cy - w * 1.15), int(cx + w * 0.9), int(cy + w * 1.25))
    return still.crop(box)


def jpeg(img: Image.Image, quality: int = 90) -> bytes:
    out = io.BytesIO()
    img.convert("RGB").save(out, "JPEG", quality=quality)
    return out.getvalue()


def compose_card_photos(testdata: Path) -> tuple[bytes, bytes, Any]:
    """Front and back photos (on a desk) and the identity printed on them; skips without a CJK font."""
    try:
        from tools.cardgen.identities import random_identity, with_fields
        from tools.cardgen.render import find_cjk_fonts, render_back, render_front
    except ImportError:
        pytest.skip("the card generator is not available")
    fonts = find_cjk_fonts()
    if not fonts:
        pytest.skip("no CJK font installed to compose a card (Debian: fonts-wqy-zenhei)")
    rng = random.Random(20261127)
    identity = random_identity(rng, today=date(2026, 11, 27))
    # Issued in 2021, with the length the rules give for the age at issue, so the card is valid today.
    issued = date(2021, 3, 1)
    years = expected_validity_years(age_on(identity.birth_date, issued))
    identity = with_fields(identity, valid_from=issued, valid_to=add_years(issued, years) if years else None)
    front = render_front(identity, portrait(testdata), font=fonts[0])
    back = render_back(identity, font=fonts[0])

    # A phone photo of a card lies on something: put it on a plain desk with a margin.
    def on_desk(card: Image.Image) -> bytes:
        desk = Image.new("RGB", (card.width + 160, card.height + 160), (96, 84, 70))
        desk.paste(card, (80, 80), card if card.mode == "RGBA" else None)
        return jpeg(desk)

    return on_desk(front), on_desk(back), identity


def trim_video(path: Path, seconds: float, *, scale: float = 1.0) -> bytes:
    """The first `seconds` of a clip, re-encoded (MPEG-4 part 2) at its frame rate, its size × `scale`."""
    import tempfile

    import cv2

    capture = cv2.VideoCapture(str(path))
    fps = capture.get(cv2.CAP_PROP_FPS) or 25.0
    size = (
        int(capture.get(cv2.CAP_PROP_FRAME_WIDTH) * scale) // 2 * 2,
        int(capture.get(cv2.CAP_PROP_FRAME_HEIGHT) * scale) // 2 * 2,
    )
    with tempfile.TemporaryDirectory() as tmp:
        out_path = Path(tmp) / "trimmed.mp4"
        writer = cv2.VideoWriter(str(out_path), cv2.VideoWriter.fourcc(*"mp4v"), fps, size)
        for _ in range(int(fps * seconds)):
            ok, frame = capture.read()
            if not ok:
                break
            writer.write(cv2.resize(frame, size) if scale != 1.0 else frame)
        writer.release()
        capture.release()
        return out_path.read_bytes()
