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
import hashlib
import hmac
import html
import ipaddress
import json
import re
import secrets
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import structlog
from aiohttp import web

from callcenter.web.auth import (
    MAX_TOKEN_LENGTH,
    SESSION_COOKIE,
    SESSION_MAX_SECONDS,
    Principal,
    Session,
    SessionStore,
    TokenStore,
    TooManySessions,
    hash_token,
    public,
    same_origin,
)
from callcenter.web.deps import ApiDeps
from callcenter.web.live import LIVE_HUB

log = structlog.get_logger("callcenter.web")

STATIC = Path(__file__).resolve().parent / "static"
LANGS = ("ja", "en")
DEFAULT_LANG = "ja"  # the users are Japanese government staff
LANG_COOKIE = "cc_lang"
LOGIN_COOKIE = "cc_login"
LOGIN_NONCE_SECONDS = 3600
# Login forms handed out and not yet posted: past this many the oldest form must be
# loaded again (a flood of GET /login cannot grow the daemon's memory without bound).
LOGIN_NONCE_LIMIT = 10_000
MAX_FORM_BYTES = 4096
# What /static serves: a fixed list, read once at start (no path from a request ever
# reaches the file system).
ASSETS: Mapping[str, str] = {
    "style.css": "text/css",
    "common.js": "text/javascript",
    "wallboard.js": "text/javascript",
    "console.js": "text/javascript",
}
TEMPLATES = ("login.html", "wallboard.html", "console.html", "message.html")
# Where a login may lead: only our own pages (no open redirect).
NEXT_PAGES = ("/wallboard", "/console")
AGENT_ID = re.compile(r"^[A-Za-z0-9_.-]{1,40}$")

# Scripts and styles only from this origin: a caller's name that slipped past the
# escaping could still run nothing. connect-src 'self' covers the websocket (same host).
SECURITY_HEADERS: Mapping[str, str] = {
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    ),
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    # Not no-referrer: with it Chrome sends "Origin: null" on the pages' own form posts.
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",  # a page holds its session's CSRF token
}

FORWARDED_PROTO = "X-Forwarded-Proto"
Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def proxy_networks(proxies: tuple[str, ...]) -> tuple[Network, ...]:
    """``[http] trusted_proxies`` as networks (a lone address is a /32 or /128)."""
    return tuple(ipaddress.ip_network(p, strict=False) for p in proxies)


def is_https(request: web.Request, trusted: tuple[Network, ...]) -> bool:
    """Did the browser reach us over TLS? A direct TLS connection; or the request came from
    a trusted proxy (the TLS one in front) and it says so in X-Forwarded-Proto. The header
    of any other peer is ignored: anyone can send it. Of several values the last counts,
    the one the proxy next to us set (the earlier ones came from further out)."""
    if request.secure:
        return True
    if not trusted or request.remote is None:
        return False
    try:
        peer = ipaddress.ip_address(request.remote)
    except ValueError:
        return False  # not an IP peer (a unix socket): no proxy of ours
    if isinstance(peer, ipaddress.IPv6Address) and peer.ipv4_mapped is not None:
        peer = peer.ipv4_mapped
    if not any(peer in net for net in trusted):
        return False
    values = [v for h in request.headers.getall(FORWARDED_PROTO, []) for v in h.split(",")]
    return bool(values) and values[-1].strip().lower() == "https"


_PLACEHOLDER = re.compile(r"\{\{(t:)?([a-z0-9_.]+)\}\}")


def see_other(location: str) -> web.Response:
    """A 303 that can carry cookies (raising aiohttp's HTTPSeeOther cannot, cleanly)."""
    return web.Response(status=303, headers={"Location": location})


def load_strings() -> dict[str, dict[str, str]]:
    """Every language's strings; each file must have exactly the same keys."""
    strings = {
        lang: json.loads((STATIC / "i18n" / f"{lang}.json").read_text(encoding="utf-8"))
        for lang in LANGS
    }
    keys = {lang: set(s) for lang, s in strings.items()}
    for lang in LANGS:
        if keys[lang] != keys[DEFAULT_LANG]:
            missing = sorted(keys[DEFAULT_LANG] ^ keys[lang])
            raise ValueError(f"i18n/{lang}.json: keys differ from {DEFAULT_LANG}.json: {missing}")
    return strings


