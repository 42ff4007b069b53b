"""The pages: the supervisor's wallboard, the agent's console, and the login that opens
a session for them (``/login``, ``/logout``, ``/wallboard``, ``/console``, ``/static``).

The pages are plain HTML and JavaScript from ``static/`` (no build step, nothing from
another host). The server fills in only what it must: every visible string, in the
chosen language (``static/i18n/{ja,en}.json``), and a JSON block with who is logged in
and the session's CSRF token. The data itself comes from the API (``/api/v1``) and its
websocket (``/api/v1/live``), with the session cookie; the pages send the CSRF token in
``X-CSRF-Token`` on every change (``auth.session_principal`` checks it).

Login: the user pastes an API token (``callcenter token create``) once; it is exchanged
for a session (``auth.SessionStore``) and never stored in the browser, sent back, or
logged. The login form has its own CSRF defence (a nonce in a SameSite=Strict cookie
and in the form), so another site cannot log a browser in as someone else.
"""

from __future__ import annotations

import asyncio
import hmac
from collections.abc import Mapping
from typing import Any

import structlog
from aiohttp import web
from sqlalchemy.exc import SQLAlchemyError

from callcenter.store.audit import AuditEntry
from callcenter.web.auth import (
    MAX_TOKEN_LENGTH,
    SESSION_COOKIE,
    SESSION_MAX_SECONDS,
    Principal,
    Session,
    SessionStore,
    TokenStore,
    TooManySessions,
    public,
    same_origin,
)
from callcenter.web.deps import ApiDeps
from callcenter.web.live import LIVE_HUB
from callcenter.web.page_kit import (
    AGENT_ID,
    DEFAULT_LANG,
    LANG_COOKIE,
    LANGS,
    LOGIN_COOKIE,
    LOGIN_NONCE_SECONDS,
    MAX_FORM_BYTES,
    NEXT_PAGES,
    SECURITY_HEADERS,
    STATIC,
    TEMPLATES,
    LoginNonces,
    Template,
    choose_lang,
    is_https,
    load_assets,
    load_strings,
    proxy_networks,
    script_json,
    see_other,
)

log = structlog.get_logger("callcenter.web")


