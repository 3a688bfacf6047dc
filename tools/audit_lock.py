"""`make audit`: pip-audit against requirements.lock, and an honest verdict.

pip-audit reports a package whose vulnerability record it could not fetch as *skipped* and still ends
with "No known vulnerabilities found" (without --strict), or stops at the first skip (with it). Where the
vulnerability service cannot be reached (no network, a PyPI mirror without the JSON API, OSV blocked)
every package is skipped, and neither output says plainly that nothing was audited. This script runs
pip-audit with JSON output and says what was and was not checked.

Exit status: 0 every locked package audited, none vulnerable; 1 known vulnerabilities; 3 not (fully)
audited: the vulnerability service did not answer for some packages; 2 pip-audit itself failed.

    python tools/audit_lock.py [--service pypi|osv] [--lock requirements.lock] [--pip-audit CMD]
"""

from __future__ import annotations

import argparse
import json
import shlex
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

NOT_AUDITED = 3


def verdict(report: dict[str, Any], service: str) -> tuple[int, list[str]]:
    """(exit status, lines to print) for pip-audit's JSON report."""
    deps = report.get("dependencies", [])
    skipped = [d for d in deps if d.get("skip_reason")]
    vulnerable = [d for d in deps if d.get("vulns")]
    lines: list[str] = []
    for dep in vulnerable:
        for vuln in dep["vulns"]:
            fixed = ", ".join(vuln.get("fix_versions") or []) or "no fixed version"
            name = f"{dep['name']} {dep.get('version')}"
            lines.append(f"VULNERABLE {name}: {vuln.get('id')} (fixed in {fixed})")
    if skipped:
        lines.append(
            f"NOT AUDITED: {len(skipped)} of {len(deps)} locked packages could not be checked against the "
            f"{service} vulnerability service (unreachable, or it did not know the version); "
            "this is not a clean result."
        )
        lines.extend(f"  {d['name']}: {d['skip_reason']}" for d in skipped[:10])
        if len(skipped) > 10:
            lines.append(f"  ... and {len(skipped) - 10} more")
    if vulnerable:
        return 1, lines
    if skipped or not deps:
        if not deps:
            lines.append("NOT AUDITED: pip-audit reported no packages at all.")
        return NOT_AUDITED, lines
    lines.append(f"audited {len(deps)} locked packages against {service}: no known vulnerabilities")
    return 0, lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--lock", default="requirements.lock")
    parser.add_argument("--service", choices=("pypi", "osv"), default="pypi")
    parser.add_argument("--pip-audit", default=f"{shlex.quote(sys.executable)} -m pip_audit")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "audit.json"
        command = [
            *shlex.split(args.pip_audit),
            "--require-hashes",
            "--disable-pip",
            "--progress-spinner=off",
            "-s",
            args.service,
            "-r",
            args.lock,
            "-f",
            "json",
            "-o",
            str(out),
        ]
        proc = subprocess.run(command, capture_output=True, text=True, check=False)
        try:
            report = json.loads(out.read_text())
        except (OSError, ValueError):
            # pip-audit stopped before writing its report (e.g. OSV's host does not resolve).
            last = (proc.stderr.strip().splitlines() or ["(no output)"])[-1]
            print(f"NOT AUDITED: pip-audit failed against {args.service} (exit {proc.returncode}): {last}")
            return NOT_AUDITED if "Connection" in proc.stderr or "resolve" in proc.stderr else 2
    status, lines = verdict(report, args.service)
    print("\n".join(lines))
    return status


if __name__ == "__main__":
    sys.exit(main())
