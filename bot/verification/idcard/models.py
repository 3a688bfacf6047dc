"""The OCR models: the three ONNX files shipped inside the pinned rapidocr wheel, checked at load.

Nothing is downloaded at run time: the engine is built with explicit paths to these files, so
rapidocr's own resolver (which fetches a missing model from a hub) is never reached, and the
recogniser's alphabet is read from the ONNX metadata (no dictionary download either).

Each file's SHA-256 must equal both the value recorded here (what MODELS.md documents and the
benchmark measured) and the value in the wheel's own model licence notice
(``MODEL_LICENSES.md`` in its dist-info): a replaced or corrupted file, or a rapidocr upgrade that
changes a model without this module and MODELS.md being updated, stops the engine from loading
instead of silently reading cards with another model.
"""

from __future__ import annotations

import functools
import hashlib
import importlib.metadata
import importlib.util
import re
from dataclasses import dataclass
from pathlib import Path

__all__ = ["MODELS", "RAPIDOCR_VERSION", "OcrModel", "OcrModelError", "licence_hashes", "model_paths"]

RAPIDOCR_VERSION = "3.10.0"


@dataclass(frozen=True)
class OcrModel:
    task: str  # "det" / "cls" / "rec"
    file: str  # name inside rapidocr/models/
    sha256: str


MODELS: tuple[OcrModel, ...] = (
    OcrModel("det", "PP-OCRv6_det_small.onnx",
             "090f04abcd9d9a7498bc4ebf677e4cb9bdce1fe4197ddb7e529f1ef44e1ff94f"),
    OcrModel("rec", "PP-OCRv6_rec_small.onnx",
             "6f327246b50388f3c176ae304bd95767ea6dc0c9ae92153ef8cbe210b3c14884"),
    OcrModel("cls", "ch_ppocr_mobile_v2.0_cls_mobile.onnx",
             "e47acedf663230f8863ff1ab0e64dd2d82b838fceb5957146dab185a89d6215c"),
)  # fmt: skip

_LICENCE_FILE = "licenses/MODEL_LICENSES.md"
# A row of the notice's table: | `file.onnx` | `upstream` | `sha256` | source |
_ROW = re.compile(r"^\|\s*`([^`]+\.onnx)`\s*\|[^|]*\|\s*`([0-9a-f]{64})`\s*\|", re.MULTILINE)


class OcrModelError(RuntimeError):
    """The OCR models cannot be used as shipped (missing, altered, or not the documented ones)."""


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def licence_hashes(text: str) -> dict[str, str]:
    """File name → SHA-256 from the model licence notice's table."""
    return {name: digest for name, digest in _ROW.findall(text)}


@functools.cache
def model_paths() -> dict[str, Path]:
    """Task → path of its verified model file; raises :class:`OcrModelError` otherwise."""
    try:
        version = importlib.metadata.version("rapidocr")
        notice = importlib.metadata.distribution("rapidocr").read_text(_LICENCE_FILE)
    except importlib.metadata.PackageNotFoundError as exc:
        raise OcrModelError("rapidocr is not installed") from exc
    if version != RAPIDOCR_VERSION:
        raise OcrModelError(f"rapidocr {version} installed, the models are documented for {RAPIDOCR_VERSION}")
    if notice is None:
        raise OcrModelError(f"rapidocr's {_LICENCE_FILE} is missing")
    listed = licence_hashes(notice)
    spec = importlib.util.find_spec("rapidocr")
    if spec is None or spec.origin is None:
        raise OcrModelError("rapidocr is not importable")
    root = Path(spec.origin).parent / "models"
    paths: dict[str, Path] = {}
    for model in MODELS:
        path = root / model.file
        if listed.get(model.file) != model.sha256:
            raise OcrModelError(f"{model.file}: not listed with the expected SHA-256 in {_LICENCE_FILE}")
        if not path.is_file():
            raise OcrModelError(f"{model.file} is not in the rapidocr wheel")
        if _sha256(path) != model.sha256:
            raise OcrModelError(f"{model.file}: SHA-256 differs from the licence notice")
        paths[model.task] = path
    return paths
