"""Attacks on the *timing* of a selfie video, built from genuine clips (no ffmpeg binary needed).

* :func:`join_clips` -- several genuine clips of one person joined into one video, so that one file
  holds every challenge action (the "one clip for every challenge" attack of issue 16): decoded with
  OpenCV, letter-boxed to one size and written as one MP4.
* :func:`retime_mp4` -- the container's clock rewritten without re-encoding a frame: every track's
  timescale (``mdhd``) and the movie's (``mvhd``) multiplied by ``factor``, so each timestamp, the
  declared length and the declared frame rate shrink by that factor (what ``ffmpeg -bsf:v setts``
  does to a 23.4 s clip declared as 2.9 s). ``durations_only`` instead rewrites only the declared
  durations (``mvhd``/``tkhd``/``mdhd``), leaving the frames' timestamps long.
* :func:`retime_webm` -- the same for Matroska/WebM: the segment's ``TimecodeScale`` divided by
  ``factor`` (every block timestamp and the declared duration are in that unit).

Nothing here is committed test data: the attacks are made at test time from ``../shared/testdata``.
"""

from __future__ import annotations

import os
import struct
import tempfile
from collections.abc import Iterator, Sequence

import cv2
import numpy as np
import numpy.typing as npt

from tools.facegen.make import write_video

U8 = npt.NDArray[np.uint8]

__all__ = ["decode_frames", "join_clips", "retime_mp4", "retime_webm"]


def decode_frames(data: bytes, max_seconds: float | None = None) -> tuple[list[U8], float]:
    """Every frame of a video (up to ``max_seconds`` by its timestamps) and its mean frame rate."""
    with tempfile.TemporaryDirectory(prefix="facegen-") as tmp:
        path = os.path.join(tmp, "in")
        with open(path, "wb") as fh:
            fh.write(data)
        cap = cv2.VideoCapture(path, cv2.CAP_FFMPEG)
        frames: list[U8] = []
        times: list[float] = []
        try:
            while cap.grab():
                t = float(cap.get(cv2.CAP_PROP_POS_MSEC)) / 1000.0
                if max_seconds is not None and t > max_seconds:
                    break
                ok, img = cap.retrieve()
                if ok and img is not None:
                    frames.append(np.asarray(img, np.uint8))
                    times.append(t)
        finally:
            cap.release()
    if len(frames) < 2:
        raise ValueError("not enough frames")
    fps = (len(times) - 1) / max(times[-1] - times[0], 1e-6)
    return frames, fps


def _letterbox(img: U8, size: tuple[int, int]) -> U8:
    w, h = size
    s = min(w / img.shape[1], h / img.shape[0])
    nw, nh = max(1, round(img.shape[1] * s)), max(1, round(img.shape[0] * s))
    out = np.zeros((h, w, 3), np.uint8)
    y, x = (h - nh) // 2, (w - nw) // 2
    out[y : y + nh, x : x + nw] = cv2.resize(img, (nw, nh), interpolation=cv2.INTER_AREA)
    return out


def join_clips(clips: Sequence[bytes], *, size: tuple[int, int] = (640, 480), fps: float = 30.0) -> bytes:
    """The clips one after another in one MP4 at ``fps`` (each clip resampled to it by its own
    timestamps, so every clip keeps its real speed)."""
    out: list[U8] = []
    for data in clips:
        frames, rate = decode_frames(data)
        n = round(len(frames) * fps / rate)
        for k in range(n):
            out.append(_letterbox(frames[min(len(frames) - 1, int(k * rate / fps))], size))
    return write_video(out, fps)


# --- MP4 (ISO BMFF) ---------------------------------------------------------------------------------

_CONTAINERS = {b"moov", b"trak", b"mdia", b"edts", b"minf", b"stbl", b"udta"}


def _boxes(buf: bytearray, start: int, end: int) -> Iterator[tuple[bytes, int, int, int]]:
    """(type, box start, payload start, box end) of the boxes in ``buf[start:end]``."""
    pos = start
    while pos + 8 <= end:
        size, kind = struct.unpack_from(">I4s", buf, pos)
        header = 8
        if size == 1:
            (size,) = struct.unpack_from(">Q", buf, pos + 8)
            header = 16
        elif size == 0:
            size = end - pos
        if size < header or pos + size > end:
            raise ValueError("malformed MP4 box")
        yield kind, pos, pos + header, pos + size
        pos += size


