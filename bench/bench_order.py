"""How many of the 66 possible challenges a prepared timing attack passes (issue 16, item 2).

    .venv/bin/python bench/bench_order.py [--before /path/to/old/checkout]

Attacks, built at run time from ../shared/testdata with tools/facegen/splice.py:

* ``joined``: the varun open-mouth, head-shake and nod clips joined into one 13.9 s video;
* ``retimed``: that joined clip with its MP4 clock sped up 8x (13.9 s declared as 1.7 s, no
  re-encode); ``retimed_tran``: the 20.7 s tran phone selfie (H.264) likewise, declared 2.6 s;
  ``retimed_webm``: the shake clip's WebM clock sped up 4x.

Every attack is judged against all 66 challenges (2 or 3 distinct actions, at least one facial and
one head action, every order). ``--before`` runs the same with the engine of another
checkout (e.g. main before this branch) in a subprocess, for the before/after table. The decision
counted is the engine's own (``pass`` or ``review`` = passed), no match against a portrait.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import subprocess
import sys
from pathlib import Path

if "--worker" not in sys.argv:  # the worker imports the engine of the checkout it runs in
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

# Reasons that depend on the challenge; every other reason fails the clip whatever was asked.
ORDER_REASONS = {
    "liveness_no_action",
    "liveness_wrong_action",
    "liveness_wrong_order",
    "liveness_unrequested_action",
    "liveness_action_late",
}

FACIAL = ("blink", "open_mouth")
HEAD = ("turn_left", "turn_right", "nod")
ACTIONS = FACIAL + HEAD


def all_challenges() -> list[tuple[str, ...]]:
    out: list[tuple[str, ...]] = []
    for k in (2, 3):
        for combo in itertools.combinations(ACTIONS, k):
            if any(a in FACIAL for a in combo) and any(a in HEAD for a in combo):
                out.extend(itertools.permutations(combo))
    return out


def build_attacks(testdata: Path, out: Path) -> dict[str, Path]:
    from tools.facegen.splice import join_clips, retime_mp4, retime_webm

    v = testdata / "videos"
    joined = join_clips(
        [
            (v / "live_open_mouth_varun.webm").read_bytes(),
            (v / "live_head_shake_left_right_varun.webm").read_bytes(),
            (v / "live_nod_up_down_varun.webm").read_bytes(),
        ]
    )
    attacks = {
        "joined": joined,
        "retimed": retime_mp4(joined, 8),
        "retimed_tran": retime_mp4((v / "live_selfie_turns_nod_tran.mp4").read_bytes(), 8),
        "retimed_webm": retime_webm((v / "live_head_shake_left_right_varun.webm").read_bytes(), 4),
    }
    paths = {}
    for name, data in attacks.items():
        path = out / f"{name}.bin"
        path.write_bytes(data)
        paths[name] = path
    return paths


def run(paths: dict[str, Path], config_json: str = "{}") -> dict[str, dict[str, object]]:
    """Each attack against every challenge with the engine importable here.

    The engine runs once per attack; only the order check depends on the challenge, so it is asked
    again for each of the 66 (what verify_selfie_video would decide, minus 65 identical analyses).
    """
    import inspect

    from bot.verification.face import FaceConfig, parse_challenge, verify_selfie_video
    from bot.verification.face.liveness import ActionEvent, check_order

    config = FaceConfig(**json.loads(config_json))
    takes_config = len(inspect.signature(check_order).parameters) > 3
    result: dict[str, dict[str, object]] = {}
    for name, path in paths.items():
        v = verify_selfie_video(path.read_bytes(), parse_challenge("blink,nod"), (), config)
        events = [ActionEvent(k, a, b) for k, a, b in v.liveness.events]
        other = sorted({r for r in v.reasons if r not in ORDER_REASONS and r != "liveness_spoof_suspected"})
        passed = 0
        order: dict[str, int] = {}
        for challenge in all_challenges():
            actions = parse_challenge(",".join(challenge))
            args = (
                (events, actions, config.mirror, config) if takes_config else (events, actions, config.mirror)
            )
            ok, _, _, reason = check_order(*args)
            if ok and not other and events:
                passed += 1
            if reason is not None:
                order[str(reason)] = order.get(str(reason), 0) + 1
        result[name] = {
            "passed": passed,
            "of": len(all_challenges()),
            "duration": round(v.duration, 2),
            "other_reasons": other,
            "order_reasons": order,
        }
    return result


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--before", help="a checkout whose engine to measure as well")
    parser.add_argument("--config", default="{}", help="FaceConfig overrides as JSON (this engine)")
    parser.add_argument("--worker", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:  # inside the subprocess of --before
        print(json.dumps(run({Path(p).stem: Path(p) for p in args.worker}, args.config)))
        return 0
    testdata = Path(
        os.environ.get("SHIMING_TESTDATA", Path(__file__).resolve().parents[2] / "shared/testdata")
    )
    if not testdata.is_dir():
        testdata = Path("/work/shared/testdata")
    out = Path(os.environ.get("TMPDIR", "/tmp")) / "bench_order"
    out.mkdir(exist_ok=True)
    paths = build_attacks(testdata, out)
    rows = {"after": run(paths, args.config)}
    if args.before:
        env = dict(os.environ, PYTHONPATH=args.before)
        proc = subprocess.run(
            [sys.executable, __file__, "--worker", *map(str, paths.values())],
            env=env,
            check=True,
            capture_output=True,
            text=True,
            cwd=args.before,
        )
        rows["before"] = json.loads(proc.stdout.strip().splitlines()[-1])
    for when, res in rows.items():
        for name, r in res.items():
            print(
                f"{when:6} {name:13} passes {r['passed']}/{r['of']}  length {r['duration']} s"
                f"  other {r['other_reasons']}  order {r['order_reasons']}"
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
