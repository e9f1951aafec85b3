"""HTTP: the operator console under /console (server-rendered pages and their forms).

Thin like every router: each page calls the domains' services (the same functions the admin API calls,
with the same admin actor, so the same rules, events and audit rows) and renders a template. Every
form posts the session's CSRF token; every change answers 303 to a page that shows its outcome.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Annotated, Any, Literal
from urllib.parse import quote

from fastapi import APIRouter, FastAPI, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from pydantic import ValidationError
from redis.exceptions import RedisError

from packfinderz.admin import service as admin_stores
from packfinderz.admin.repository import StoreFilters
from packfinderz.admin.schemas import AdminStorePatch
from packfinderz.analytics.deps import AppWarehouse
from packfinderz.analytics.ranges import Preset
from packfinderz.audit import service as audit
from packfinderz.audit.router import audit_filters
from packfinderz.auth import service as auth
from packfinderz.auth.runtime import IdentityRuntime
from packfinderz.auth.schemas import LoginIn
from packfinderz.billing import service as billing
from packfinderz.billing.deps import Billing
from packfinderz.console import repository
from packfinderz.console import service as console_service
from packfinderz.console.deps import (
    Console,
    ConsoleAction,
    ConsoleAdmin,
    CsrfRefused,
    NotAnAdmin,
    Sessions,
    SignInRequired,
)
from packfinderz.console.sessions import COOKIE, PATH, SIGN_IN_CSRF_COOKIE, new_token
from packfinderz.console.templating import HERE, SECURITY_HEADERS, render
from packfinderz.delivery import service as delivery
from packfinderz.delivery.schemas import AssignIn
from packfinderz.events import operator
from packfinderz.events import repository as events
from packfinderz.kit.appstate import AppRedis, AppSettings
from packfinderz.kit.db import DbSession
from packfinderz.kit.errors import AppError, DependencyError, NotFound
from packfinderz.kit.http import client_ip
from packfinderz.kit.pagination import Cursor, PageParams
from packfinderz.kit.ratelimit import policy
from packfinderz.ledger import service as ledger
from packfinderz.licenses import service as licenses
from packfinderz.licenses.repository import AdminLicenseFilters
from packfinderz.licenses.schemas import VerifyIn
from packfinderz.media import repository as media
from packfinderz.media.files import MediaFiles

router = APIRouter(prefix=PATH, include_in_schema=False)

Text = Annotated[str, Form(max_length=500)]
Reason = Annotated[str, Form(max_length=500)]


def _cursor(value: str | None) -> Cursor | None:
    try:
        return Cursor.decode(value) if value else None
    except AppError:
        return None


def _message(exc: AppError | ValidationError) -> str:
    if isinstance(exc, ValidationError):
        return "; ".join(f"{'.'.join(str(p) for p in e['loc']) or 'input'}: {e['msg']}" for e in exc.errors())
    details = exc.details or {}
    extra = "; ".join(f"{k}: {v}" for k, v in details.items() if isinstance(v, str))
    return f"{exc.message} ({extra})" if extra else exc.message


async def _page(
    request: Request, console: Console, name: str, context: dict[str, Any], status: int = 200
) -> HTMLResponse:
    return render(
        request,
        name,
        {"user": console.user, "csrf": console.session.csrf, "flash": await console.take_flash(), **context},
        status,
    )


def _not_found(request: Request, what: str) -> HTMLResponse:
    return render(request, "refused.html", {"title": "Not found", "text": f"No such {what}."}, 404)


def _back(path: str) -> RedirectResponse:
    response = RedirectResponse(path, status_code=303)
    response.headers.update(SECURITY_HEADERS)
    return response


async def _act(session: DbSession, console: Console, work: Callable[[], Awaitable[Any]], done: str) -> bool:
    """Run one service call; a refusal rolls the request's transaction back and is shown, not raised."""
    try:
        await work()
    except (AppError, ValidationError) as exc:
        if isinstance(exc, DependencyError):
            raise
        await session.rollback()
        await console.flash("error", _message(exc))
        return False
    await console.flash("ok", done)
    return True


# --- sign-in / sign-out ------------------------------------------------------------------------------


def _sign_in_page(request: Request, token: str, error: str | None = None, status: int = 200) -> HTMLResponse:
    response = render(
        request, "sign_in.html", {"csrf": token, "error": error, "next": _next(request)}, status
    )
    response.set_cookie(
        SIGN_IN_CSRF_COOKIE, token, path=PATH, httponly=True, samesite="strict", secure=_secure(request)
    )
    return response


