"""/mydata: what the bot stores about the taxpayer (masked), and their request to delete it (PIPL
arts. 44–47). The request is carried out, or refused with a reason, by an admin (/deletions)."""

from __future__ import annotations

from aiogram import F, Router
from aiogram.filters import Command
from aiogram.filters.callback_data import CallbackData
from aiogram.types import CallbackQuery, Message

from bot.domain.masking import mask_address, mask_id_number, mask_name
from bot.domain.models import Person
from bot.i18n import Translator
from bot.services.views import my_data
from bot.storage.repositories import Repositories
from bot.ui import Nav, Node, button, home_keyboard, rows


class MyData(CallbackData, prefix="my"):
    a: str


def _person_lines(t: Translator, person: Person) -> list[str]:
    doc = person.document
    validity = t("card.long_term") if doc.long_term else (doc.valid_to.isoformat() if doc.valid_to else "—")
    lines = [
        t("staff.field.doc_type", value=t("doc_type." + doc.doc_type.value)),
        t("staff.field.number", value=mask_id_number(doc.number)),
        t("staff.field.name", value=mask_name(doc.name)),
        t("staff.field.valid_to", value=validity),
    ]
    if person.phone is not None:
        lines.append(t("staff.field.phone", value=person.phone.masked()))
    if person.residence:
        lines.append(t("staff.field.residence", value=mask_address(person.residence)))
    lines.append(t("mydata.live_photo") if person.live_photo else t("mydata.no_live_photo"))
    lines.append(t("mydata.consents"))
    lines += [
        t(
            "staff.person.consent_row",
            document=t("staff.consent." + c.document.value),
            version=c.version,
            at=t.moment(c.agreed_at),
        )
        for c in person.consents
    ]
    return lines


def create_router() -> Router:
    router = Router(name="mydata")

    @router.message(Command("mydata"))
    async def mydata(message: Message, t: Translator, repo: Repositories) -> None:
        assert message.from_user is not None
        uid = message.from_user.id
        seen = await my_data(repo, uid)
        person, cases, pending = seen.person, seen.cases, seen.pending
        lines = [t("mydata.title"), ""]
        if person is not None:
            lines += _person_lines(t, person)
        elif cases:
            lines.append(t("mydata.in_review", count=len(cases)))
        else:
            lines.append(t("mydata.nothing"))
        if person is not None and cases:
            lines.append(t("mydata.in_review", count=len(cases)))
        lines += ["", t("mydata.account", user_id=uid), "", t("mydata.rights")]
        if pending:
            lines += ["", t("mydata.request_pending", request_id=pending[0].id)]
            markup = rows([button(t("common.home"), Nav(node=Node.HOME))])
        elif person is not None or cases:
            markup = rows(
                [button(t("mydata.delete"), MyData(a="ask"))], [button(t("common.home"), Nav(node=Node.HOME))]
            )
        else:
            markup = rows([button(t("common.home"), Nav(node=Node.HOME))])
        await message.answer("\n".join(lines), reply_markup=markup)

    @router.callback_query(MyData.filter(F.a == "ask"))
    async def ask(query: CallbackQuery, t: Translator) -> None:
        await query.answer()
        if query.message is not None:
            await query.message.answer(
                t("mydata.confirm"),
                reply_markup=rows(
                    [button(t("mydata.confirm_yes"), MyData(a="yes"))],
                    [button(t("common.cancel"), Nav(node=Node.HOME))],
                ),
            )

    @router.callback_query(MyData.filter(F.a == "yes"))
    async def confirm(query: CallbackQuery, t: Translator, repo: Repositories) -> None:
        await query.answer()
        uid = query.from_user.id
        person = await repo.persons.find_by_telegram(uid)
        cases = await repo.review.open_for_user(uid)
        if person is None and not cases:
            text = t("mydata.nothing")
        else:
            request = await repo.staff.request_deletion(uid, person.id if person else None)
            if request is None:
                pending = await repo.staff.open_deletion_requests(user_id=uid)
                text = t("mydata.request_pending", request_id=pending[0].id if pending else 0)
            else:
                text = t("mydata.requested", request_id=request.id)
        if query.message is not None:
            await query.message.answer(text, reply_markup=home_keyboard(t))

    return router