def choose_lang(query: str | None, cookie: str | None, accept_language: str | None) -> str:
    """?lang=, else the language chosen before (cookie), else the browser's, else ja."""
    for given in (query, cookie):
        if given in LANGS:
            return given
    best, best_q = DEFAULT_LANG, 0.0
    for part in (accept_language or "").split(",")[:20]:
        tag, _, params = part.strip().partition(";")
        q = 1.0
        for param in params.split(";"):
            name, _, value = param.strip().partition("=")
            if name == "q":
                try:
                    q = float(value)
                except ValueError:
                    q = 0.0
        primary = tag.strip().lower().split("-")[0]
        if primary in LANGS and q > best_q:
            best, best_q = primary, q
    return best


def script_json(data: Any) -> str:
    """JSON safe inside <script type="application/json">: no "</script>" can end it."""
    text = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


@dataclass(frozen=True)
class Template:
    name: str
    text: str

    def keys(self) -> set[str]:
        return {m.group(2) for m in _PLACEHOLDER.finditer(self.text) if m.group(1)}

    def render(self, strings: Mapping[str, str], values: Mapping[str, str]) -> str:
        """``{{t:key}}``: a string of the language; ``{{name}}``: a value. Both escaped
        for HTML, except ``page_data`` (JSON already made safe for its script block)."""

        def fill(m: re.Match[str]) -> str:
            key = m.group(2)
            if m.group(1):
                return html.escape(strings[key])
            if key == "page_data":
                return values[key]
            return html.escape(values[key])

        return _PLACEHOLDER.sub(fill, self.text)


@dataclass(frozen=True)
class Asset:
    body: bytes
    content_type: str
    etag: str


def load_assets() -> dict[str, Asset]:
    assets = {}
    for name, ctype in ASSETS.items():
        body = (STATIC / name).read_bytes()
        assets[name] = Asset(body, ctype, '"' + hashlib.sha256(body).hexdigest()[:32] + '"')
    return assets


class LoginNonces:
    """The login forms' nonces, each good for one post within ``seconds`` of its form.

    A nonce is only in the form and in a SameSite=Strict cookie (login CSRF), and it is
    kept here (by its hash) until a login post uses it up, right or wrong: one login
    form cannot be posted again and again."""

    def __init__(
        self,
        *,
        seconds: float = LOGIN_NONCE_SECONDS,
        limit: int = LOGIN_NONCE_LIMIT,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.seconds = seconds
        self.limit = limit
        self.clock = clock
        self._issued: OrderedDict[str, float] = OrderedDict()  # hash -> when, oldest first

    def __len__(self) -> int:
        return len(self._issued)

    def issue(self) -> str:
        now = self.clock()
        while self._issued:
            key, at = next(iter(self._issued.items()))
            if now - at <= self.seconds and len(self._issued) < self.limit:
                break
            del self._issued[key]
        nonce = secrets.token_urlsafe(24)
        self._issued[hash_token(nonce)] = now
        return nonce

    def use(self, nonce: str) -> bool:
        """True once for a nonce this store issued (within its time); False after."""
        if not nonce or len(nonce) > MAX_TOKEN_LENGTH:
            return False
        at = self._issued.pop(hash_token(nonce), None)
        return at is not None and self.clock() - at <= self.seconds


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
        session = self.sessions.get(session_id)
        if session is None:
            return None
        who = await asyncio.to_thread(self.tokens.active_principal, session.token_id)
        if who is None:
            self.sessions.drop(session_id)
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
        self.sessions.drop(request.cookies.get(SESSION_COOKIE))  # a new login, a new id
        try:
            session_id, _ = self.sessions.create(record.principal(), record.id)
        except TooManySessions as exc:
            log.warning("web.login_refused_sessions_full", role=record.role, why=str(exc))
            return self._login_page(request, lang, 503, "login.error_busy")
        log.info("web.login", name=record.name, role=record.role, agent=record.agent_id)
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
        session = self.sessions.get(session_id)
        if session is not None:
            form = await self._form(request)
            given = form.get("csrf") or request.headers.get("X-CSRF-Token") or ""
            if not same_origin(request) or not hmac.compare_digest(
                given.encode(), session.csrf.encode()
            ):
                log.warning("web.logout_csrf_refused")
                return self._message(request, lang, 403, "error.csrf")
            self.sessions.drop(session_id)
            log.info("web.logout", name=session.principal.name)
            hub = request.app.get(LIVE_HUB)
            if hub is not None:
                await hub.revalidate()  # this session's live pages stop now
        resp = see_other("/login")
        resp.del_cookie(SESSION_COOKIE, path="/")
        return resp

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
