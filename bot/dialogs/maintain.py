"""实名信息维护 (guide §4): a legal rep, finance officer or tax handler bound to an enterprise (and still
listed in its register) maintains the phone and residence of the enterprise's people.

Entry needs a face step-up (a "face login" against the stored live face) no older than
``face_stepup_minutes``; its time is stored in the database. Then: the enterprise (when several) →
its people, masked → one → 【维护】 → phone (new phone verified by code) and residence → 【下一步】 →
"实名信息修改保存成功".

A legal rep or finance officer (not a tax handler) also authorises the enterprise's tax handlers there
(办税人员管理): a person the register lists as 办税人 and who completed collection gets 【授权办税】 →
confirmation → a tax-handler binding made by the maintainer; one bound already gets 【取消授权】 →
confirmation → the binding ends exactly as the handler's own 解绑 (guide §6) ends it. Rule:
``bot.domain.policies.may_authorise_tax_handler``, asked at the button, at the confirmation and again
by the use case (:mod:`bot.services.tax_handlers`) in the transaction that writes.

Every step asks ``bot.domain.policies.may_maintain`` again with fresh data, so a binding removed, a
register reloaded, an expired step-up or a forged button (another enterprise's person id) is refused
wherever it happens.
"""

from __future__ import annotations

import logging
from typing import ClassVar

from aiogram import F, Router
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import CallbackQuery, InlineKeyboardButton

from bot.conversation import Common
from bot.dialogs import face, phone
from bot.dialogs.account import (
    Edits,
    EditsData,
    actor_for,
    ask_to_collect,
    logged_in,
    refuse,
    register_edit_steps,
    role_name,
    show_edits,
)
from bot.dialogs.base import (
    Act,
    Ctx,
    act,
    back_row,
    back_to_tip,
    buttons_only,
    complete,
    end_dialog,
    home_button,
    keyboard,
    on_press,
    register_entry,
)
from bot.dialogs.calls import FaceCheck, FaceResult, PhoneFor, PhoneResult
from bot.domain.enterprise import Enterprise, EnterprisePerson
from bot.domain.masking import mask_address, mask_id_number, mask_name, mask_phone
from bot.domain.models import Person
from bot.domain.outcomes import EventOutcome
from bot.domain.policies import (
    Actor,
    Decision,
    Denial,
    authoriser_roles,
    maintainable_enterprises,
    may_maintain,
    stepup_valid,
)
from bot.i18n import language_for
from bot.services import tax_handlers
from bot.services.maintenance import pass_stepup, save_maintenance
from bot.services.records import as_consents
from bot.ui import Function, Node, Tip, button

MAX_PEOPLE = 40  # fits one message (4096 characters) and one keyboard

log = logging.getLogger(__name__)


class MaintainSG(StatesGroup):
    enterprise = State()
    people = State()
    person = State()  # details + 【维护】
    edit = State()
    residence = State()
    handler = State()  # 确定授权办税 / 确定取消授权?


# Refusals about the chosen person's state, not the maintainer's rights: said over the person screen,
# the dialog goes on.
_TARGET_STATE = frozenset(
    {
        Denial.TARGET_NOT_COLLECTED,
        Denial.TARGET_ALREADY_AUTHORISED,
        Denial.TARGET_NOT_AUTHORISED,
        Denial.ENTERPRISE_INACTIVE,
    }
)
_HANDLER_ACTIONS = ("authorise", "revoke")  # indexed by "bound" / "revoke": False, True


def _int(value: str) -> int | None:
    return int(value) if value.isascii() and value.isdigit() and len(value) < 19 else None


class MaintainData(EditsData):
    """维护's own values: the maintainer it began for, the enterprise and the register entry chosen
    (with the collected person it named), the pending ``edits``, and the tax-handler action waiting
    for its confirmation (``pending``: authorise | revoke)."""

    KEY: ClassVar[str] = "maintain"
    maintainer_id: int | None = None
    enterprise_id: int | None = None
    target_id: int | None = None
    target_person_id: int | None = None
    pending: str | None = None


