"""The staff console over HTTP: the real bot polling the local sandbox, users driven by its control API.

The engines are scripted (no review case needs a real face here); tests/dialogs/test_staff*.py cover
every branch through the dispatcher, this checks the same promises end to end.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from bot.config import Settings
from tests.e2e.conftest import RunningBot
from tests.helpers.factory import make_settings
from tests.helpers.register import REGISTER
from tests.helpers.sandbox_user import SandboxUser, texts

pytestmark = [pytest.mark.e2e]

ADMIN = 900001
REVIEWER = 900002
STRANGER = 900003

STAFF_COMMANDS = (
    "/staff",
    "/review",
    "/person 110101199003071233",
    "/enterprise 91210102MA0QWE7R1T",
    f"/grant {STRANGER} admin",
    f"/revoke {REVIEWER}",
    "/stats",
    "/audit 7d",
    "/deletions",
    "/register",
)


@pytest.fixture
def e2e_settings(tmp_path: Path) -> Settings:
    return make_settings(tmp_path, admin_ids=[ADMIN])


async def test_non_staff_get_nothing_and_reviewers_cannot_grant(
    running_bot: RunningBot, make_user: Callable[..., SandboxUser]
) -> None:
    stranger, admin = make_user(STRANGER), make_user(ADMIN)
    baseline = texts(await stranger.send("/no_such_command"))
    for command in STAFF_COMMANDS:
        assert texts(await stranger.send(command)) == baseline, command

    granted = texts(await admin.send(f"/grant {REVIEWER} reviewer"))
    assert str(REVIEWER) in granted
    reviewer = make_user(REVIEWER)
    assert "/review" in texts(await reviewer.send("/staff"))
    assert "仅限管理员" in texts(await reviewer.send(f"/grant {STRANGER} admin"))
    assert texts(await stranger.send("/staff")) == baseline  # still nobody


async def test_admin_loads_a_register_and_gets_stats_and_audit(
    running_bot: RunningBot, make_user: Callable[..., SandboxUser]
) -> None:
    admin = make_user(ADMIN)
    report = await admin.upload("document", REGISTER.read_bytes(), "enterprises.csv")
    assert "可导入 8 行，有问题 0 行" in texts(report)
    applied = await admin.press_label(report, "确认导入")
    assert "已导入 8 行" in texts(applied)
    found = texts(await admin.send("/enterprise 91210102MA0QWE7R1T"))
    assert "辽宁星河商贸有限公司" in found and "110101199003071233" not in found

    stats = await admin.send("/stats today")
    assert "统计" in texts(stats)
    assert any(r.get("photo") for r in stats), stats
    audit = await admin.send("/audit today")
    assert any(r.get("document") for r in audit), audit
