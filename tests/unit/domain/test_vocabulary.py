"""One vocabulary (issue 19): the types dialogs and staff handlers name — outcomes, errors, staff roles,
identity records — live in bot/domain; of storage they name only the per-update repositories holder."""

from __future__ import annotations

import ast
import enum

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
