"""Web-UI guards: enforced MFA enrolment, idle session expiry, and a Content-Security-Policy.

Paths under /api/ are left alone (tokens there, and DRF answers JSON).
"""

from __future__ import annotations

import time
from collections.abc import Callable

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import logout
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import reverse

from . import mfa

#: Tight by default: everything from our own origin, no inline scripts, no frames.
DEFAULT_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'"
)
#: Pages that stay reachable while an enrolment is enforced.
_EXEMPT_NAMES = ("ui:mfa", "ui:logout", "ui:login", "ui:login_verify")


class UISecurityMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response
        self.csp = getattr(settings, "CONTENT_SECURITY_POLICY", DEFAULT_CSP)
        self.idle = getattr(settings, "SESSION_IDLE_TIMEOUT", 0)

    def __call__(self, request: HttpRequest) -> HttpResponse:
        early = None if request.path.startswith(("/api/", "/static/")) else self._guard(request)
        response = early or self.get_response(request)
        # Swagger UI under /api/docs/ loads its own assets; the API's JSON needs no CSP.
        if self.csp and not request.path.startswith("/api/") and "Content-Security-Policy" not in response:
            response["Content-Security-Policy"] = self.csp
        response.setdefault("Permissions-Policy", "camera=(), microphone=(), geolocation=()")
        return response

    def _guard(self, request: HttpRequest) -> HttpResponse | None:
        user = getattr(request, "user", None)
        if user is None or not user.is_authenticated:
            return None
        if self.idle:
            now = int(time.time())
            last = request.session.get("ui_last_seen", now)
            if now - last > self.idle:
                logout(request)
                messages.info(request, "Your session expired after inactivity; please log in again.")
                return redirect(f"{reverse('ui:login')}?next={request.path}")
            if now - last > 60 or "ui_last_seen" not in request.session:
                request.session["ui_last_seen"] = now  # written at most once a minute
        exempt = {reverse(name) for name in _EXEMPT_NAMES}
        if request.path in exempt or not mfa.mfa_required(user):
            return None
        if user.is_verified():
            return None
        if request.method == "GET":
            messages.warning(request, "Your group requires two-factor authentication: set it up to continue.")
        return redirect("ui:mfa")
