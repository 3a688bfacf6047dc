"""ID card engine benchmark: field accuracy and latency on generated, distorted photos of fictitious cards.

    python bench/bench_idcard.py [--n 200] [--rare 200] [--seed 2026] [--raw-every 1] [--markdown FILE]
                                 [--until HH:MM] [--failures] [--pause-while FILE]

One run prints everything: for each card design (``classic``, ``template``, ``serif``, see
tools/cardgen/render.py) and for a rare-name set (given names holding characters such as 赟 旻 翀 禛),
whole-card and per-field exact-match accuracy, on the phone photo as taken and on the same photo
recompressed the way Telegram does (largest side 1280 px, JPEG q87); then the public synthetic cards
of ../shared/testdata; then per-side latency of the engine (``read_side``: decode, OCR, parsing,
checks, portrait) next to the raw OCR time of the same photos in the same run (rapidocr's own
pipeline — detection, angle classification, recognition — on the same decoded image with the same
models, threads and detection input size), and their ratio, in wall-clock time and in process CPU
time (which other work on a shared machine inflates far less). Cards are drawn set by set in turn
(card i of every set before card i + 1), so that a run stopped by ``--until`` stays balanced; the
report says how many cards each set got.

Needs CJK fonts (fonts-noto-cjk, fonts-wqy-zenhei, fonts-wqy-microhei, fonts-arphic-ukai/uming).
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import statistics
import sys
import time
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bot.verification.idcard import IdCardReason, SideReading, read_side, warm_up
from bot.verification.idcard import ocr as ocr_mod
from bot.verification.images import decode_image, to_bgr_array
from tools.cardgen import (
    DESIGNS,
    CardFont,
    distort_jpeg,
    find_cjk_fonts,
    random_distortion,
    random_identity,
    render_back,
    render_front,
    telegram_recompress,
    with_rare_name,
)

TODAY = date(2026, 11, 1)
NAME_UNCERTAIN = str(IdCardReason.NAME_UNCERTAIN)
FRONT = ("name", "sex", "ethnicity", "birth_date", "address", "id_number")
BACK = ("authority", "valid_from", "valid_to")
TESTDATA = Path(__file__).resolve().parents[2] / "shared" / "testdata" / "idcards" / "derived"
# The public cards' printed values (../shared/testdata/SOURCES.md); the airobot card's name, ethnicity
# and address are not Chinese card values, so only its number and dates are compared.
PUBLIC = {
    "synthetic_zhangsan_color": {
        "name": "张三", "sex": "男", "ethnicity": "汉", "birth_date": "1995-07-17",
        "address": "四川省成都市武侯区益州大道中段722号复城国际", "id_number": "513701199507176346",
        "authority": "四川省成都市锦江分局", "valid_from": "2010-01-01", "valid_to": "2020-12-12",
    },
    "synthetic_airobot_bw": {"id_number": "123456789012345678", "valid_to": "2020-01-01"},
}  # fmt: skip


def _values(r: SideReading, side: str) -> dict[str, str | None]:
    if side == "front":
        f = r.front
        if f is None:
            return dict.fromkeys(FRONT)
        return {
            "name": f.name, "sex": f.sex, "ethnicity": f.ethnicity,
            "birth_date": f.birth_date.isoformat() if f.birth_date else None,
            "address": f.address, "id_number": f.id_number,
        }  # fmt: skip
    b = r.back
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


def _mono() -> CardFont | None:
    for path in ("/usr/share/fonts/truetype/dejavu/DejaVuSansMono.ttf",):
        if Path(path).is_file():
            return CardFont(path)
    return None


class Tally:
    def __init__(self, label: str = "") -> None:
        self.label = label
        self.hits = {k: 0 for k in (*FRONT, *BACK)}
        self.whole = 0
        self.n = 0
        self.side_ok = 0
        self.corrected = 0
        # Names flagged for the user to check (NAME_UNCERTAIN), and of those the ones read wrong; a
        # wrong name not flagged is one the user would have to notice unaided.
        self.name_flagged = 0
        self.name_flagged_wrong = 0
        self.name_wrong_unflagged = 0
        self.failures: list[str] = []

    def add(
        self,
        i: int,
        truth: dict[str, str],
        got: dict[str, str | None],
        side_ok: int,
        *,
        flagged: bool = False,
    ) -> None:
        self.n += 1
        name_wrong = got.get("name") != truth["name"]
        self.name_flagged += flagged
        self.name_flagged_wrong += flagged and name_wrong
        self.name_wrong_unflagged += name_wrong and not flagged
        self.side_ok += side_ok
        wrong = [k for k in self.hits if got.get(k) != truth[k]]
        for k in self.hits:
            self.hits[k] += k not in wrong
        self.whole += not wrong
        if wrong:
            self.failures.append(f"{i}: " + "; ".join(f"{k}: {truth[k]!r} → {got.get(k)!r}" for k in wrong))
            if self.label:  # as it happens: a long run's misses can be read (and worked on) before its end
                print(f"miss {self.label} card {self.failures[-1]}", file=sys.stderr, flush=True)


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=200, help="cards per design")
    ap.add_argument("--rare", type=int, default=200, help="cards of the rare-name set")
    ap.add_argument("--seed", type=int, default=2026)
    ap.add_argument("--designs", default="classic,template,serif")
    ap.add_argument("--raw-every", type=int, default=1, help="time the raw OCR on every k-th photo")
    ap.add_argument("--markdown", type=Path, default=None, help="write the tables into this file")
    ap.add_argument("--failures", action="store_true", help="print every misread field")
    ap.add_argument(
        "--until",
        default=None,
        help="UTC time HH:MM after which no new card is started (a shared machine's deadline)",
    )
    ap.add_argument(
        "--pause-while",
        type=Path,
        default=None,
        help="before each card, wait while this file exists (another job's quiet window on a shared machine)",
    )
    ap.add_argument(
        "--stop-file",
        type=Path,
        default=None,
        help="no new card once this file exists (the report is printed as after --until)",
    )
    ap.add_argument(
        "--only",
        default="",
        help="read only these cards, e.g. 'serif/7,rare names/25' (the others are drawn, not read: the "
        "same seed gives the same cards); to re-read a run's misses after a change",
    )
    ap.add_argument(
        "--dump",
        type=Path,
        default=None,
        help="write the photos of every card read into this folder (with --only: a miss to look at)",
    )
    args = ap.parse_args()
    picked = [s.rsplit("/", 1) for s in args.only.split(",") if s.strip()]
    only = {(name.strip(), int(i)) for name, i in picked}

    fonts = find_cjk_fonts()
    if not fonts:
        print("no CJK font installed (apt-get install fonts-noto-cjk)", file=sys.stderr)
        return 2
    warm_up()
    raw_ocr = _raw_ocr()
    raw_ocr(to_bgr_array(decode_image((TESTDATA / "synthetic_zhangsan_color_back.png").read_bytes(), None)))
    load_before = os.getloadavg()[0]
    t_start = time.perf_counter()
    mono = _mono()

    sets = [(d, d, args.n) for d in args.designs.split(",")] + ([("rare names", "classic", args.rare)])
    tallies: dict[tuple[str, str], Tally] = {}
    lat: dict[tuple[str, str], list[float]] = {}
    ocr_t: dict[tuple[str, str], list[float]] = {}
    cpu_t: dict[tuple[str, str], list[float]] = {}
    # Every read's wall and CPU time with its stages, to tell what makes the slow tail.
    reads: list[tuple[float, float, str, dict[str, float]]] = []
    raw_t: dict[str, list[float]] = {"front": [], "back": []}
    eng_paired: dict[str, list[float]] = {"front": [], "back": []}
    # Process CPU seconds (all threads) of the same paired reads: much less sensitive to other work
    # on a shared machine than wall-clock time, so the engine / raw ratio holds under load.
    cpu_paired: dict[str, list[tuple[float, float]]] = {"front": [], "back": []}
    crashes = 0
    gens = {
        name: (DESIGNS[design], random.Random(f"{args.seed}/{name}"), DESIGNS[design].fonts(fonts), n)
        for name, design, n in sets
    }
    until = _deadline(args.until)
    loads: list[float] = []
    paused = 0.0
    # Card i of every set before card i + 1 of any: a run stopped by --until stays balanced.
    for i in range(max(n for _s, _d, n in sets)):
        if until is not None and time.time() >= until:
            print(f"--until reached after {i} cards per set", file=sys.stderr)
            break
        if args.stop_file is not None and args.stop_file.exists():
            print(f"{args.stop_file} found after {i} cards per set", file=sys.stderr)
            break
        paused += _wait_while(args.pause_while)
        loads.append(os.getloadavg()[0])
        for set_name, (design, rng, set_fonts, n) in gens.items():
            if i >= n:
                continue
            design_name = design.name
            while True:
                ident = random_identity(
                    rng,
                    today=TODAY,
                    expired=rng.random() < 0.15,
                    long_term=True if rng.random() < 0.15 else None,
                )
                if set_name == "rare names":
                    ident = with_rare_name(ident, rng)
                font = rng.choice(set_fonts)
                number_font = mono if design_name == "template" and rng.random() < 0.5 else None
                scale = rng.uniform(1.0, 2.0)
                try:
                    front = render_front(
                        ident, font=font, number_font=number_font, scale=scale, rng=rng, design=design
                    )
                except ValueError:  # an address too long for this design's three lines: another card
                    continue
                break
            back = render_back(ident, font=font, scale=scale, rng=rng, design=design)
            photos = {
                "front": distort_jpeg(front, rng, random_distortion(rng)),
                "back": distort_jpeg(back, rng, random_distortion(rng)),
            }
            truth = ident.ground_truth()
            if only and (set_name, i) not in only:
                continue
            if args.dump is not None:
                args.dump.mkdir(parents=True, exist_ok=True)
                for side, jpeg in photos.items():
                    (args.dump / f"{set_name.replace(' ', '_')}-{i}-{side}.jpg").write_bytes(jpeg)
            for variant in ("photo", "telegram"):
                got: dict[str, str | None] = {}
                side_ok = 0
                corrected = False
                flagged = False
                for side, original in photos.items():
                    data = original if variant == "photo" else telegram_recompress(original)
                    t, c = time.perf_counter(), time.process_time()
                    try:
                        reading = read_side(data, today=TODAY)
                    except Exception as exc:  # the benchmark counts crashes instead of stopping
                        crashes += 1
                        print(f"{set_name} {i} {side}: crash {exc!r}", file=sys.stderr)
                        continue
                    elapsed, cpu = time.perf_counter() - t, time.process_time() - c
                    lat.setdefault((variant, side), []).append(elapsed)
                    cpu_t.setdefault((variant, side), []).append(cpu)
                    reads.append((elapsed, cpu, f"{set_name} {i} {variant} {side}", dict(reading.timings)))
                    ocr_t.setdefault((variant, side), []).append(reading.timings.get("ocr", 0.0))
                    side_ok += reading.side == side
                    corrected = corrected or any(c != NAME_UNCERTAIN for c in reading.corrections)
                    flagged = flagged or NAME_UNCERTAIN in reading.corrections
                    got.update(_values(reading, side))
                    if variant == "photo" and i % args.raw_every == 0:
                        # The raw OCR on the very image the engine decoded (decoding excluded).
                        bgr = to_bgr_array(decode_image(data, None, max_side=1800))
                        t, c = time.perf_counter(), time.process_time()
                        raw_ocr(bgr)
                        raw_t[side].append(time.perf_counter() - t)
                        cpu_paired[side].append((cpu, time.process_time() - c))
                        eng_paired[side].append(elapsed)
                label = f"{set_name} / {variant}" if args.failures else ""
                tally = tallies.setdefault((set_name, variant), Tally(label))
                tally.add(i, truth, got, side_ok, flagged=flagged)
                tally.corrected += corrected
        if i % 10 == 9:
            print(
                f"{i + 1} cards per set, load {loads[-1]:.1f}, "
                f"{(time.perf_counter() - t_start) / 60:.1f} min",
                file=sys.stderr,
                flush=True,
            )

    paused += _wait_while(args.pause_while)
    public = _public()
    elapsed_total = time.perf_counter() - t_start - paused
    if paused:
        print(f"paused {paused / 60:.1f} min in quiet windows (not counted in the run time)", file=sys.stderr)
    text = _report(
        args,
        tallies,
        lat,
        ocr_t,
        cpu_t,
        raw_t,
        eng_paired,
        cpu_paired,
        crashes,
        public,
        [load_before, *loads],
        elapsed_total,
    )
    print(text)
    print()
    print(_tail(reads))
    if args.failures:
        for key, tally in tallies.items():
            for line in tally.failures:
                print(f"{key[0]} / {key[1]} card {line}")
    if args.markdown:
        header = "## ID card engine (bench/bench_idcard.py)\n\n"
        args.markdown.write_text(header + text + "\n", encoding="utf-8")
    return 0


def _tail(reads: list[tuple[float, float, str, dict[str, float]]]) -> str:
    """The slowest reads by wall time and by CPU time, with their stages: a read slow in wall time
    only waited for the CPU (other work); one slow in CPU time did more work."""
    if not reads:
        return ""
    out = [
        "| slowest by | read | wall | CPU | OCR stage | portrait | decode |",
        "|---|---|---|---|---|---|---|",
    ]
    for key, label in ((0, "wall"), (1, "CPU")):
        for r in sorted(reads, key=lambda r: -r[key])[:5]:
            t = r[3]
            out.append(
                f"| {label} | {r[2]} | {r[0]:.2f} s | {r[1]:.2f} s | {t.get('ocr', 0):.2f} s "
                f"| {t.get('portrait', 0):.2f} s | {t.get('decode', 0):.2f} s |"
            )
    ratio = sorted(r[1] / max(r[0], 1e-6) for r in reads)
    out.append("")
    out.append(
        f"CPU / wall per read: median {statistics.median(ratio):.2f} (2 OCR threads: up to 2 when unloaded)."
    )
    return "\n".join(out)


def _wait_while(path: Path | None) -> float:
    """Seconds spent waiting while ``path`` exists; no card is read meanwhile, so no timing holds a wait."""
    if path is None or not path.exists():
        return 0.0
    t = time.perf_counter()
    print(f"waiting while {path} exists", file=sys.stderr, flush=True)
    while path.exists():
        time.sleep(10)
    return time.perf_counter() - t


def _deadline(hhmm: str | None) -> float | None:
    """The epoch time of the next ``HH:MM`` UTC."""
    if not hhmm:
        return None
    hour, minute = (int(v) for v in hhmm.split(":"))
    now = datetime.now(UTC)
    at = now.replace(hour=hour, minute=minute, second=0, microsecond=0)
    if at <= now:
        at += timedelta(days=1)
    return at.timestamp()


def _raw_ocr() -> Callable[[Any], Any]:
    """rapidocr's own pipeline with the same verified models and thread count as the engine."""
    from rapidocr import RapidOCR

    from bot.verification.idcard.models import model_paths

    paths = model_paths()
    threads = ocr_mod.ocr_threads()
    engine = RapidOCR(
        params={
            "Global.log_level": "error",
            "Det.model_path": str(paths["det"]),
            "Cls.model_path": str(paths["cls"]),
            "Rec.model_path": str(paths["rec"]),
            "EngineConfig.onnxruntime.intra_op_num_threads": threads,
            "EngineConfig.onnxruntime.inter_op_num_threads": 1,
            # The same detection input as the engine: the ratio is then the engine's own overhead
            # (re-cropping, re-reading, parsing, portrait), not a difference of settings.
            "Det.limit_type": "max",
            "Det.limit_side_len": ocr_mod.DET_MAX_SIDE,
        }
    )
    return engine  # type: ignore[no-any-return]


