"""ID card engine benchmark: field accuracy and latency on generated, distorted photos of fictitious cards.

    .venv/bin/python bench/bench_idcard.py [--n 200] [--seed 2026] [--markdown bench/RESULTS-idcard.md]

Needs a CJK font (fonts-noto-cjk, fonts-wqy-*, fonts-arphic-*). Every card is generated from the seed:
rotations by any multiple of 90° plus skew, perspective, off-centre placement, uneven and low light,
blur, noise, a glare spot, JPEG quality 50-92, six fonts. Latency is per side with warm models.
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import statistics
import sys
import time
from datetime import date
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bot.verification.idcard import read_side, warm_up
from tools.cardgen import (
    distort_jpeg,
    find_cjk_fonts,
    random_distortion,
    random_identity,
    render_back,
    render_front,
)

TODAY = date(2026, 11, 1)
FRONT = ("name", "sex", "ethnicity", "birth_date", "address", "id_number")
BACK = ("authority", "valid_from", "valid_to")


def _front_values(r: object) -> dict[str, str | None]:
    f = getattr(r, "front", None)
    if f is None:
        return dict.fromkeys(FRONT)
    return {
        "name": f.name,
        "sex": f.sex,
        "ethnicity": f.ethnicity,
        "birth_date": f.birth_date.isoformat() if f.birth_date else None,
        "address": f.address,
        "id_number": f.id_number,
    }


def _back_values(r: object) -> dict[str, str | None]:
    b = getattr(r, "back", None)
    if b is None:
        return dict.fromkeys(BACK)
    return {
        "authority": b.authority,
        "valid_from": b.valid_from.isoformat() if b.valid_from else None,
        "valid_to": "长期" if b.long_term else (b.valid_to.isoformat() if b.valid_to else None),
    }


def pct(values: list[float], q: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, round(q * (len(s) - 1)))]


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=200)
    ap.add_argument("--seed", type=int, default=2026)
    ap.add_argument("--markdown", type=Path, default=None, help="write the table into this file")
    ap.add_argument("--failures", type=Path, default=None, help="save misread photos here")
    args = ap.parse_args()

    fonts = find_cjk_fonts()
    if not fonts:
        print("no CJK font installed (apt-get install fonts-noto-cjk)", file=sys.stderr)
        return 2
    warm_up()
    rng = random.Random(args.seed)
    hits = {k: 0 for k in (*FRONT, *BACK)}
    whole = 0
    side_ok = 0
    lat: dict[str, list[float]] = {"front": [], "back": []}
    cpu: dict[str, list[float]] = {"front": [], "back": []}
    load_before = os.getloadavg()[0]
    crashes = 0
    for i in range(args.n):
        ident = random_identity(
            rng, today=TODAY, expired=rng.random() < 0.15, long_term=True if rng.random() < 0.15 else None
        )
        font = rng.choice(fonts)
        scale = rng.uniform(1.0, 2.0)
        photos = {
            "front": distort_jpeg(
                render_front(ident, font=font, scale=scale, rng=rng), rng, random_distortion(rng)
            ),
            "back": distort_jpeg(
                render_back(ident, font=font, scale=scale, rng=rng), rng, random_distortion(rng)
            ),
        }
        truth = ident.ground_truth()
        got: dict[str, str | None] = {}
        card_ok = True
        for side, data in photos.items():
            t = time.perf_counter()
            c = time.process_time()
            try:
                reading = read_side(data, today=TODAY)
            except Exception as exc:  # the benchmark counts crashes instead of stopping
                crashes += 1
                print(f"card {i} {side}: crash {exc!r}", file=sys.stderr)
                card_ok = False
                continue
            lat[side].append(time.perf_counter() - t)
            cpu[side].append(time.process_time() - c)
            side_ok += reading.side == side
            values = _front_values(reading) if side == "front" else _back_values(reading)
            got.update(values)
            wrong = [k for k, v in values.items() if v != truth[k]]
            if wrong:
                card_ok = False
                if args.failures:
                    args.failures.mkdir(parents=True, exist_ok=True)
                    (args.failures / f"{i:03d}_{side}.jpg").write_bytes(data)
                    print(
                        f"card {i} {side}: " + "; ".join(f"{k}: {truth[k]!r} → {values[k]!r}" for k in wrong)
                    )
        for k in hits:
            hits[k] += got.get(k) == truth[k]
        whole += card_ok

    n = args.n
    rows = [(k, hits[k] / n) for k in (*FRONT, *BACK)]
    lines = [
        f"Generated cards: {n} (seed {args.seed}), {2 * n} photos; side detected correctly: "
        f"{side_ok}/{2 * n}; crashes: {crashes}",
        "",
        "| field | exact match |",
        "|---|---|",
        *(f"| {k} | {v:.1%} |" for k, v in rows),
        f"| **whole card** (all 9 fields) | **{whole / n:.1%}** |",
        "",
        "| side | median latency | p95 latency | median CPU time | p95 CPU time |",
        "|---|---|---|---|---|",
        *(
            f"| {s} | {statistics.median(v):.2f} s | {pct(v, 0.95):.2f} s "
            f"| {statistics.median(cpu[s]):.2f} s | {pct(cpu[s], 0.95):.2f} s |"
            for s, v in lat.items()
            if v
        ),
        "",
        f"Machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}; "
        "models warm, one process, end-to-end `read_side` (decode, OCR, parsing, checks, portrait). "
        f"Load average (1 min) at start {load_before:.1f}, at end {os.getloadavg()[0]:.1f}: latency is "
        "wall-clock time and grows with other work on the machine; CPU time (both ONNX threads) does not.",
    ]
    text = "\n".join(lines)
    print(text)
    if args.markdown:
        header = "## ID card engine (bench/bench_idcard.py)\n\n"
        args.markdown.write_text(header + text + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
