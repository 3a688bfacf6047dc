"""One injection style (issue 19): a dialog step takes one ``ctx``; a staff handler takes the event,
its callback data when it has one, and one ``sc`` (:class:`bot.handlers.staff.common.StaffCtx`) —
never the bot, translator, services, repositories or settings one by one."""

from __future__ import annotations

import ast

from bot.config import REPO_ROOT

_ONE_BY_ONE = {"bot", "t", "services", "repo", "settings", "staff_role", "state"}


def _handlers(rel_dir: str) -> list[tuple[str, ast.AsyncFunctionDef]]:
    """Every function registered on a router (``@router.message(...)``, ``@router.callback_query``)."""
    found = []
    for path in sorted((REPO_ROOT / rel_dir).rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.AsyncFunctionDef) and any(
                isinstance(d, ast.Call)
                and isinstance(d.func, ast.Attribute)
                and isinstance(d.func.value, ast.Name)
                and d.func.value.id == "router"
                for d in node.decorator_list
            ):
                found.append((f"{path.relative_to(REPO_ROOT).as_posix()}:{node.lineno}", node))
    return found


def _params(node: ast.AsyncFunctionDef) -> list[str]:
    return [a.arg for a in node.args.args + node.args.kwonlyargs]


def _not_in_style(rel_dir: str, context: str) -> list[str]:
    handlers = _handlers(rel_dir)
    assert len(handlers) > 20
    return [
        f"{where} {node.name}{tuple(_params(node))}"
        for where, node in handlers
        if context not in _params(node) or _ONE_BY_ONE & set(_params(node))
    ]


def test_staff_handlers_take_one_staff_context() -> None:
    assert _not_in_style("bot/handlers/staff", "sc") == []


def test_dialog_steps_take_one_ctx() -> None:
    assert _not_in_style("bot/dialogs", "ctx") == []
