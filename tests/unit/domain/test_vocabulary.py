"""One vocabulary (issue 19): the types dialogs and staff handlers name — outcomes, errors, staff roles,
identity records — live in bot/domain; of storage they name only the per-update repositories holder.
And one shape: dialogs and handlers talk and call use cases (bot/services), which own the
transactions; no handler imports a dialog."""

from __future__ import annotations

import ast
import enum
import sys
from pathlib import Path

import pytest

from bot.config import REPO_ROOT
from bot.domain import enterprise, staff

# What a dialog or a handler may import from storage: the per-update holder of repositories.
_ALLOWED_FROM_STORAGE = {("bot.storage.repositories", "Repositories")}


def _imports(rel_dir: str) -> list[tuple[str, str, str]]:
    found = []
    for path in sorted((REPO_ROOT / rel_dir).rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module:
                found += [(path.relative_to(REPO_ROOT).as_posix(), node.module, a.name) for a in node.names]
            elif isinstance(node, ast.Import):
                found += [(path.relative_to(REPO_ROOT).as_posix(), a.name, "") for a in node.names]
    return found


def test_dialogs_and_handlers_name_nothing_of_storage_but_the_holder() -> None:
    offending = [
        f"{where}: {module}.{name}"
        for folder in ("bot/dialogs", "bot/handlers")
        for where, module, name in _imports(folder)
        if module.startswith("bot.storage") and (module, name) not in _ALLOWED_FROM_STORAGE
    ]
    assert offending == []


# What a handler may take from bot/dialogs: leaving whatever dialog is open (/cancel, /start, home).
_ALLOWED_FROM_DIALOGS = {("bot.dialogs.base", "end_dialog")}


def test_no_handler_imports_a_dialog() -> None:
    offending = [
        f"{where}: {module}.{name}"
        for where, module, name in _imports("bot/handlers")
        if (module == "bot.dialogs" or module.startswith("bot.dialogs."))
        and (module, name) not in _ALLOWED_FROM_DIALOGS
    ]
    assert offending == []


def test_services_import_no_dialog_and_no_handler() -> None:
    """The arrows point down: a use case is called the same way by a dialog, a handler or a test."""
    offending = [
        f"{where}: {module}"
        for where, module, _ in _imports("bot/services")
        if module.startswith(("bot.dialogs", "bot.handlers"))
    ]
    assert offending == []


def _transactions(rel_dir: str) -> list[str]:
    """Every ``….transaction(…)`` / ``….db`` use in the modules below ``rel_dir``."""
    found = []
    for path in sorted((REPO_ROOT / rel_dir).rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Attribute) and node.attr in {"transaction", "db"}:
                found.append(f"{path.relative_to(REPO_ROOT).as_posix()}:{node.lineno}: .{node.attr}")
    return found


def test_no_dialog_or_handler_opens_a_transaction() -> None:
    """Use cases own the transactions (and the audit rows written in them)."""
    assert _transactions("bot/dialogs") + _transactions("bot/handlers") == []


def _audit_writes(rel_dir: str) -> list[str]:
    found = []
    for path in sorted((REPO_ROOT / rel_dir).rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if (
                isinstance(node, ast.Attribute)
                and node.attr == "write"
                and isinstance(node.value, ast.Attribute)
                and node.value.attr == "audit"
            ):
                found.append(path.relative_to(REPO_ROOT).as_posix())
    return found


def test_no_dialog_or_handler_writes_an_audit_row() -> None:
    """The audit rows of a change are its use case's; so are the access rows of a look (a staff
    member at a person, a register, the statistics; a taxpayer at their data: bot/services/views.py)."""
    assert _audit_writes("bot/dialogs") == []
    assert _audit_writes("bot/handlers") == []


def test_the_transaction_check_sees_one(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    folder = tmp_path / "bot" / "handlers"
    folder.mkdir(parents=True)
    (folder / "x.py").write_text("async def f(repo):\n    async with repo.db.transaction():\n        pass\n")
    monkeypatch.setattr(sys.modules[__name__], "REPO_ROOT", tmp_path)
    assert len(_transactions("bot/handlers")) == 2


def test_domain_imports_nothing_of_bot_but_domain_and_ids() -> None:
    offending = [
        f"{where}: {module}"
        for where, module, _ in _imports("bot/domain")
        if module.startswith("bot.") and not module.startswith(("bot.domain", "bot.verification.ids"))
    ]
    assert offending == []


def test_one_enum_per_name() -> None:
    """The staff role and an enterprise person's role are two things with two names."""
    assert staff.StaffRole.ADMIN.value == "admin"
    assert enterprise.Role.LEGAL_REP.value == "legal_rep"
    names: dict[str, str] = {}
    for path in sorted((REPO_ROOT / "bot").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ClassDef) and any(
                isinstance(b, ast.Name) and b.id in {"StrEnum", "Enum", "IntEnum"} for b in node.bases
            ):
                rel = path.relative_to(REPO_ROOT).as_posix()
                assert node.name not in names, f"{node.name} in {names.get(node.name)} and {rel}"
                names[node.name] = rel
    assert issubclass(staff.StaffRole, enum.Enum)
