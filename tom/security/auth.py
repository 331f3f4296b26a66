"""Operator access to the dashboard, the API, the event stream and the browser call socket.

`auth_middleware(settings)` guards every route except the ones with their own checks
(/healthz, /readyz, /metrics, /twilio/*). It accepts a bearer token (`Authorization: Bearer`
or `?token=` for EventSource/WebSocket, which cannot set headers) or a session cookie from
`POST /api/login`. The middleware answers /api/login, /api/logout and /api/session itself,
so wiring it is one line. With no credentials on a loopback address nothing is guarded.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import time
from collections.abc import Callable
from typing import Any

import structlog
from aiohttp import web
from aiohttp.typedefs import Handler, Middleware

from tom.config import Settings
from tom.security.login_page import login_page
from tom.security.passwords import hash_password, verify_password
from tom.security.ratelimit import RateLimiter
from tom.security.sessions import SessionStore
from tom.security.startup import auth_required, check_startup, is_loopback

__all__ = ["OperatorAuth", "auth_middleware", "check_startup", "hash_password",
           "is_loopback", "verify_password"]

log = structlog.get_logger(__name__)

COOKIE = "tom_session"
LOGIN, LOGOUT, SESSION = "/api/login", "/api/logout", "/api/session"
# Routes that stay open: probes and metrics (nothing personal in them) and Twilio, which
# checks its own webhook signature and stream token.
OPEN_ROUTES = frozenset({"/healthz", "/readyz", "/metrics"})
OPEN_PREFIXES = ("/twilio/",)
SECURITY_HEADERS = {"X-Content-Type-Options": "nosniff", "X-Frame-Options": "DENY",
                    "Referrer-Policy": "no-referrer"}
UNAUTHORIZED = ("sign in at / or send `Authorization: Bearer <auth.token>` "
                "(or ?token=<auth.token> for EventSource and WebSocket)")


def _same(given: str, expected: str) -> bool:
    """Constant-time string equality; an empty expected value never matches."""
    if not expected:
        return False
    return hmac.compare_digest(given.encode("utf-8", "surrogatepass"),
                               expected.encode("utf-8", "surrogatepass"))


def _route_path(request: web.Request) -> str | None:
    """The matched route's path pattern, so the check agrees with the router, not raw text."""
    resource = request.match_info.route.resource
    return None if resource is None else resource.canonical


def is_open_route(request: web.Request) -> bool:
    path = _route_path(request)
    return path is not None and (path in OPEN_ROUTES or path.startswith(OPEN_PREFIXES))


