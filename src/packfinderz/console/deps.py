"""Who is using the console: the signed-in admin from the session cookie, and the CSRF check of forms."""

from __future__ import annotations

import hmac
import uuid
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request
from redis.exceptions import RedisError

from packfinderz.auth import repository as users
from packfinderz.auth.deps import AuthContext, set_log_context
from packfinderz.auth.runtime import IdentityRuntime
from packfinderz.console.sessions import COOKIE, ConsoleSession, ConsoleSessions
from packfinderz.kit.db import DbSession
from packfinderz.kit.errors import DependencyError
from packfinderz.models.identity import User


class SignInRequired(Exception):
    """No live console session: pages redirect to the sign-in form."""


class NotAnAdmin(Exception):
    """A live session whose user is not (or no longer) a system admin: 403."""


class CsrfRefused(Exception):
    """A form posted without the session's CSRF token: 403, nothing changed."""


async def console_sessions(request: Request, rt: IdentityRuntime) -> ConsoleSessions:
    """The app's console session store (idle timeout from the settings)."""
    state = request.app.state
    found: ConsoleSessions | None = getattr(state, "console_sessions", None)
    if found is None or found.redis is not state.redis:
        found = ConsoleSessions(state.redis, rt.settings.console_idle_timeout)
        state.console_sessions = found
    return found


Sessions = Annotated[ConsoleSessions, Depends(console_sessions)]


@dataclass
class Console:
    """The signed-in admin and their console session."""

    user: User
    session: ConsoleSession
    sessions: ConsoleSessions

    @property
    def admin(self) -> AuthContext:
        """The admin as the API's services know callers (same actor, same audit rows)."""
        return AuthContext(
            user_id=self.user.id,
            role="admin",
            system_role="admin",
            store_id=None,
            store_role=None,
            store_type=None,
            jti=self.session.jti,
            must_change_password=self.user.must_change_password,
        )

    @property
    def user_id(self) -> uuid.UUID:
        return self.user.id

    async def flash(self, kind: str, text: str) -> None:
        """A message shown once on the next page."""
        self.session.flash.append({"kind": kind, "text": text})
        await self.sessions.save(self.session)

    async def take_flash(self) -> list[dict[str, str]]:
        messages = self.session.flash
        if messages:
            self.session.flash = []
            await self.sessions.save(self.session)
        return messages


async def _console(request: Request, session: DbSession, rt: IdentityRuntime, sessions: Sessions) -> Console:
    session_id = request.cookies.get(COOKIE)
    if not session_id:
        raise SignInRequired
    try:
        found = await sessions.load(session_id)
        if found is None:
            raise SignInRequired
        if not await rt.sessions.is_live(found.jti, found.user_id):
            await sessions.delete(session_id)
            raise SignInRequired
    except RedisError:
        raise DependencyError("redis") from None
    user = await users.by_id(session, found.user_id)
    if user is None or not user.is_active:
        await sessions.delete(session_id)
        raise SignInRequired
    set_log_context(request, user.id, None, user.system_role or "none")
    if user.system_role != "admin":
        raise NotAnAdmin
    return Console(user=user, session=found, sessions=sessions)


ConsoleAdmin = Annotated[Console, Depends(_console)]


async def _checked(request: Request, console: ConsoleAdmin) -> Console:
    form = await request.form()
    token = form.get("csrf_token")
    if not isinstance(token, str) or not hmac.compare_digest(token.encode(), console.session.csrf.encode()):
        raise CsrfRefused
    return console


# Every state-changing console route takes this: a signed-in admin AND the session's CSRF token.
ConsoleAction = Annotated[Console, Depends(_checked)]