def _public() -> list[str]:
    rows = []
    for stem, truth in PUBLIC.items():
        got: dict[str, str | None] = {}
        for side in ("front", "back"):
            path = TESTDATA / f"{stem}_{side}.png"
            if not path.is_file():
                return [f"(public cards not found under {TESTDATA})"]
            got.update(_values(read_side(path.read_bytes(), today=TODAY), side))
        right = [k for k in truth if got.get(k) == truth[k]]
        wrong = [f"{k}: {got.get(k)!r}" for k in truth if got.get(k) != truth[k]]
        rows.append(f"| {stem} | {len(right)}/{len(truth)} | {'; '.join(wrong) or '-'} |")
    return ["| public card | fields right | misread |", "|---|---|---|", *rows]


def _cpu_row(side: str, pairs: list[tuple[float, float]]) -> str:
    engine = statistics.median(e for e, _ in pairs)
    raw = statistics.median(r for _, r in pairs)
    return f"| {side} | {engine:.2f} s | {raw:.2f} s | {engine / raw:.2f} | {len(pairs)} |"


def _report(
    args: argparse.Namespace,
    tallies: dict[tuple[str, str], Tally],
    lat: dict[tuple[str, str], list[float]],
    ocr_t: dict[tuple[str, str], list[float]],
    cpu_t: dict[tuple[str, str], list[float]],
    raw_t: dict[str, list[float]],
    eng_paired: dict[str, list[float]],
    cpu_paired: dict[str, list[tuple[float, float]]],
    crashes: int,
    public: list[str],
    loads: list[float],
    elapsed_total: float,
) -> str:
    keys = list(tallies)
    head = "| field | " + " | ".join(f"{s} ({v})" for s, v in keys) + " |"
    lines = [
        f"Seed {args.seed}; cards read per set: "
        + ", ".join(f"{s} {t.n}" for (s, v), t in tallies.items() if v == "photo")
        + f" (asked: {args.n} per design, {args.rare} rare names); "
        "each card's two photos read as taken (`photo`) and recompressed like Telegram "
        "(`telegram`: largest side 1280 px, JPEG q87); "
        f"crashes: {crashes}.",
        "",
        head,
        "|---|" + "---|" * len(keys),
        *(
            f"| {k} | " + " | ".join(f"{t.hits[k] / max(t.n, 1):.1%}" for t in tallies.values()) + " |"
            for k in (*FRONT, *BACK)
        ),
        "| **whole card** | "
        + " | ".join(f"**{t.whole / max(t.n, 1):.1%}**" for t in tallies.values())
        + " |",
        "| side detected | " + " | ".join(f"{t.side_ok}/{2 * t.n}" for t in tallies.values()) + " |",
        "| cards with a value corrected (number, authority forms) | "
        + " | ".join(str(t.corrected) for t in tallies.values())
        + " |",
        "| names flagged to check (of them wrong) | "
        + " | ".join(f"{t.name_flagged} ({t.name_flagged_wrong})" for t in tallies.values())
        + " |",
        "| names wrong and not flagged | "
        + " | ".join(str(t.name_wrong_unflagged) for t in tallies.values())
        + " |",
        "",
        *public,
        "",
        "| photos | side | median latency | p95 latency | max | median CPU | p95 CPU | median OCR stage |",
        "|---|---|---|---|---|---|---|---|",
        *(
            f"| {v} | {s} | {statistics.median(x):.2f} s | {pct(x, 0.95):.2f} s | {max(x):.2f} s "
            f"| {statistics.median(cpu_t[(v, s)]):.2f} s | {pct(cpu_t[(v, s)], 0.95):.2f} s "
            f"| {statistics.median(ocr_t[(v, s)]):.2f} s |"
            for (v, s), x in lat.items()
            if x
        ),
        "",
        "| side | engine median (same photos) | raw OCR median | raw OCR p95 | engine / raw OCR (medians) |",
        "|---|---|---|---|---|",
        *(
            f"| {s} | {statistics.median(eng_paired[s]):.2f} s | {statistics.median(raw_t[s]):.2f} s "
            f"| {pct(raw_t[s], 0.95):.2f} s "
            f"| {statistics.median(eng_paired[s]) / statistics.median(raw_t[s]):.2f} |"
            for s in ("front", "back")
            if raw_t[s]
        ),
        "",
        "| side | engine CPU median | raw OCR CPU median | engine / raw OCR (CPU, medians) | photos paired |",
        "|---|---|---|---|---|",
        *(_cpu_row(s, cpu_paired[s]) for s in ("front", "back") if cpu_paired[s]),
        "",
        f"Machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
        f"OCR threads {ocr_mod.ocr_threads()}, detection input {ocr_mod.DET_MAX_SIDE} px; models warm, one "
        f"process. Load average (1 min) at start {loads[0]:.1f}, at end {os.getloadavg()[0]:.1f}, "
        f"median over the run {statistics.median(loads):.1f}, max {max(loads):.1f}; "
        f"run time {elapsed_total / 60:.0f} min. Latency is wall-clock time and grows with other work on "
        "the machine.",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    raise SystemExit(main())