def _secure(request: Request) -> bool:
    """Cookies are `Secure` outside dev and test (which serve plain http on loopback)."""
    return request.app.state.settings.env not in ("dev", "test")


def _next(request: Request) -> str:
    target = request.query_params.get("next") or ""
    # Only console paths: never an open redirect.
    return target if target.startswith(PATH + "/") or target == PATH else PATH


@router.get("/sign-in", response_class=HTMLResponse)
async def sign_in_form(request: Request) -> HTMLResponse:
    return _sign_in_page(request, new_token())


@router.post("/sign-in", response_class=HTMLResponse)
async def sign_in(
    *,
    request: Request,
    session: DbSession,
    rt: IdentityRuntime,
    sessions: Sessions,
    email: Annotated[str, Form(max_length=254)] = "",
    password: Annotated[str, Form(max_length=1024)] = "",
    csrf_token: Annotated[str, Form(max_length=100)] = "",
) -> Response:
    """The API's admin login (same credentials, rate limits and audit rows), then a console session."""
    expected = request.cookies.get(SIGN_IN_CSRF_COOKIE) or ""
    if not expected or csrf_token != expected:
        raise CsrfRefused
    ip = client_ip(request.scope, rt.settings.trusted_proxy_hops)
    try:
        await rt.limiter.hit_ip(policy(rt.settings, "login"), ip)
        body = LoginIn.model_validate({"email": email, "password": password})
        result = await auth.login(session, rt, body, ip, via="admin_login")
    except ValidationError:
        return _sign_in_page(request, new_token(), "Enter your email and password.", 400)
    except AppError as exc:
        if isinstance(exc, DependencyError):
            raise
        await session.rollback()
        return _sign_in_page(request, new_token(), _message(exc).capitalize() + ".", exc.status)
    assert result.access_token is not None  # a successful login always issues a token
    claims = rt.tokens.decode(result.access_token)
    try:
        created = await sessions.create(claims.user_id, claims.jti)
    except RedisError:
        raise DependencyError("redis") from None
    response = _back(_next(request))
    response.set_cookie(
        COOKIE,
        created.id,
        path=PATH,
        httponly=True,
        samesite="lax",
        secure=_secure(request),
        max_age=int(rt.settings.refresh_token_ttl_minutes * 60),
    )
    response.delete_cookie(SIGN_IN_CSRF_COOKIE, path=PATH)
    return response


@router.post("/sign-out")
async def sign_out(console: ConsoleAction, rt: IdentityRuntime) -> Response:
    """Ends the console session and the API session it opened."""
    try:
        await rt.sessions.revoke(console.session.jti, console.user.id)
        await console.sessions.delete(console.session.id)
    except RedisError:
        raise DependencyError("redis") from None
    response = _back(f"{PATH}/sign-in")
    response.delete_cookie(COOKIE, path=PATH)
    return response


# --- dashboard ---------------------------------------------------------------------------------------


@router.get("", response_class=HTMLResponse)
async def dashboard(
    *,
    request: Request,
    console: ConsoleAdmin,
    session: DbSession,
    redis: AppRedis,
    settings: AppSettings,
    warehouse: AppWarehouse,
    files: MediaFiles,
    range: Annotated[Preset, Query()] = "30d",
) -> HTMLResponse:
    report, vendors, error = await console_service.marketplace(
        session, warehouse, settings.analytics_tz, range
    )
    ops = await console_service.operations(session, redis, files)
    charts = None
    if report is not None:
        series = report["series"]
        charts = {
            "labels": [p["date"] for p in series["orders"]],
            "orders": [p["value"] for p in series["orders"]],
            "revenue": [p["value"] / 100 for p in series["gross_revenue_cents"]],
            "customers": [report["kpis"]["new_customers"], report["kpis"]["returning_customers"]],
        }
    return await _page(
        request,
        console,
        "dashboard.html",
        {"range": range, "report": report, "vendors": vendors, "error": error, "ops": ops, "charts": charts},
    )


# --- licenses ----------------------------------------------------------------------------------------


@router.get("/licenses", response_class=HTMLResponse)
async def license_queue(
    request: Request,
    console: ConsoleAdmin,
    session: DbSession,
    files: MediaFiles,
    selected: Annotated[uuid.UUID | None, Query(alias="id")] = None,
) -> HTMLResponse:
    """Pending licenses oldest first; the selected one (the oldest by default) beside its store."""
    queue, _, total = await licenses.admin_list(
        session, files, AdminLicenseFilters(status="pending", sort="oldest"), PageParams(limit=50)
    )
    current = None
    store = None
    mime = None
    pick = selected or (queue[0].id if queue else None)
    if pick is not None:
        try:
            current = await licenses.admin_get(session, files, pick)
        except AppError:
            current = None
    if current is not None:
        store = await admin_stores.get_store(session, files, current.store.id)
        document = await media.get_media(session, current.media_id)
        mime = document.mime_type if document else None
    return await _page(
        request,
        console,
        "licenses.html",
        {"queue": queue, "total": total, "current": current, "store": store, "mime": mime},
    )


