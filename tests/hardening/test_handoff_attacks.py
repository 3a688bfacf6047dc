"""Attacks on 扫一扫 (issue 20), each closed by the handoff's rules (bot/services/handoff.py).

- Two accounts racing for one QR code (a shoulder-surfer scanning the victim's screen): one wins.
- Guessing tokens: every guess is refused and audited, nothing about any handoff is said.
- A relayed QR code (phishing page): the victim's bot shows the attacker's short code, not the page's.
- Redirecting the result (SSRF or leak through the callback): only the portal's own prefix is accepted.
- Replaying a finished handoff's buttons or token: nothing moves.
"""

from __future__ import annotations

import asyncio

import pytest

from bot.dialogs.base import Act
from bot.domain.handoff import HandoffPurpose, HandoffState
from bot.services import Services
from bot.services.handoff import HandoffRefused, HandoffRequestError, HandoffService
from tests.hardening.harness import HostileClient


def handoffs(services: Services) -> HandoffService:
    assert services.handoffs is not None
    return services.handoffs


async def test_two_accounts_racing_for_one_token_one_wins(services: Services) -> None:
    created = await handoffs(services).create("etax-demo", HandoffPurpose.COLLECTION)
    results = await asyncio.gather(*(handoffs(services).open(created.token, uid) for uid in range(10, 20)))
    winners = [r for r in results if r.refused is None]
    assert len(winners) == 1
    assert all(r.refused is HandoffRefused.OTHER_ACCOUNT for r in results if r.refused is not None)


async def test_guessed_tokens_are_refused_and_audited(client: HostileClient, services: Services) -> None:
    created = await handoffs(services).create("etax-demo", HandoffPurpose.COLLECTION)
    near = created.token[:-1] + ("A" if created.token[-1] != "A" else "B")
    for guess in (near, created.handoff.id, "A" * 32, "../../etc/passwd", "'; DROP TABLE handoffs;--"):
        replies = await client.send(f"/start {guess}")
        joined = "\n".join(r.text for r in replies)
        assert "该二维码无效" in joined
        assert created.handoff.short_code not in joined and "电子税务局（沙盒演示）" not in joined
    assert (await handoffs(services).status("etax-demo", created.handoff.id)).state is HandoffState.WAITING  # type: ignore[union-attr]
    async with services.db.read() as conn:
        refused = (
            await (
                await conn.execute("SELECT count(*) FROM audit_log WHERE action = 'handoff.refused'")
            ).fetchone()
        )[0]
    assert refused == 5


async def test_relayed_qr_code_shows_the_relayers_code(client: HostileClient, services: Services) -> None:
    """A phishing page shows the victim the QR code of the attacker's own session on the real website:
    the bot shows that session's code, which differs from any code the phishing page can show
    unless it copies it; the user is told to compare and refuse."""
    attacker = await handoffs(services).create("etax-demo", HandoffPurpose.COLLECTION)
    victims_page = await handoffs(services).create("etax-demo", HandoffPurpose.COLLECTION)
    replies = await client.send(f"/start {attacker.token}")
    joined = "\n".join(r.text for r in replies)
    assert attacker.handoff.short_code in joined
    if attacker.handoff.short_code != victims_page.handoff.short_code:
        assert victims_page.handoff.short_code not in joined
    assert "不一致时请勿继续" in joined


@pytest.mark.parametrize(
    "url",
    [
        "http://169.254.169.254/latest/meta-data",
        "http://127.0.0.1.evil.example/",
        "file:///etc/passwd",
        "https://evil.example/collect",
    ],
)
async def test_callback_outside_the_portals_prefix_is_refused(services: Services, url: str) -> None:
    with pytest.raises(HandoffRequestError):
        await handoffs(services).create("etax-demo", HandoffPurpose.COLLECTION, callback_url=url)


async def test_finished_handoff_cannot_be_replayed(client: HostileClient, services: Services) -> None:
    created = await handoffs(services).create("etax-demo", HandoffPurpose.COLLECTION)
    await client.send(f"/start {created.token}")
    await client.press(Act(a="handoff", v="no").pack())
    for _ in range(2):
        await client.press(Act(a="handoff", v="go").pack())
        await client.send(f"/start {created.token}")
    found = await handoffs(services).status("etax-demo", created.handoff.id)
    assert found is not None and found.state is HandoffState.FAILED and found.failure == "declined"
