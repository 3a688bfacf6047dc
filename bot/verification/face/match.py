"""Compare 128-d encodings and turn a distance into pass / review / fail."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

from .config import FaceConfig, FaceReason

__all__ = ["Decision", "MatchResult", "decide", "distance", "min_distance"]

Decision = Literal["pass", "fail", "review"]
ENCODING_SIZE = 128


@dataclass(frozen=True)
class MatchResult:
    decision: Decision
    distance: float | None
    reasons: list[str] = field(default_factory=list)
    encoding_a: tuple[float, ...] | None = None
    encoding_b: tuple[float, ...] | None = None


def _check(enc: Sequence[float]) -> None:
    if len(enc) != ENCODING_SIZE or not all(math.isfinite(x) for x in enc):
        raise ValueError(f"a face encoding has {ENCODING_SIZE} finite floats")


def distance(a: Sequence[float], b: Sequence[float]) -> float:
    _check(a)
    _check(b)
    return math.sqrt(sum((x - y) ** 2 for x, y in zip(a, b, strict=True)))


def min_distance(live: Sequence[float], references: Sequence[Sequence[float]]) -> float:
    return min(distance(live, ref) for ref in references)


def decide(dist: float, config: FaceConfig) -> tuple[Decision, list[str]]:
    """Below threshold - margin: pass; within the margin either side: staff review; above: fail."""
    if dist < config.match_threshold - config.review_margin:
        return "pass", []
    if dist < config.match_threshold + config.review_margin:
        return "review", [FaceReason.MATCH_UNCERTAIN.value]
    return "fail", [FaceReason.MISMATCH.value]