class OperatorAuth:
    """Who may see the dashboard: credential checks, login sessions and the middleware."""

    def __init__(self, settings: Settings, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.settings = settings
        self.required = auth_required(settings)
        self.token = settings.auth.token
        self.password_hash = settings.auth.operator_password_hash
        self.sessions = SessionStore(settings.auth.session_hours * 3600, clock=clock)
        self.login_limiter = RateLimiter(settings.auth.login_attempts_per_min, clock=clock)

    # --- credentials ---------------------------------------------------------------------------

    def authenticated(self, request: web.Request) -> str | None:
        """How the request proved itself ("bearer", "query", "session"), or None."""
        scheme, _, value = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() == "bearer" and _same(value.strip(), self.token):
            return "bearer"
        if "token" in request.query and _same(request.query["token"], self.token):
            return "query"
        if self.sessions.valid(request.cookies.get(COOKIE, "")):
            return "session"
        return None

    # --- middleware ----------------------------------------------------------------------------

    @web.middleware
    async def middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.path in (LOGIN, LOGOUT, SESSION):
            response: web.StreamResponse = await self._auth_endpoint(request)
        elif not self.required or is_open_route(request) or self.authenticated(request):
            response = await handler(request)
        else:
            response = self._refuse(request)
        if not response.prepared:
            for name, value in SECURITY_HEADERS.items():
                response.headers.setdefault(name, value)
        return response

    def _refuse(self, request: web.Request) -> web.Response:
        wants_page = (request.method in ("GET", "HEAD") and request.path == "/"
                      or "text/html" in request.headers.get("Accept", "")
                      and not request.path.startswith(("/api/", "/ws/")))
        headers = {"WWW-Authenticate": 'Bearer realm="TOM"', "Cache-Control": "no-store"}
        if wants_page:
            return web.Response(text=login_page(bool(self.password_hash)),
                                content_type="text/html", status=401, headers=headers)
        return web.json_response({"error": f"not signed in: {UNAUTHORIZED}"}, status=401,
                                 headers=headers)

    async def _auth_endpoint(self, request: web.Request) -> web.Response:
        allowed = {LOGIN: "POST", LOGOUT: "POST", SESSION: "GET"}[request.path]
        if request.method != allowed and not (allowed == "GET" and request.method == "HEAD"):
            return web.json_response({"error": f"use {allowed} {request.path}"}, status=405,
                                     headers={"Allow": allowed})
        if request.path == LOGIN:
            return await self.login(request)
        if request.path == LOGOUT:
            return self.logout(request)
        return web.json_response({"auth_required": self.required,
                                  "authenticated": bool(self.authenticated(request)),
                                  "login": "password" if self.password_hash
                                  else "token" if self.token else None})

    # --- login / logout ------------------------------------------------------------------------

    async def login(self, request: web.Request) -> web.Response:
        """`{"password": ...}` or `{"token": ...}` → a session cookie (HttpOnly, SameSite=Strict)."""
        peer = request.remote or "unknown"
        if not (self.password_hash or self.token):
            return web.json_response({"error": "no operator credentials are configured, so "
                                      "there is nothing to sign in to"}, status=400)
        if not self.login_limiter.allow(peer):
            log.warning("login refused: too many attempts", peer=peer)
            retry = max(1, round(self.login_limiter.retry_after_s(peer)))
            return web.json_response({"error": f"too many sign-in attempts; wait {retry} s"},
                                     status=429, headers={"Retry-After": str(retry)})
        body = await _json_body(request)
        if body is None:
            return web.json_response({"error": 'send JSON {"password": "..."}'}, status=400)
        if not await self._check_secret(body):
            log.warning("login failed", peer=peer)
            return web.json_response({"error": "wrong password or token"}, status=401)
        session = self.sessions.create()
        response = web.json_response({"ok": True})
        response.set_cookie(COOKIE, session, max_age=int(self.sessions.ttl_s), path="/",
                            httponly=True, samesite="Strict", secure=_is_https(request))
        log.info("operator signed in", peer=peer)
        return response

    async def _check_secret(self, body: dict[str, Any]) -> bool:
        password, token = body.get("password"), body.get("token")
        if isinstance(token, str) and _same(token, self.token):
            return True
        if isinstance(password, str) and password and self.password_hash:
            # PBKDF2 takes ~0.5 s by design: keep it off the loop that paces call audio.
            return await asyncio.to_thread(verify_password, password, self.password_hash)
        return False

    def logout(self, request: web.Request) -> web.Response:
        self.sessions.revoke(request.cookies.get(COOKIE, ""))
        response = web.json_response({"ok": True})
        response.del_cookie(COOKIE, path="/")
        return response


def auth_middleware(settings: Settings, *,
                    clock: Callable[[], float] = time.monotonic) -> Middleware:
    """The aiohttp middleware guarding operator routes (see the module docstring)."""
    return OperatorAuth(settings, clock=clock).middleware


async def _json_body(request: web.Request) -> dict[str, Any] | None:
    try:
        data = json.loads(await request.text())
    except (ValueError, UnicodeDecodeError):
        return None
    return data if isinstance(data, dict) else None


def _is_https(request: web.Request) -> bool:
    return request.secure or request.headers.get("X-Forwarded-Proto", "").lower() == "https"
