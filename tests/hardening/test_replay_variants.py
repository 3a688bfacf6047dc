"""Altered copies of an earlier submission (issue 16, item 3): each must still be recognised.

The copies are made at test time with tools/facegen/variants.py from a public clip in
../shared/testdata (skipped without it); every copy is re-encoded, so its bytes differ.
"""

from __future__ import annotations

import functools
import itertools
from pathlib import Path

import pytest

from bot.verification.face import Action, same_recording, verify_selfie_video
from bot.verification.face import fingerprint as fp
from tools.facegen.variants import VARIANTS, altered_copy

pytestmark = pytest.mark.slow

_CLIP = "live_head_shake_left_right_varun.webm"


@functools.cache
def _fingerprint(path: Path, variant: str | None = None) -> tuple[int, ...]:
    data = path.read_bytes()
    if variant is not None:
        data = altered_copy(data, variant)
    return verify_selfie_video(data, [Action.TURN_LEFT]).fingerprint


@pytest.mark.parametrize("variant", list(VARIANTS))
def test_altered_copy_is_the_same_recording(variant: str, testdata: Path) -> None:
    original = _fingerprint(testdata / "videos" / _CLIP)
    copy = _fingerprint(testdata / "videos" / _CLIP, variant)
    assert original[0] == fp.VERSION and copy[0] == fp.VERSION
    assert same_recording(original, copy), (fp.distance(original, copy), fp.frame_bits(original, copy))
    assert same_recording(copy, original)


def test_other_clips_are_not_the_same_recording(testdata: Path) -> None:
    """Four clips of the same man (two with the same shirt and wall) and one of another man."""
    names = [
        _CLIP,
        "live_occluded_by_paper_varun.webm",
        "live_open_mouth_varun.webm",
        "live_nod_up_down_varun.webm",
        "live_blink_eyes_closed_repeating.mp4",
    ]
    prints = {n: _fingerprint(testdata / "videos" / n) for n in names}
    for a, b in itertools.combinations(names, 2):
        assert not same_recording(prints[a], prints[b]), (a, b, fp.distance(prints[a], prints[b]))


def test_a_row_stored_by_the_first_version_is_still_compared(testdata: Path) -> None:
    """A version-1 row is the 8 dHashes alone: compared with a new fingerprint's dHashes."""
    new = _fingerprint(testdata / "videos" / _CLIP)
    old_row = tuple(new[1 : 1 + fp.FRAMES])
    reencoded = _fingerprint(testdata / "videos" / _CLIP, "reencode")
    assert same_recording(reencoded, old_row) and same_recording(old_row, reencoded)
    assert fp.distance(reencoded, old_row) is None
    other = _fingerprint(testdata / "videos" / "live_nod_up_down_varun.webm")
    assert not same_recording(other, old_row)