@router.post("/licenses/{license_id}/decision")
async def decide_license(
    *,
    license_id: uuid.UUID,
    console: ConsoleAction,
    session: DbSession,
    files: MediaFiles,
    decision: Annotated[Literal["verified", "rejected"], Form()],
    reason: Reason = "",
) -> Response:
    async def work() -> None:
        body = VerifyIn.model_validate({"decision": decision, "reason": reason.strip() or None})
        await licenses.verify(session, files, license_id, console.admin.actor(), body)

    verb = "approved" if decision == "verified" else "rejected"
    ok = await _act(session, console, work, f"License {verb}.")
    return _back(f"{PATH}/licenses" if ok else f"{PATH}/licenses?id={license_id}")


# --- stores ------------------------------------------------------------------------------------------


@router.get("/stores", response_class=HTMLResponse)
async def stores(
    *,
    request: Request,
    console: ConsoleAdmin,
    session: DbSession,
    q: Annotated[str, Query(max_length=200)] = "",
    type: Annotated[Literal["", "buyer", "vendor"], Query()] = "",
    kyc_status: Annotated[
        Literal["", "pending_verification", "verified", "rejected", "expired", "suspended"], Query()
    ] = "",
    subscription: Annotated[Literal["", "active", "inactive"], Query()] = "",
    cursor: Annotated[str | None, Query(max_length=500)] = None,
) -> HTMLResponse:
    filters = StoreFilters(
        kyc_status=kyc_status or None,
        type=type or None,
        subscription_active={"active": True, "inactive": False}.get(subscription),
        q=q.strip() or None,
    )
    items, next_cursor, total = await admin_stores.list_stores(
        session, filters, PageParams(limit=50, cursor=_cursor(cursor))
    )
    query = {"q": q, "type": type, "kyc_status": kyc_status, "subscription": subscription}
    return await _page(
        request,
        console,
        "stores.html",
        {"stores": items, "total": total, "next_cursor": next_cursor, "query": query},
    )


@router.get("/stores/{store_id}", response_class=HTMLResponse)
async def store_page(
    *,
    request: Request,
    store_id: uuid.UUID,
    console: ConsoleAdmin,
    session: DbSession,
    files: MediaFiles,
    provider: Billing,
    settings: AppSettings,
) -> HTMLResponse:
    try:
        store = await admin_stores.get_store(session, files, store_id)
    except NotFound:
        return _not_found(request, "store")
    subscription = None
    if store.type == "vendor":
        # The vendor's own GET /billing/subscription: the live row, synced with the provider.
        subscription = await billing.current_subscription(session, provider, settings, store_id)
    return await _page(request, console, "store.html", {"store": store, "subscription": subscription})


@router.post("/stores/{store_id}/suspension")
async def suspend_store(
    *,
    store_id: uuid.UUID,
    console: ConsoleAction,
    session: DbSession,
    files: MediaFiles,
    action: Annotated[Literal["suspend", "reinstate"], Form()],
    reason: Reason = "",
) -> Response:
    async def work() -> None:
        body = AdminStorePatch.model_validate({"suspended": action == "suspend", "reason": reason})
        await admin_stores.patch_store(session, files, store_id, console.admin.actor(), body)

    await _act(session, console, work, "Store suspended." if action == "suspend" else "Store reinstated.")
    return _back(f"{PATH}/stores/{store_id}")


@router.post("/stores/{store_id}/subscription")
async def override_subscription(
    *,
    store_id: uuid.UUID,
    console: ConsoleAction,
    session: DbSession,
    files: MediaFiles,
    value: Annotated[Literal["active", "inactive", "clear"], Form()],
    reason: Reason = "",
) -> Response:
    async def work() -> None:
        flag = {"active": True, "inactive": False}.get(value)
        body = AdminStorePatch.model_validate({"subscription_active": flag, "reason": reason})
        await admin_stores.patch_store(session, files, store_id, console.admin.actor(), body)

    await _act(session, console, work, "Subscription override saved.")
    return _back(f"{PATH}/stores/{store_id}")


# --- orders and payouts ------------------------------------------------------------------------------