class PageRoutes:
    """The pages and the login, bound to the token store and the sessions."""

    def __init__(self, deps: ApiDeps, sessions: SessionStore) -> None:
        self.deps = deps
        self.tokens: TokenStore = deps.tokens
        self.sessions = sessions
        self.trusted_proxies = proxy_networks(deps.trusted_proxies)
        self.nonces = LoginNonces()
        self.strings = load_strings()
        self.templates = {
            name: Template(name, (STATIC / name).read_text(encoding="utf-8")) for name in TEMPLATES
        }
        for t in self.templates.values():
            unknown = t.keys() - set(self.strings[DEFAULT_LANG])
            if unknown:
                raise ValueError(f"static/{t.name}: no string for {sorted(unknown)}")
        self.assets = load_assets()

    def routes(self) -> list[web.RouteDef]:
        return [
            web.get("/", self.index),
            web.get("/login", self.login_form),
            web.post("/login", self.login),
            web.post("/logout", self.logout),
            web.get("/wallboard", self.wallboard),
            web.get("/console", self.console),
            web.get("/reports", self.reports),
            web.get(r"/static/{name:[a-z0-9_-]+\.(?:js|css)}", self.static),
        ]

    # -- helpers ---------------------------------------------------------------------

    def _lang(self, request: web.Request) -> str:
        return choose_lang(
            request.query.get("lang"),
            request.cookies.get(LANG_COOKIE),
            request.headers.get("Accept-Language"),
        )

    def _page(
        self,
        request: web.Request,
        template: str,
        lang: str,
        *,
        status: int = 200,
        data: Mapping[str, Any] | None = None,
        values: Mapping[str, str] | None = None,
    ) -> web.Response:
        strings = self.strings[lang]
        # Times are shown in the service's zone (the desk's day), whatever the browser's.
        tz = getattr(self.deps.calendar.tz, "key", "Asia/Tokyo")
        page_data = {"lang": lang, "strings": strings, "timezone": tz, **(data or {})}
        body = self.templates[template].render(
            strings,
            {
                "lang": lang,
                "other_lang": "en" if lang == "ja" else "ja",
                "page_data": script_json(page_data),
                **(values or {}),
            },
        )
        resp = web.Response(text=body, status=status, content_type="text/html", charset="utf-8")
        resp.headers.update(SECURITY_HEADERS)
        if request.query.get("lang") in LANGS:
            # Remembered, so the next page (after a login, say) keeps the language.
            resp.set_cookie(
                LANG_COOKIE, lang, max_age=365 * 86400, path="/", httponly=True,
                samesite="Strict", secure=self._secure(request),
            )  # fmt: skip
        return resp

    def _secure(self, request: web.Request) -> bool:
        """Cookies are Secure when the browser came over TLS, directly or via our proxy."""
        return is_https(request, self.trusted_proxies)

    def _message(self, request: web.Request, lang: str, status: int, key: str) -> web.Response:
        return self._page(
            request,
            "message.html",
            lang,
            status=status,
            values={"message": self.strings[lang][key]},
        )

    async def _session(self, request: web.Request) -> tuple[Session, Principal] | None:
        """The request's session and who it acts as now; None without a live one (or
        when its token was revoked since)."""
        session_id = request.cookies.get(SESSION_COOKIE)
        session = await self.sessions.aget(session_id)
        if session is None:
            return None
        who = await asyncio.to_thread(self.tokens.active_principal, session.token_id)
        if who is None:
            await self.sessions.adrop(session_id)
            return None
        return session, who

    @staticmethod
    def _to_login(request: web.Request) -> web.Response:
        return see_other(f"/login?next={request.path}")

    @staticmethod
    def _me(session: Session, who: Principal) -> dict[str, Any]:
        return {
            "csrf": session.csrf,
            "me": {"name": who.name, "role": who.role, "agent_id": who.agent_id},
        }

    def _agent_ids(self) -> list[str] | None:
        pbx = self.deps.pbx
        return None if pbx is None else [a.id for a in pbx.cfg.agents]

    # -- pages -------------------------------------------------------------------------

    @public  # the pages send the browser to the login form instead of answering 401
    async def index(self, request: web.Request) -> web.StreamResponse:
        found = await self._session(request)
        if found is None:
            return see_other("/login")
        return see_other("/wallboard" if found[1].sees_all else "/console")

    @public
    async def wallboard(self, request: web.Request) -> web.StreamResponse:
        lang = self._lang(request)
        found = await self._session(request)
        if found is None:
            return self._to_login(request)
        session, who = found
        if not who.sees_all:  # an auditor sees it too; its switches answer 403
            return self._message(request, lang, 403, "error.supervisors_only")
        return self._page(
            request,
            "wallboard.html",
            lang,
            data=self._me(session, who),
            values={"csrf": session.csrf},  # the logout form's field
        )

    @public
    async def reports(self, request: web.Request) -> web.StreamResponse:
        """The monthly report, the kept ones and the call detail: supervisors, admins and
        auditors (the page reads; the API refuses an auditor any change)."""
        lang = self._lang(request)
        found = await self._session(request)
        if found is None:
            return self._to_login(request)
        session, who = found
        if not who.sees_all:
            return self._message(request, lang, 403, "error.readers_only")
        return self._page(
            request,
            "reports.html",
            lang,
            data=self._me(session, who),
            values={"csrf": session.csrf},
        )

    @public
    async def console(self, request: web.Request) -> web.StreamResponse:
        lang = self._lang(request)
        found = await self._session(request)
        if found is None:
            return self._to_login(request)
        session, who = found
        asked = request.query.get("agent")
        if who.role == "agent":
            if asked not in (None, who.agent_id):
                return self._message(request, lang, 403, "error.not_your_console")
            agent = who.agent_id
        else:
            agent = asked  # a supervisor may open any agent's console, or choose one
        if agent is not None:
            known = self._agent_ids()
            if not AGENT_ID.match(agent) or (known is not None and agent not in known):
                return self._message(request, lang, 404, "error.unknown_agent")
        data = {**self._me(session, who), "agent_id": agent}
        return self._page(request, "console.html", lang, data=data, values={"csrf": session.csrf})

    # -- login and logout ----------------------------------------------------------------

    @public
    async def login_form(self, request: web.Request) -> web.StreamResponse:
        return self._login_page(request, self._lang(request), 200, "")

    def _login_page(self, request: web.Request, lang: str, status: int, error: str) -> web.Response:
        nonce = self.nonces.issue()
        nxt = request.query.get("next", "")
        resp = self._page(
            request,
            "login.html",
            lang,
            status=status,
            values={
                "nonce": nonce,
                "next": nxt if nxt in NEXT_PAGES else "",
                "error": self.strings[lang][error] if error else "",
            },
        )
        resp.set_cookie(
            LOGIN_COOKIE, nonce, max_age=LOGIN_NONCE_SECONDS, path="/login", httponly=True,
            samesite="Strict", secure=self._secure(request),
        )  # fmt: skip
        return resp

    async def _form(self, request: web.Request) -> Mapping[str, str]:
        if request.content_length is not None and request.content_length > MAX_FORM_BYTES:
            raise web.HTTPRequestEntityTooLarge(MAX_FORM_BYTES, request.content_length)
        form = await request.post()
        return {k: v for k, v in form.items() if isinstance(v, str)}

    @public
    async def login(self, request: web.Request) -> web.StreamResponse:
        lang = self._lang(request)
        form = await self._form(request)
        refused = self._login_refusal(request, form)
        if refused is not None:
            log.warning("web.login_csrf_refused", why=refused)
            return self._login_page(request, lang, 403, "login.error_form")
        token = form.get("token", "").strip()
        record = None
        if token and len(token) <= MAX_TOKEN_LENGTH:
            record = await asyncio.to_thread(self.tokens.identify, token)
        if record is None:
            # Never the token, nor a part of it: only that a login was refused.
            log.warning("web.login_refused")
            return self._login_page(request, lang, 401, "login.error_token")
        await self.sessions.adrop(request.cookies.get(SESSION_COOKIE))  # a new login, a new id
        try:
            session_id, _ = await self.sessions.acreate(record.principal(), record.id)
        except TooManySessions as exc:
            log.warning("web.login_refused_sessions_full", role=record.role, why=str(exc))
            return self._login_page(request, lang, 503, "login.error_busy")
        log.info("web.login", name=record.name, role=record.role, agent=record.agent_id)
        await self._audit(record.principal(), "session.login")
        nxt = form.get("next", "")
        if nxt not in NEXT_PAGES:
            nxt = "/console" if record.role == "agent" else "/wallboard"
        resp = see_other(nxt)
        resp.set_cookie(
            SESSION_COOKIE, session_id, max_age=SESSION_MAX_SECONDS, path="/", httponly=True,
            samesite="Strict", secure=self._secure(request),
        )  # fmt: skip
        resp.del_cookie(LOGIN_COOKIE, path="/login")
        return resp

    def _login_refusal(self, request: web.Request, form: Mapping[str, str]) -> str | None:
        """Why this login post may not be the user's own (None: it is). A nonce that
        passes is used up: the same form cannot log in twice."""
        if not same_origin(request):
            return "other_site"
        nonce = request.cookies.get(LOGIN_COOKIE, "")
        if not nonce:
            return "no_nonce_cookie"  # SameSite=Strict: another site's post comes without it
        if not hmac.compare_digest(nonce.encode(), form.get("nonce", "").encode()):
            return "nonce_mismatch"
        if not self.nonces.use(nonce):
            return "nonce_used_or_unknown"
        return None

    @public  # checked here: the form's CSRF field (a plain form post, no script needed)
    async def logout(self, request: web.Request) -> web.StreamResponse:
        lang = self._lang(request)
        session_id = request.cookies.get(SESSION_COOKIE)
        session = await self.sessions.aget(session_id)
        if session is not None:
            form = await self._form(request)
            given = form.get("csrf") or request.headers.get("X-CSRF-Token") or ""
            if not same_origin(request) or not hmac.compare_digest(
                given.encode(), session.csrf.encode()
            ):
                log.warning("web.logout_csrf_refused")
                return self._message(request, lang, 403, "error.csrf")
            await self.sessions.adrop(session_id)
            log.info("web.logout", name=session.principal.name)
            await self._audit(session.principal, "session.logout")
            hub = request.app.get(LIVE_HUB)
            if hub is not None:
                await hub.revalidate()  # this session's live pages stop now
        resp = see_other("/login")
        resp.del_cookie(SESSION_COOKIE, path="/")
        return resp

    async def _audit(self, who: Principal, action: str) -> None:
        audit = self.deps.audit
        if audit is None:
            return
        entry = AuditEntry(self.deps.now(), who.actor, who.role, action, "", 303, "page")
        try:
            await asyncio.to_thread(audit.append, entry)
        except SQLAlchemyError as exc:
            log.error("audit.not_written", action=action, error=type(exc).__name__)

    # -- static files --------------------------------------------------------------------

    @public
    async def static(self, request: web.Request) -> web.StreamResponse:
        asset = self.assets.get(request.match_info["name"])
        if asset is None:
            raise web.HTTPNotFound()
        headers = {
            "ETag": asset.etag,
            "Cache-Control": "no-cache",  # revalidated: a new version shows at the next load
            "X-Content-Type-Options": "nosniff",
        }
        if request.headers.get("If-None-Match") == asset.etag:
            return web.Response(status=304, headers=headers)
        return web.Response(
            body=asset.body, content_type=asset.content_type, charset="utf-8", headers=headers
        )
