"""What the pages are made of: their strings in each language, their templates and
static files, the language a request gets, and the login form's single-use nonces.
``pages`` serves them."""

from __future__ import annotations

import hashlib
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

from aiohttp import web

from callcenter.web.auth import MAX_TOKEN_LENGTH, hash_token

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
    "reports.js": "text/javascript",
}
TEMPLATES = ("login.html", "wallboard.html", "console.html", "reports.html", "message.html")
# Where a login may lead: only our own pages (no open redirect).
NEXT_PAGES = ("/wallboard", "/console", "/reports")
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