@router.get("/orders", response_class=HTMLResponse)
async def orders_page(
    request: Request,
    console: ConsoleAdmin,
    session: DbSession,
    number: Annotated[str, Query(max_length=20)] = "",
) -> HTMLResponse:
    """The dispatch queue (ready, unassigned) with an assign form each; an order number opens its page."""
    if number.strip():
        found = (
            await repository.order_id_by_number(session, int(number)) if number.strip().isdigit() else None
        )
        if found is not None:
            return _back(f"{PATH}/orders/{found}")  # type: ignore[return-value]
        await console.flash("error", f"No order number {number.strip()}.")
    queue = await delivery.queue(session, PageParams(limit=50))
    agents = await repository.active_agents(session)
    return await _page(request, console, "orders.html", {"queue": queue.items, "agents": agents})


@router.get("/orders/{order_id}", response_class=HTMLResponse)
async def order_page(
    request: Request, order_id: uuid.UUID, console: ConsoleAdmin, session: DbSession
) -> HTMLResponse:
    try:
        timeline = await console_service.order_timeline(session, order_id)
    except NotFound:
        return _not_found(request, "order")
    agents = await repository.active_agents(session) if timeline.assignable else []
    return await _page(request, console, "order.html", {"t": timeline, "agents": agents})


@router.post("/orders/{order_id}/assign")
async def assign_agent(
    order_id: uuid.UUID,
    console: ConsoleAction,
    session: DbSession,
    agent_user_id: Annotated[str, Form(max_length=64)],
    back: Annotated[Literal["order", "queue"], Form()] = "order",
) -> Response:
    async def work() -> None:
        body = AssignIn.model_validate({"agent_user_id": agent_user_id})
        await delivery.assign(session, console.admin, order_id, body)

    await _act(session, console, work, "Agent assigned.")
    return _back(f"{PATH}/orders/{order_id}" if back == "order" else f"{PATH}/orders")


@router.get("/payouts", response_class=HTMLResponse)
async def payouts(request: Request, console: ConsoleAdmin, session: DbSession) -> HTMLResponse:
    queue = await ledger.payout_queue(session, PageParams(limit=100))
    names = await repository.store_names(session, {item.vendor_store_id for item in queue.items})
    return await _page(
        request, console, "payouts.html", {"queue": queue.items, "more": queue.next_cursor, "names": names}
    )


@router.post("/payouts/{order_id}/confirm")
async def confirm_payout(order_id: uuid.UUID, console: ConsoleAction, session: DbSession) -> Response:
    async def work() -> None:
        await ledger.confirm_payout(session, console.admin, order_id)

    await _act(session, console, work, "Payout confirmed.")
    return _back(f"{PATH}/payouts")


# --- agents ------------------------------------------------------------------------------------------


@router.get("/agents", response_class=HTMLResponse)
async def agents_page(
    request: Request, console: ConsoleAdmin, session: DbSession, redis: AppRedis
) -> HTMLResponse:
    found = await console_service.agents(session, redis)
    return await _page(request, console, "agents.html", {"agents": found})


@router.get("/agents/rows", response_class=HTMLResponse)
async def agents_rows(
    request: Request, console: ConsoleAdmin, session: DbSession, redis: AppRedis
) -> HTMLResponse:
    """The agents table body alone: htmx polls it every few seconds."""
    del console
    found = await console_service.agents(session, redis)
    return render(request, "_agent_rows.html", {"agents": found})


# --- events ------------------------------------------------------------------------------------------


@router.get("/events", response_class=HTMLResponse)
async def events_page(request: Request, console: ConsoleAdmin, session: DbSession) -> HTMLResponse:
    stats = await events.stats(session)
    dead = await events.list_dlq(session, events.DlqFilter(), 100, only_dead=True)
    return await _page(request, console, "events.html", {"stats": stats, "dead": dead})


@router.post("/events/replay")
async def replay(
    request: Request,
    console: ConsoleAction,
    session: DbSession,
    event_id: Annotated[uuid.UUID | None, Form()] = None,
    everything: Annotated[bool, Form()] = False,
) -> Response:
    """Replay one dead letter, or every dead letter (up to 1000): the `outbox replay` of the CLI."""
    if event_id is None and not everything:
        await console.flash("error", "Choose an event to replay.")
        return _back(f"{PATH}/events")
    selection = operator.ReplaySelection(
        dlq=events.DlqFilter(event_ids=(event_id,) if event_id else ()), everything=everything, limit=1000
    )
    lines = await operator.replay(request.app.state.db, selection, dry_run=False)
    replayed = [line for line in lines if line.status == "replayed"]
    skipped = [line for line in lines if line.status != "replayed"]
    await audit.record(
        session,
        action="outbox.replayed",
        target_type="outbox_event",
        target_id=event_id,
        actor=console.admin.actor(),
        payload={
            "everything": everything,
            "replayed": [str(line.event_id) for line in replayed],
            "skipped": {str(line.event_id): line.detail for line in skipped},
        },
    )
    text = f"Replayed {len(replayed)} event(s)."
    if skipped:
        text += f" Skipped {len(skipped)}: " + "; ".join(line.detail for line in skipped[:3])
    await console.flash("ok" if replayed else "error", text)
    return _back(f"{PATH}/events")


