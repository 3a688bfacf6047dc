"""Command line: ``python -m bot.verification.face --portrait IMG --video VID --challenge blink --json``.

``--photo IMG`` instead of ``--video`` compares two still images. Without ``--portrait`` only the
liveness is checked. Exit status: 0 pass, 1 fail, 3 review (2 is argparse's usage error).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from . import FaceConfig, compare_images, encode_face_image, parse_challenge, verify_selfie_video

_EXIT = {"pass": 0, "fail": 1, "review": 3}


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m bot.verification.face", description=__doc__.split("\n\n")[0])
    p.add_argument(
        "--portrait", type=Path, help="image with one face (a cropped ID portrait or a card front)"
    )
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--video", type=Path, help="selfie video (MP4/H.264, WebM, MOV, GIF)")
    src.add_argument("--photo", type=Path, help="a second still image, compared with --portrait")
    p.add_argument(
        "--challenge", default="blink", help="actions in order, e.g. blink,turn_left (default blink)"
    )
    p.add_argument("--mirror", choices=("raw", "mirrored", "either"), default="either")
    p.add_argument("--threshold", type=float, default=FaceConfig.match_threshold)
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument("--verbose", action="store_true", help="with --json: add events, cues and timings")
    return p


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    config = FaceConfig(match_threshold=args.threshold, mirror=args.mirror)
    out: dict[str, Any]
    if args.photo is not None:
        if args.portrait is None:
            _parser().error("--photo needs --portrait")
        m = compare_images(args.portrait.read_bytes(), args.photo.read_bytes(), config)
        out = {
            "decision": m.decision,
            "match_distance": None if m.distance is None else round(m.distance, 4),
            "liveness": None,
            "reasons": m.reasons,
        }
    else:
        try:
            challenge = parse_challenge(args.challenge)
        except ValueError as exc:
            _parser().error(f"--challenge: {exc}")
        refs: list[tuple[float, ...]] = []
        reasons: list[str] = []
        if args.portrait is not None:
            ref = encode_face_image(args.portrait.read_bytes(), config)
            if ref.encoding is None:
                reasons = [*ref.reasons]
            else:
                refs.append(ref.encoding)
        v = verify_selfie_video(args.video.read_bytes(), challenge, refs, config)
        decision = v.decision if not reasons else "fail"
        out = {
            "decision": decision,
            "match_distance": None if v.match_distance is None else round(v.match_distance, 4),
            "liveness": {"passed": v.liveness.passed, "actions": v.liveness.actions},
            "reasons": reasons + v.reasons,
        }
        if args.verbose:
            out["liveness"].update(
                events=v.liveness.events,
                mirrored=v.liveness.mirrored,
                spoof_score=round(v.liveness.spoof_score, 3),
                spoof_cues={k: round(x, 4) for k, x in v.liveness.spoof_cues},
                flatness=round(v.liveness.flatness, 4),
                motion=round(v.liveness.motion, 2),
            )
            out["timings"] = {k: round(x, 3) for k, x in v.timings.items()}
            out["content_hash"] = v.content_hash
    if args.json:
        print(json.dumps(out, ensure_ascii=False))
    else:
        print(f"decision: {out['decision']}")
        print(f"match distance: {out['match_distance']}")
        if out["liveness"] is not None:
            print(
                f"liveness: {'passed' if out['liveness']['passed'] else 'failed'}; actions seen in order: "
                f"{', '.join(out['liveness']['actions']) or '-'}"
            )
        print(f"reasons: {', '.join(out['reasons']) or '-'}")
    return _EXIT[str(out["decision"])]


if __name__ == "__main__":
    sys.exit(main())