def _full_box_fields(buf: bytearray, payload: int, kind: bytes) -> tuple[int, int, int, int]:
    """(timescale offset, duration offset, duration size) of an mvhd/mdhd; tkhd has no timescale."""
    version = buf[payload]
    if kind == b"tkhd":
        # version, flags, creation, modification, track id, reserved, duration
        if version == 1:
            return -1, payload + 4 + 8 + 8 + 4 + 4, 8, version
        return -1, payload + 4 + 4 + 4 + 4 + 4, 4, version
    if version == 1:
        return payload + 4 + 16, payload + 4 + 16 + 4, 8, version
    return payload + 4 + 8, payload + 4 + 8 + 4, 4, version


def retime_mp4(data: bytes, factor: int, *, durations_only: bool = False) -> bytes:
    """The same MP4 with its clock ``factor`` times faster (see the module docstring)."""
    if factor < 2:
        raise ValueError("factor must be at least 2")
    buf = bytearray(data)
    touched = 0

    def walk(start: int, end: int) -> None:
        nonlocal touched
        for kind, _, payload, box_end in _boxes(buf, start, end):
            if kind in _CONTAINERS:
                walk(payload, box_end)
            elif kind in {b"mvhd", b"mdhd", b"tkhd"}:
                ts_off, dur_off, dur_size, _ = _full_box_fields(buf, payload, kind)
                fmt = ">Q" if dur_size == 8 else ">I"
                if durations_only:
                    (dur,) = struct.unpack_from(fmt, buf, dur_off)
                    struct.pack_into(fmt, buf, dur_off, dur // factor)
                elif ts_off >= 0:
                    (ts,) = struct.unpack_from(">I", buf, ts_off)
                    struct.pack_into(">I", buf, ts_off, ts * factor)
                touched += 1

    walk(0, len(buf))
    if not touched:
        raise ValueError("no movie header found: not an MP4")
    return bytes(buf)


# --- Matroska / WebM --------------------------------------------------------------------------------

_SEGMENT, _INFO, _TIMECODE_SCALE = 0x18538067, 0x1549A966, 0x2AD7B1


def _vint(buf: bytes, pos: int, *, keep_marker: bool) -> tuple[int, int]:
    first = buf[pos]
    length = 1
    while length <= 8 and not first & (0x80 >> (length - 1)):
        length += 1
    if length > 8:
        raise ValueError("malformed EBML")
    value = first if keep_marker else first & (0xFF >> length)
    for b in buf[pos + 1 : pos + length]:
        value = (value << 8) | b
    return value, length


def retime_webm(data: bytes, factor: int) -> bytes:
    """The same WebM with its ``TimecodeScale`` divided by ``factor``: every timestamp shrinks."""
    if factor < 2:
        raise ValueError("factor must be at least 2")
    buf = bytearray(data)

    def find(start: int, end: int, wanted: int) -> tuple[int, int] | None:
        pos = start
        while pos < end:
            eid, n = _vint(buf, pos, keep_marker=True)
            size, m = _vint(buf, pos + n, keep_marker=False)
            body = pos + n + m
            if eid == wanted:
                unknown = size == (1 << (7 * m)) - 1
                return body, (len(buf) if unknown else body + size)
            if size == (1 << (7 * m)) - 1:
                return None  # an element of unknown size we cannot skip
            pos = body + size
        return None

    segment = find(0, len(buf), _SEGMENT)
    info = segment and find(segment[0], segment[1], _INFO)
    scale = info and find(info[0], info[1], _TIMECODE_SCALE)
    if not scale:
        raise ValueError("no TimecodeScale found: not a WebM this tool can retime")
    body, end = scale
    value = int.from_bytes(buf[body:end], "big")
    buf[body:end] = (value // factor).to_bytes(end - body, "big")
    return bytes(buf)