# --- audit log ---------------------------------------------------------------------------------------


def _utc(value: str) -> datetime | None:
    """A `datetime-local` field's value, read as UTC."""
    return datetime.fromisoformat(value).replace(tzinfo=UTC) if value else None


@router.get("/audit", response_class=HTMLResponse)
async def audit_log(
    *,
    request: Request,
    console: ConsoleAdmin,
    session: DbSession,
    actor: Annotated[str, Query(max_length=254)] = "",
    action: Annotated[str, Query(max_length=100)] = "",
    target_type: Annotated[str, Query(max_length=50)] = "",
    target_id: Annotated[str, Query(max_length=64)] = "",
    from_: Annotated[str, Query(alias="from", max_length=40)] = "",
    to: Annotated[str, Query(max_length=40)] = "",
    cursor: Annotated[str | None, Query(max_length=500)] = None,
) -> HTMLResponse:
    """Newest first; the actor is an email or a user id, the action exact or a prefix (`license.*`)."""
    query = {
        "actor": actor,
        "action": action,
        "target_type": target_type,
        "target_id": target_id,
        "from": from_,
        "to": to,
    }
    rows: list[Any] = []
    next_cursor = None
    error = None
    try:
        actor_id: uuid.UUID | None = None
        if actor.strip():
            actor_id = (
                await repository.user_id_by_email(session, actor)
                if "@" in actor
                else uuid.UUID(actor.strip())
            ) or uuid.UUID(int=0)
        filters = await audit_filters(
            actor_user_id=actor_id,
            action=action.strip() or None,
            target_type=target_type.strip() or None,
            target_id=uuid.UUID(target_id.strip()) if target_id.strip() else None,
            created_from=_utc(from_),
            created_to=_utc(to),
        )
        rows, next_cursor = await audit.list_entries(
            session, filters, PageParams(limit=50, cursor=_cursor(cursor))
        )
    except ValueError:
        error = "Actor and target id must be ids (or an email for the actor); times must be valid."
    except AppError as exc:
        error = _message(exc)
    emails = await repository.user_emails(session, {r.actor_user_id for r in rows if r.actor_user_id})
    more = None
    if next_cursor:
        more = (
            "?" + "&".join(f"{k}={quote(v)}" for k, v in query.items() if v) + f"&cursor={quote(next_cursor)}"
        )
    return await _page(
        request,
        console,
        "audit.html",
        {"rows": rows, "emails": emails, "query": query, "error": error, "more": more},
    )


# --- wiring ------------------------------------------------------------------------------------------


def install_console(app: FastAPI) -> None:
    """Mount the console's pages and assets and render its refusals as pages."""
    app.include_router(router)
    app.mount(f"{PATH}/static", StaticFiles(directory=HERE / "static"), name="console-static")

    async def sign_in_required(request: Request, exc: Exception) -> Response:
        del exc
        target = quote(request.url.path + (f"?{request.url.query}" if request.url.query else ""), safe="")
        location = f"{PATH}/sign-in?next={target}"
        if request.headers.get("HX-Request"):
            # htmx follows redirects inside the swap: tell it to load the sign-in page instead.
            return Response(status_code=401, headers={"HX-Redirect": location, **SECURITY_HEADERS})
        if request.method == "GET":
            return _back(location)
        return render(
            request,
            "refused.html",
            {"title": "Signed out", "text": "Your session ended. Sign in again."},
            401,
        )

    async def not_an_admin(request: Request, exc: Exception) -> Response:
        del exc
        return render(
            request,
            "refused.html",
            {"title": "Forbidden", "text": "The console is for PackFinderz administrators."},
            403,
        )

    async def csrf_refused(request: Request, exc: Exception) -> Response:
        del exc
        return render(
            request,
            "refused.html",
            {
                "title": "Form expired",
                "text": "The form was missing its security token. Reload the page and try again.",
            },
            403,
        )

    app.add_exception_handler(SignInRequired, sign_in_required)
    app.add_exception_handler(NotAnAdmin, not_an_admin)
    app.add_exception_handler(CsrfRefused, csrf_refused)
