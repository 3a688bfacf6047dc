"""Read ID card photos from the command line.

    python -m bot.verification.idcard FRONT [BACK] [--json] [--today YYYY-MM-DD] [--portrait OUT.jpg]

Exit status: 0 when every given image was read (even with problems), 1 when an image could not be
read at all (not an image, no card found), 2 for a usage error.
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import date, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from bot.verification.idcard import (
    BackFields,
    FrontFields,
    SideReading,
    read_side,
    side_problems,
    validate_card,
)


def _front_json(f: FrontFields | None) -> dict[str, Any] | None:
    if f is None:
        return None
    return {
        "name": f.name,
        "sex": f.sex,
        "ethnicity": f.ethnicity,
        "birth_date": f.birth_date.isoformat() if f.birth_date else None,
        "address": f.address,
        "id_number": f.id_number,
    }


def _back_json(b: BackFields | None) -> dict[str, Any] | None:
    if b is None:
        return None
    valid_to = "长期" if b.long_term else (b.valid_to.isoformat() if b.valid_to else None)
    return {
        "authority": b.authority,
        "valid_from": b.valid_from.isoformat() if b.valid_from else None,
        "valid_to": valid_to,
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bot.verification.idcard", description=__doc__.split("\n")[0])
    ap.add_argument("front", type=Path, help="photo of the portrait side")
    ap.add_argument("back", type=Path, nargs="?", help="photo of the national-emblem side")
    ap.add_argument("--json", action="store_true", help="print JSON")
    ap.add_argument("--today", type=date.fromisoformat, default=None, help="date for the expiry check")
    ap.add_argument("--portrait", type=Path, default=None, help="write the portrait crop (JPEG) here")
    args = ap.parse_args(argv)
    # The expiry check is judged on the bureau's calendar day, not the machine's local one.
    today: date = args.today or datetime.now(ZoneInfo("Asia/Shanghai")).date()

    readings: list[SideReading] = []
    for path in [args.front, args.back] if args.back else [args.front]:
        try:
            data = path.read_bytes()
        except OSError as exc:
            print(f"cannot read {path}: {exc.strerror}", file=sys.stderr)
            return 2
        readings.append(read_side(data, today=today))

    problems: list[str] = []
    front_r = readings[0]
    back_r = readings[1] if len(readings) > 1 else None
    # An unreadable photo already says why in its own problems.
    if front_r.side is not None:
        problems += side_problems("front", front_r.side)
    if back_r is not None and back_r.side is not None:
        problems += side_problems("back", back_r.side, already=front_r.side)
    # Whatever the order the photos came in, use each side where it was found.
    front = next((r.front for r in readings if r.front is not None), None)
    back = next((r.back for r in readings if r.back is not None), None)
    for r in readings:
        problems += r.problems
    if front is not None:
        card_problems = validate_card(front, back, today=today)
        if back_r is None:  # only the front was given: not asking for the back is no problem here
            card_problems = [p for p in card_problems if p != "idcard_missing_back"]
        problems += card_problems
    problems = list(dict.fromkeys(problems))

    portrait = next((r.portrait_jpeg for r in readings if r.portrait_jpeg), None)
    if args.portrait and portrait:
        args.portrait.write_bytes(portrait)

    corrections = list(dict.fromkeys(c for r in readings for c in r.corrections))
    out = {
        "front": _front_json(front),
        "back": _back_json(back),
        "problems": problems,
        "corrections": corrections,
    }
    if args.json:
        print(json.dumps(out, ensure_ascii=False, indent=2))
    else:
        for side in ("front", "back"):
            fields = out[side]
            if isinstance(fields, dict):
                print(f"[{side}]")
                for key, value in fields.items():
                    print(f"  {key}: {value if value is not None else '-'}")
        print("problems: " + (", ".join(problems) if problems else "none"))
        if corrections:
            print("corrected from the ID number: " + ", ".join(corrections))
    unreadable = any(r.side is None for r in readings)
    return 1 if unreadable else 0


if __name__ == "__main__":
    raise SystemExit(main())
