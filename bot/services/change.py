"""Use case: save 实名信息变更 (guide §3): the new phone (verified by code) and residence of the
person proven by card and face, and the re-link of their account, in one transaction (the per-field
audit rows are the repositories'). A face near the threshold goes to a reviewer instead
(:mod:`bot.services.review_cases`), whose approval saves the same (:func:`apply_change`)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from bot.services.records import apply_change
from bot.storage.repositories import Repositories

__all__ = ["save_change"]


async def save_change(repo: Repositories, user_id: int, person_id: int, data: Mapping[str, Any]) -> list[str]:
    """变更 by the account ``user_id``: the dialog's pending edits, the re-link of that account and the
    agreement it signed (``data``: the dialog's data). Returns what changed."""
    async with repo.db.transaction():
        return await apply_change(repo, person_id, data, actor_user_id=user_id, user_id=user_id)
