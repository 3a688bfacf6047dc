"""The staff reason picker: a decision that refuses (a review case's rejection, a deletion request's
refusal) is taken by choosing one of a fixed list of reason codes, each with its message in both
locales. The reason travels in the button as its index: callback data is limited to 64 bytes."""

from __future__ import annotations

from dataclasses import dataclass

from aiogram.types import CallbackQuery, InlineKeyboardMarkup

from bot.handlers.staff.common import StaffAct, StaffCtx, staff_button
from bot.i18n import Translator
from bot.ui import rows

__all__ = ["ReasonPicker"]


@dataclass(frozen=True)
class ReasonPicker:
    codes: tuple[str, ...]
    action: str  # the action of a reason's button (its record id in ``n``, its index in ``v``)
    prompt_key: str
    back_action: str | None = None  # a 【返回】 button to this action on the same record, if any

    def keyboard(self, t: Translator, n: int) -> InlineKeyboardMarkup:
        choices = [
            [staff_button(t.reason(code), self.action, n, str(i))] for i, code in enumerate(self.codes)
        ]
        back = [[staff_button(t("common.back"), self.back_action, n)]] if self.back_action else []
        return rows(*choices, *back)

    async def show(self, sc: StaffCtx, n: int) -> None:
        """Ask the staff member for the reason of a decision on record ``n``."""
        await sc.say(sc.t(self.prompt_key), self.keyboard(sc.t, n))

    async def picked(self, query: CallbackQuery, sc: StaffCtx, data: StaffAct) -> str | None:
        """The reason code of a pressed reason button; None (the press answered as stale) when the
        index names none of the reasons (an old or forged button)."""
        if not data.v.isdigit() or int(data.v) >= len(self.codes):
            await query.answer(sc.t("common.stale_button"), show_alert=True)
            return None
        return self.codes[int(data.v)]
