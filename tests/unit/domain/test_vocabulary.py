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


def test_no_handler_imports_a_dialog() -> None:
    """Not even to leave one: /cancel, /start and home take ``end_dialog`` from bot/conversation.py."""
    offending = [
        f"{where}: {module}.{name}"
        for where, module, name in _imports("bot/handlers")
        if module == "bot.dialogs" or module.startswith("bot.dialogs.")
    ]
    assert offending == []


def test_the_conversation_module_imports_no_dialog_and_no_handler() -> None:
    """bot/conversation.py (the dialog data's models, ``end_dialog``) sits below dialogs and handlers."""
    modules = [module for where, module, _ in _imports("bot") if where == "bot/conversation.py"]
    assert modules and not [m for m in modules if m.startswith(("bot.dialogs", "bot.handlers"))]


# The FSM data as stored is read and written by the typed accessors of ``Ctx`` (base.py) and the call
# stack (calls.py) alone: every other step names a model, never a key.
_RAW_DATA = {"bot/dialogs/base.py", "bot/dialogs/calls.py"}


def _raw_reads(rel_dir: str) -> list[str]:
    found = []
    for path in sorted((REPO_ROOT / rel_dir).rglob("*.py")):
        rel = path.relative_to(REPO_ROOT).as_posix()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and (
                    (
                        node.func.attr in {"get", "put"}
                        and isinstance(node.func.value, ast.Name)
                        and node.func.value.id == "ctx"
                    )
                    or node.func.attr in {"get_data", "set_data", "update_data"}
                )
            ):
                found.append(f"{rel}:{node.lineno}: .{node.func.attr}")
    return [f for f in found if f.split(":")[0] not in _RAW_DATA]


def test_no_dialog_reads_or_writes_a_key_of_the_fsm_data() -> None:
    assert _raw_reads("bot/dialogs") + _raw_reads("bot/handlers") == []


def _planted(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, rel_dir: str, source: str) -> str:
    """A tree with one module ``source`` in ``rel_dir``, the checks of this file pointed at it."""
    folder = tmp_path / rel_dir
    folder.mkdir(parents=True)
    (folder / "x.py").write_text(source)
    monkeypatch.setattr(sys.modules[__name__], "REPO_ROOT", tmp_path)
    return rel_dir


def test_the_raw_data_check_sees_one(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    source = "async def f(ctx):\n    return (await ctx.get()).get('tries')\n"
    assert len(_raw_reads(_planted(tmp_path, monkeypatch, "bot/dialogs", source))) == 1


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
    source = "async def f(repo):\n    async with repo.db.transaction():\n        pass\n"
    _planted(tmp_path, monkeypatch, "bot/handlers", source)
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
