"""Who is an editor: adapters report facts (admin, editor role); this rule decides, the same on every platform."""

from sqlalchemy import select

from bot.commands import Actor
from bot.db.models import Editor
from bot.errors import NotAnEditor, Refused
from bot.uow import UnitOfWork


async def is_editor(uow: UnitOfWork, actor: Actor) -> bool:
    if actor.holds_editor_role or actor.is_admin:
        return True
    found = await uow.session.scalar(
        select(Editor.id).where(Editor.community == actor.community, Editor.user_id == actor.user_id)
    )
    return found is not None


async def require_editor(uow: UnitOfWork, actor: Actor, what: str) -> None:
    if not await is_editor(uow, actor):
        raise NotAnEditor(what)


def require_admin(actor: Actor) -> None:
    if not actor.is_admin:
        raise Refused("Only workspace admins can add or remove editors.")
