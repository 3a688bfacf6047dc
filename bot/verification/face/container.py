"""What wrote a video file: the container's own encoder and handler names, read without decoding.

A selfie recorded live comes from a phone camera or a Telegram client (a video note); a clip that
went through an editor or a transcoder names that tool in its container: MP4's ``©too`` tag (in
``moov/udta/meta/ilst`` or QuickTime's ``moov/udta``), the tracks' ``hdlr`` names, Matroska/WebM's
``MuxingApp`` / ``WritingApp``. A name can be forged or stripped, so this is a hint that makes the
caller judge stricter, never a proof of a live capture.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator

__all__ = ["EDITING_TOOLS", "editing_tool", "writer_names"]

# Lower-case fragments of the names editors, transcoders and libraries write (a phone camera writes
# e.g. "Core Media Video" or "VideoHandle"; Chrome's recorder "Chrome" / "QTmuxingAppLibWebM").
EDITING_TOOLS = (
    "lavf",
    "ffmpeg",
    "libav",
    "handbrake",
    "premiere",
    "adobe",
    "after effects",
    "capcut",
    "剪映",
    "davinci",
    "resolve",
    "final cut",
    "imovie",
    "kinemaster",
    "inshot",
    "filmora",
    "shotcut",
    "openshot",
    "avidemux",
    "mencoder",
    "mkvmerge",
    "vn video editor",
    "videoleap",
)

_CONTAINERS = {b"moov", b"trak", b"mdia", b"udta", b"ilst", b"minf"}
_MAX_NAMES = 16


def _boxes(buf: bytes, start: int, end: int) -> Iterator[tuple[bytes, int, int]]:
    pos = start
    while pos + 8 <= end:
        size, kind = struct.unpack_from(">I4s", buf, pos)
        header = 8
        if size == 1 and pos + 16 <= end:
            (size,) = struct.unpack_from(">Q", buf, pos + 8)
            header = 16
        elif size == 0:
            size = end - pos
        if size < header or pos + size > end:
            return
        yield kind, pos + header, pos + size
        pos += size


def _text(raw: bytes) -> str:
    return raw.split(b"\x00", 1)[0].decode("utf-8", "replace").strip()


def _mp4_names(buf: bytes) -> list[str]:
    names: list[str] = []

    def walk(start: int, end: int, depth: int) -> None:
        if depth > 6 or len(names) >= _MAX_NAMES:
            return
        for kind, body, box_end in _boxes(buf, start, end):
            if kind in _CONTAINERS:
                walk(body, box_end, depth + 1)
            elif kind == b"meta":
                walk(body + 4, box_end, depth + 1)  # a full box: version and flags first
            elif kind == b"hdlr" and box_end - body > 24:
                name = _text(buf[body + 24 : box_end])
                if name:
                    names.append(name)
            elif kind == b"\xa9too":
                inner = list(_boxes(buf, body, box_end))
                data = [b for b in inner if b[0] == b"data"]
                if data:  # iTunes style: a data box, 8 bytes of type and locale, the text
                    names.append(_text(buf[data[0][1] + 8 : data[0][2]]))
                elif box_end - body > 4:  # QuickTime style: length, language, the text
                    names.append(_text(buf[body + 4 : box_end]))

    walk(0, len(buf), 0)
    return [n for n in names if n]


_EBML_SEGMENT, _EBML_INFO = 0x18538067, 0x1549A966
_MUXING_APP, _WRITING_APP = 0x4D80, 0x5741


def _vint(buf: bytes, pos: int, *, keep_marker: bool) -> tuple[int, int]:
    if pos >= len(buf):
        raise ValueError("truncated")
    first = buf[pos]
    length = 1
    while length <= 8 and not first & (0x80 >> (length - 1)):
        length += 1
    if length > 8 or pos + length > len(buf):
        raise ValueError("malformed EBML")
    value = first if keep_marker else first & (0xFF >> length)
    for b in buf[pos + 1 : pos + length]:
        value = (value << 8) | b
    return value, length


def _webm_names(buf: bytes) -> list[str]:
    names: list[str] = []

    def elements(start: int, end: int) -> Iterator[tuple[int, int, int]]:
        pos = start
        while pos < end:
            eid, n = _vint(buf, pos, keep_marker=True)
            size, m = _vint(buf, pos + n, keep_marker=False)
            body = pos + n + m
            unknown = size == (1 << (7 * m)) - 1
            stop = end if unknown else min(end, body + size)
            yield eid, body, stop
            if unknown:
                return
            pos = body + size

    try:
        for eid, body, stop in elements(0, len(buf)):
            if eid != _EBML_SEGMENT:
                continue
            for sid, sbody, sstop in elements(body, stop):
                if sid == _EBML_INFO:
                    for iid, ibody, istop in elements(sbody, sstop):
                        if iid in (_MUXING_APP, _WRITING_APP):
                            names.append(_text(buf[ibody:istop]))
                    return names
    except ValueError:
        pass
    return names


def writer_names(data: bytes) -> list[str]:
    """The encoder / muxer / handler names the file declares (possibly none)."""
    head = data[:4]
    if head == b"\x1a\x45\xdf\xa3":
        return [n for n in _webm_names(data) if n]
    if len(data) >= 8 and data[4:8] in {b"ftyp", b"moov", b"mdat", b"free", b"wide", b"skip"}:
        return _mp4_names(data)
    return []


def editing_tool(data: bytes) -> str | None:
    """The first declared writer that is an editor, transcoder or library (no camera), or None."""
    for name in writer_names(data):
        low = name.lower()
        if any(tool in low for tool in EDITING_TOOLS):
            return name
    return None
