"""requirements.lock pins every dependency with hashes, the runtime lock is the same versions, and the
build paths (Makefile, Dockerfile) install from them; tools/audit_lock.py never calls a skip clean."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

from tools.audit_lock import NOT_AUDITED, verdict

ROOT = Path(__file__).resolve().parents[2]
_ENTRY = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==(\S+)((?:\s*\\\n\s+--hash=sha256:[0-9a-f]{64})+)", re.M)


def _norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _locked(path: Path) -> dict[str, str]:
    text = path.read_text()
    entries = {_norm(m[1]): m[2] for m in _ENTRY.finditer(text)}
    # Every requirement line has hashes (pip --require-hashes refuses the file otherwise).
    pins = re.findall(r"^[A-Za-z0-9][^\s#]*==", text, re.M)
    assert len(pins) == len(entries)
    return entries


def _requirement_names(requirements: list[str]) -> set[str]:
    return {_norm(re.split(r"[<>=!~\[; ]", r, maxsplit=1)[0]) for r in requirements}


def test_the_lock_pins_every_dependency_with_hashes() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    full = _locked(ROOT / "requirements.lock")
    runtime = _locked(ROOT / "requirements-runtime.lock")
    direct = _requirement_names(project["dependencies"])
    dev = _requirement_names(project["optional-dependencies"]["dev"])
    assert direct | dev <= set(full)
    assert direct <= set(runtime)
    assert not {"pytest", "mypy", "ruff", "playwright", "hypothesis"} & set(runtime)  # no test tools
    assert all(full[name] == version for name, version in runtime.items())
    assert full["rapidocr"] == "3.10.0"  # the models' hashes are checked against this release
    assert "opencv-python-headless" in full
    # rapidocr 3 depends on the headless build; the GUI one (which 1.x pinned) would shadow it.
    assert "opencv-python" not in full


def test_the_builds_install_from_the_locks() -> None:
    makefile = (ROOT / "Makefile").read_text()
    assert "--require-hashes -r requirements.lock" in makefile
    assert "--no-deps -e ." in makefile
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert "--require-hashes -r requirements-runtime.lock" in dockerfile
    assert "--no-deps ." in dockerfile
    # `pip install .` gives the whole ID engine: no OCR package is installed by a step of its own.
    assert "rapidocr" not in makefile.lower() and "rapidocr" not in dockerfile.lower()


def test_an_audit_that_could_not_reach_the_service_is_not_clean() -> None:
    skipped = {
        "dependencies": [
            {"name": "aiogram", "version": "3.31.0", "vulns": []},
            {"name": "jinja2", "skip_reason": "Dependency not found on PyPI and could not be audited"},
        ]
    }
    status, lines = verdict(skipped, "pypi")
    assert status == NOT_AUDITED and lines[0].startswith("NOT AUDITED: 1 of 2")
    assert verdict({"dependencies": []}, "pypi")[0] == NOT_AUDITED
    vuln = {"id": "PYSEC-1", "fix_versions": ["2"]}
    vulnerable = {"dependencies": [{"name": "x", "version": "1", "vulns": [vuln]}]}
    assert verdict(vulnerable, "pypi") == (1, ["VULNERABLE x 1: PYSEC-1 (fixed in 2)"])
    clean = {"dependencies": [{"name": "x", "version": "1", "vulns": []}]}
    assert verdict(clean, "pypi")[0] == 0