class MaintainFlow:
    name = "maintain"

    async def start(self, ctx: Ctx) -> None:
        person = await logged_in(ctx)
        if person is None:
            await ask_to_collect(ctx)
            return
        actor = await actor_for(ctx, person)
        if not maintainable_enterprises(actor):
            await refuse(ctx, Denial.NOT_BOUND, flow=self.name)
            return
        if person.live_photo is None:
            await end_dialog(ctx.state, ctx.services)
            await ctx.say(
                ctx.t("maintain.no_live_photo"),
                keyboard(
                    [button(ctx.t("menu.supplement"), Tip(func=Function.SUPPLEMENT, parent=Node.REALNAME))],
                    [home_button(ctx.t)],
                ),
            )
            return
        await ctx.state.clear()
        await ctx.begin(self.name, MaintainData(maintainer_id=person.id))
        if stepup_valid(actor.stepup_at, ctx.now(), ctx.services.settings.face_stepup_minutes):
            await self.choose_enterprise(ctx)
            return
        await ctx.say(ctx.t("maintain.stepup"))
        # A face *login*: the agreement was signed at collection; asking again at every entry is noise.
        await face.begin(ctx, FaceCheck(refs=[list(person.live_photo.encoding)], with_agreement=False))

    async def authorize(
        self, ctx: Ctx, enterprise_id: int | None, target: EnterprisePerson | None = None
    ) -> tuple[Person, Actor] | None:
        """The maintainer when every rule holds now (for ``enterprise_id``, or for any enterprise when
        None); otherwise the dialog ends with the reason."""
        own = await ctx.load(MaintainData)
        person = await logged_in(ctx)
        if person is None or person.id != own.maintainer_id:
            await refuse(ctx, Denial.NOT_LOGGED_IN, flow=self.name)
            return None
        actor = await actor_for(ctx, person)
        ids = [enterprise_id] if enterprise_id is not None else maintainable_enterprises(actor)
        minutes = ctx.services.settings.face_stepup_minutes
        decision = (
            may_maintain(actor, ids[0], now=ctx.now(), stepup_minutes=minutes, target=target)
            if ids
            else Decision(Denial.NOT_BOUND)
        )
        if decision.denial is not None:
            await refuse(ctx, decision.denial, flow=self.name)
            return None
        return person, actor

    # --- steps ------------------------------------------------------------------------------------
    async def choose_enterprise(self, ctx: Ctx) -> None:
        authorised = await self.authorize(ctx, None)
        if authorised is None:
            return
        ids = maintainable_enterprises(authorised[1])
        if len(ids) == 1:
            await self.show_people(ctx, ids[0])
            return
        rows = []
        for enterprise_id in ids:
            enterprise = await ctx.repo.enterprises.get_by_id(enterprise_id)
            if enterprise is not None:
                rows.append([act(enterprise.name, "ent", str(enterprise.id))])
        await ctx.state.set_state(MaintainSG.enterprise)
        await ctx.say(ctx.t("maintain.choose_enterprise"), keyboard(*rows, back_row(ctx.t)))

    async def show_people(self, ctx: Ctx, enterprise_id: int) -> None:
        if await self.authorize(ctx, enterprise_id) is None:
            return
        enterprise = await ctx.repo.enterprises.get_by_id(enterprise_id)
        people = await ctx.repo.enterprises.people(enterprise_id)
        await ctx.change(
            MaintainData, enterprise_id=enterprise_id, target_id=None, target_person_id=None, edits=Edits()
        )
        # One message and one keyboard: an enterprise lists a handful of people; more are cut, said so.
        shown = people[:MAX_PEOPLE]
        lines: list[tuple[str, str, str, bool]] = []
        rows: list[list[InlineKeyboardButton]] = []
        for entry in shown:
            collected = await ctx.repo.persons.find_by_document(entry.doc_type, entry.number)
            role, name = role_name(ctx, entry.role), mask_name(entry.name)
            lines.append((role, name, mask_id_number(entry.number), collected is not None))
            rows.append([act(f"{role}｜{name}", "person", str(entry.id))])
        await ctx.state.set_state(MaintainSG.people)
        await ctx.say(
            ctx.t(
                "maintain.people",
                enterprise=enterprise.name if enterprise else "",
                people=lines,
                more=len(people) - len(shown),
            ),
            keyboard(*rows, back_row(ctx.t)),
        )

    async def entry(self, ctx: Ctx, target_id: object) -> tuple[EnterprisePerson, Actor] | None:
        """The chosen register entry and the maintainer, when the maintainer may maintain the chosen
        enterprise and the entry is one of its people now; otherwise the dialog ends."""
        enterprise_id = (await ctx.load(MaintainData)).enterprise_id
        entry = await ctx.repo.enterprises.person(target_id) if isinstance(target_id, int) else None
        if entry is None or not isinstance(enterprise_id, int):
            # An id that names nobody is treated like one of another enterprise: no hint either way.
            await refuse(ctx, Denial.OTHER_ENTERPRISE, flow=self.name)
            return None
        authorised = await self.authorize(ctx, enterprise_id, entry)
        return None if authorised is None else (entry, authorised[1])

    async def target(self, ctx: Ctx, target_id: object) -> tuple[Person, EnterprisePerson] | None:
        """The chosen register entry, authorised for this maintainer and enterprise."""
        found = await self.entry(ctx, target_id)
        if found is None:
            return None
        entry = found[0]
        collected = await ctx.repo.persons.find_by_document(entry.doc_type, entry.number)
        if collected is None:
            await ctx.say(ctx.t("maintain.not_collected"), keyboard(back_row(ctx.t)))
            return None
        return collected, entry

    async def show_person(self, ctx: Ctx, target_id: object, *, note: str | None = None) -> None:
        found = await self.entry(ctx, target_id)
        if found is None:
            return
        entry, actor = found
        collected = await ctx.repo.persons.find_by_document(entry.doc_type, entry.number)
        bound = await tax_handlers.handler_bound(ctx.repo, entry, collected)
        await ctx.change(
            MaintainData,
            target_id=entry.id,
            target_person_id=collected.id if collected else None,
            edits=Edits(),
        )
        await ctx.state.set_state(MaintainSG.person)
        text = ctx.t(
            "maintain.person",
            role=role_name(ctx, entry.role),
            name=mask_name(entry.name),
            number=mask_id_number(entry.number),
            authorised=bound,
            collected=collected is not None,
            phone=mask_phone(collected.phone.number) if collected and collected.phone else None,
            residence=mask_address(collected.residence) if collected and collected.residence else None,
        )
        rows = [[act(ctx.t("maintain.maintain"), "maintain")]] if collected else []
        if bound is not None and authoriser_roles(actor, entry.enterprise_id):
            # Offered also to a person not collected yet: pressing says what has to happen first.
            action = _HANDLER_ACTIONS[bound]
            rows.append([act(ctx.t("maintain." + action), action)])
        await ctx.say((note + "\n\n" + text) if note else text, keyboard(*rows, back_row(ctx.t)))

    # --- 授权办税 / 取消授权 --------------------------------------------------------------------------
    async def handler_target(
        self, ctx: Ctx, *, revoke: bool
    ) -> tuple[Enterprise, EnterprisePerson, Person] | None:
        """Enterprise, tax-handler entry and its collected person when the maintainer may authorise
        (``revoke``: revoke) them now. A refusal about that person's state is said over the person
        screen; any other ends the dialog."""
        found = await self.entry(ctx, (await ctx.load(MaintainData)).target_id)
        if found is None:
            return None
        entry, actor = found
        minutes = ctx.services.settings.face_stepup_minutes
        checked = await tax_handlers.check(
            ctx.repo, actor, entry, revoke=revoke, now=ctx.now(), stepup_minutes=minutes
        )
        if await self.handler_refused(ctx, entry, checked.decision.denial, revoke=revoke):
            return None
        assert checked.enterprise is not None and checked.person is not None  # allowed implies both
        return checked.enterprise, entry, checked.person

    async def handler_refused(
        self, ctx: Ctx, entry: EnterprisePerson, denial: Denial | None, *, revoke: bool
    ) -> bool:
        """True when ``denial`` refuses: one about the chosen person's state is said over the person
        screen; any other ends the dialog."""
        if denial in _TARGET_STATE:
            await self.target_refused(ctx, entry.id, denial, revoke=revoke)
            return True
        if denial is not None:
            await refuse(ctx, denial, flow=self.name)
            return True
        return False

    async def target_refused(self, ctx: Ctx, target_id: int, denial: Denial, *, revoke: bool) -> None:
        await ctx.repo.events.record(
            self.name,
            _HANDLER_ACTIONS[revoke],
            EventOutcome.REJECTED,
            user_id=ctx.user_id,
            reason_code=str(denial),
        )
        await self.show_person(ctx, target_id, note=ctx.t("policy." + str(denial)))

    async def confirm_handler(self, ctx: Ctx, *, revoke: bool) -> None:
        found = await self.handler_target(ctx, revoke=revoke)
        if found is None:
            return
        enterprise, entry, _ = found
        action = _HANDLER_ACTIONS[revoke]
        await ctx.change(MaintainData, pending=action)
        await ctx.state.set_state(MaintainSG.handler)
        await ctx.say(
            ctx.t(
                f"maintain.{action}_confirm",
                enterprise=enterprise.name,
                name=mask_name(entry.name),
                number=mask_id_number(entry.number),
            ),
            keyboard([act(ctx.t(f"maintain.{action}_yes"), "yes", action)], back_row(ctx.t)),
        )

    async def apply_handler(self, ctx: Ctx, action: str) -> None:
        pending = (await ctx.load(MaintainData)).pending
        revoke = pending == "revoke"
        if action != pending:
            # A confirmation button of an earlier screen: ask again for what is pending now.
            await ctx.say(ctx.t("functions.use_buttons"))
            await self.confirm_handler(ctx, revoke=revoke)
            return
        found = await self.handler_target(ctx, revoke=revoke)
        if found is None:
            return
        enterprise, entry, person = found
        maintainer = await logged_in(ctx)
        if maintainer is None:
            await refuse(ctx, Denial.NOT_LOGGED_IN, flow=self.name)
            return
        # Asked again in the transaction that writes: between the confirmation and now someone else
        # may have authorised, revoked or unbound.
        denial = await tax_handlers.set_tax_handler(
            ctx.repo,
            ctx.user_id,
            maintainer,
            entry,
            revoke=revoke,
            now=ctx.now(),
            stepup_minutes=ctx.services.settings.face_stepup_minutes,
        )
        if await self.handler_refused(ctx, entry, denial, revoke=revoke):
            return
        done = ctx.t(
            "maintain.revoked" if revoke else "maintain.authorised",
            name=mask_name(entry.name),
            enterprise=enterprise.name,
        )
        await _notify_person(
            ctx,
            person.id,
            "maintain.notify_revoked" if revoke else "maintain.notify_authorised",
            enterprise=enterprise.name,
        )
        await complete(ctx, self.name, action, done)

    async def show_edits(self, ctx: Ctx) -> None:
        found = await self.target(ctx, (await ctx.load(MaintainData)).target_id)
        if found is not None:
            await show_edits(ctx, MaintainSG.edit, found[0], MaintainData)

    async def save(self, ctx: Ctx) -> None:
        own = await ctx.load(MaintainData)
        found = await self.target(ctx, own.target_id)
        if found is None:
            return
        person, entry = found
        if person.id != own.target_person_id:
            await refuse(ctx, Denial.OTHER_ENTERPRISE, flow=self.name)
            return
        edits = own.edits
        await save_maintenance(ctx.repo, ctx.user_id, person.id, entry, edits.fields())
        enterprise = await ctx.repo.enterprises.get_by_id(entry.enterprise_id)
        await _notify_person(
            ctx,
            person.id,
            "maintain.notify_maintained",
            enterprise=enterprise.name if enterprise else "",
            phone=mask_phone(edits.phone.number) if edits.phone is not None else None,
            residence=bool(edits.residence),
        )
        await complete(ctx, self.name, "save", ctx.t("functions.saved"))

    # --- sub-dialogs return here ------------------------------------------------------------------
    async def on_face(self, ctx: Ctx, result: FaceResult) -> None:
        maintainer_id = (await ctx.load(MaintainData)).maintainer_id
        if result.decision != "pass" or maintainer_id is None:
            await refuse(ctx, Denial.STEPUP_REQUIRED, flow=self.name)
            return
        # The maintainer signed the face agreement for their own face.
        signed = as_consents((await ctx.load(Common)).consents)
        await pass_stepup(ctx.repo, ctx.user_id, maintainer_id, signed)
        await ctx.repo.events.record(self.name, "stepup", EventOutcome.PASSED, user_id=ctx.user_id)
        await self.choose_enterprise(ctx)

    async def back_from_face(self, ctx: Ctx) -> None:
        await back_to_tip(ctx, Function.MAINTAIN)

    async def on_phone(self, ctx: Ctx, result: PhoneResult) -> None:
        await MaintainData.keep_phone(ctx, result)
        await self.show_edits(ctx)

    async def back_from_phone(self, ctx: Ctx) -> None:
        await self.show_edits(ctx)


async def _recipient_lang(ctx: Ctx, person_id: int) -> str:
    """The language of a message to ``person_id`` outside their own update: their chosen one, else
    what their Telegram client reported, else the default."""
    for user_id in await ctx.repo.staff.telegram_users_of(person_id):
        account = await ctx.repo.users.get(user_id)
        if account is not None:
            return account.language or language_for(account.telegram_language, ctx.services.catalog.default)
    return ctx.services.catalog.default


async def _notify_person(ctx: Ctx, person_id: int, key: str, **values: object) -> None:
    """Tell the person whose record or authorisation a maintainer changed, in their own chats; a
    failed delivery does not undo the change (it is saved and audited)."""
    lang = await _recipient_lang(ctx, person_id)
    text = ctx.services.catalog.render(lang, key, **values)
    for user_id in await ctx.repo.staff.telegram_users_of(person_id):
        if user_id == ctx.user_id:
            continue  # the maintainer's own record: they saw the result already
        try:
            await ctx.bot.send_message(user_id, text)
        except Exception:
            log.warning("could not notify a maintained person", exc_info=True)


def create_router(flow: MaintainFlow) -> Router:
    router = Router(name="maintain")

    register_entry(router, flow, Function.MAINTAIN)

    @router.callback_query(MaintainSG.enterprise, Act.filter(F.a == "ent"))
    async def enterprise(query: CallbackQuery, callback_data: Act, ctx: Ctx) -> None:
        await query.answer()
        enterprise_id = _int(callback_data.v)
        if enterprise_id is None:
            await refuse(ctx, Denial.NOT_BOUND, flow=flow.name)
            return
        await flow.show_people(ctx, enterprise_id)

    @router.callback_query(MaintainSG.people, Act.filter(F.a == "person"))
    async def person(query: CallbackQuery, callback_data: Act, ctx: Ctx) -> None:
        await query.answer()
        await flow.show_person(ctx, _int(callback_data.v))

    @router.callback_query(MaintainSG.person, Act.filter(F.a == "maintain"))
    async def maintain(query: CallbackQuery, ctx: Ctx) -> None:
        await query.answer()
        await flow.show_edits(ctx)

    @router.callback_query(MaintainSG.person, Act.filter(F.a.in_(_HANDLER_ACTIONS)))
    async def handler_action(query: CallbackQuery, callback_data: Act, ctx: Ctx) -> None:
        await query.answer()
        await flow.confirm_handler(ctx, revoke=callback_data.a == "revoke")

    @router.callback_query(MaintainSG.handler, Act.filter(F.a == "yes"))
    async def handler_yes(query: CallbackQuery, callback_data: Act, ctx: Ctx) -> None:
        await query.answer()
        await flow.apply_handler(ctx, callback_data.v)

    async def ask_phone(ctx: Ctx) -> None:
        found = await flow.target(ctx, (await ctx.load(MaintainData)).target_id)
        if found is not None:
            person, entry = found
            enterprise = await ctx.repo.enterprises.get_by_id(entry.enterprise_id)
            # The phone step asks for someone else's number: worded for a third person, no
            # "share my contact", and the SMS in that person's language says who asks and why.
            other = PhoneFor(
                name=mask_name(entry.name),
                enterprise=enterprise.name if enterprise else "",
                lang=await _recipient_lang(ctx, person.id),
            )
            await phone.begin(ctx, other)

    async def editable(ctx: Ctx) -> bool:
        return await flow.target(ctx, (await ctx.load(MaintainData)).target_id) is not None

    steps = (MaintainSG.edit, MaintainSG.residence)
    register_edit_steps(
        router, steps, editable, MaintainData, show=flow.show_edits, ask_phone=ask_phone, save=flow.save
    )

    # --- back -------------------------------------------------------------------------------------
    async def to_tip(ctx: Ctx) -> None:
        await back_to_tip(ctx, Function.MAINTAIN)

    async def to_people(ctx: Ctx) -> None:
        enterprise_id = (await ctx.load(MaintainData)).enterprise_id
        await flow.show_people(ctx, enterprise_id if enterprise_id is not None else -1)

    async def to_person(ctx: Ctx) -> None:
        await flow.show_person(ctx, (await ctx.load(MaintainData)).target_id)

    async def to_pending(ctx: Ctx) -> None:
        await flow.confirm_handler(ctx, revoke=(await ctx.load(MaintainData)).pending == "revoke")

    on_press(router, (MaintainSG.enterprise, MaintainSG.people), "back", to_tip)
    on_press(router, MaintainSG.person, "back", to_people)
    on_press(router, (MaintainSG.edit, MaintainSG.handler), "back", to_person)

    # Unexpected input: say so and show the step again (every step re-checks the rules).
    buttons_only(
        router,
        {
            MaintainSG.enterprise: flow.choose_enterprise,
            MaintainSG.people: to_people,
            MaintainSG.person: to_person,
            MaintainSG.edit: flow.show_edits,
            MaintainSG.handler: to_pending,
        },
    )

    return router


__all__ = ["MaintainData", "MaintainFlow", "MaintainSG", "create_router"]
