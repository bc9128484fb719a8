"""The session guard and the security headers, for every path: pages, the admin and the REST API.

What a logged-in session may reach is decided here once, so that no path (a new app, the
admin, the API used through the browser's session) can forget it:

1. **Absolute lifetime.** A session ends ``SESSION_COOKIE_AGE`` seconds after its login,
   however active it is; Django alone would extend it with every write to the session.
2. **Idle expiry.** A session ends after ``SESSION_IDLE_TIMEOUT`` seconds without a request.
3. **Second factor.** The session of a user who must use MFA (:func:`cmdb.ui.mfa.mfa_required`)
   and has not completed it in this session reaches only enrolment and logout.

Pages answer with a redirect (to the login or the enrolment page); the APIs (paths under
``/api/``, and ``/graphql/`` except the GraphiQL page a browser opens there) answer JSON: 401 for
an ended session, 403 with ``"code": "mfa_required"`` for a missing second factor.  A request to
an API that carries an API token (``Authorization: Token …``) is decided by the token alone
(:mod:`cmdb.users.authentication`): tokens hold no session, and whether a token may be created
at all is checked when it is created (:mod:`cmdb.users.services`).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import logout
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.http import urlencode

from cmdb.users.authentication import has_token_header

from . import mfa

#: Tight by default: everything from our own origin, no inline scripts, no frames.
DEFAULT_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'"
)
#: Pages that stay reachable while an enrolment is enforced.
_EXEMPT_NAMES = ("ui:mfa", "ui:logout", "ui:login", "ui:login_verify")
#: Session keys: when the user logged in, and when the session was last used (both Unix seconds).
AUTH_TIME = "auth_time"
LAST_SEEN = "ui_last_seen"
#: The last-seen stamp is rewritten at most this often, so that most requests do not save the session.
_SEEN_RESOLUTION = 60


def session_started(sender: Any, request: HttpRequest, user: Any, **kwargs: Any) -> None:
    """``user_logged_in`` receiver: stamp the login time that the absolute lifetime counts from."""
    session = getattr(request, "session", None)
    if session is not None:
        now = int(time.time())
        session[AUTH_TIME] = now
        session[LAST_SEEN] = now


def csp_with(style_sources: str = "", extra: str = "") -> str:
    """The site's policy with more ``style-src`` sources (a nonce, hashes) and extra directives, for one page."""
    csp = getattr(settings, "CONTENT_SECURITY_POLICY", DEFAULT_CSP)
    if style_sources:
        csp = csp.replace("style-src 'self'", f"style-src 'self' {style_sources}")
    return f"{csp}; {extra}" if extra else csp


def _is_page(request: HttpRequest, response: HttpResponse) -> bool:
    if not request.path.startswith("/api/"):
        return True
    return response.get("Content-Type", "").startswith("text/html")


class SessionSecurityMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response
        self.csp = getattr(settings, "CONTENT_SECURITY_POLICY", DEFAULT_CSP)

    def __call__(self, request: HttpRequest) -> HttpResponse:
        early = None if request.path.startswith("/static/") else self._guard(request)
        response = early or self.get_response(request)
        # Every page, the API's HTML pages too (its docs, the browsable API); the API's JSON needs none.
        if self.csp and _is_page(request, response) and "Content-Security-Policy" not in response:
            # Django's admin sets a few inline styles (e.g. hidden widgets); our pages need none.
            admin = request.path.startswith("/admin/")
            response["Content-Security-Policy"] = (
                self.csp.replace("style-src 'self'", "style-src 'self' 'unsafe-inline'") if admin else self.csp
            )
        response.setdefault("Permissions-Policy", "camera=(), microphone=(), geolocation=()")
        return response

    @staticmethod
    def _api(request: HttpRequest) -> bool:
        if request.path.startswith("/api/"):
            return True
        if request.path.startswith("/graphql/"):
            from cmdb.graphql.views import wants_graphiql

            return not wants_graphiql(request)
        return False

    def _guard(self, request: HttpRequest) -> HttpResponse | None:
        api = self._api(request)
        if api and has_token_header(request):
            return None
        user = getattr(request, "user", None)
        if user is None or not user.is_authenticated:
            return None
        ended = self._ended(request)
        if ended:
            logout(request)
            if api:
                response = JsonResponse({"detail": f"{ended} Log in again.", "code": "session_expired"}, status=401)
                response["WWW-Authenticate"] = "Token"
                return response
            messages.info(request, f"{ended} Please log in again.")
            return redirect(f"{reverse('ui:login')}?{urlencode({'next': request.get_full_path()})}")
        if not mfa.mfa_required(user) or user.is_verified():
            return None
        if request.path in {reverse(name) for name in _EXEMPT_NAMES}:
            return None
        enrolled = mfa.has_device(user)
        if api:
            detail = ("This session was opened without your second factor: log out and log in again with your "
                      "code." if enrolled else
                      "Your account must use two-factor authentication: set it up at /user/security/ first.")
            return JsonResponse({"detail": detail, "code": "mfa_required"}, status=403)
        if request.method == "GET":
            messages.warning(request, "This session was opened without your second factor: log out and log in "
                             "again with your code." if enrolled else
                             "Your group requires two-factor authentication: set it up to continue.")
        return redirect("ui:mfa")

    @staticmethod
    def _ended(request: HttpRequest) -> str | None:
        """Why the session is over (absolute lifetime or idleness), or None; refreshes the last-seen stamp."""
        session = request.session
        now = int(time.time())
        started = session.get(AUTH_TIME)
        if not isinstance(started, int) or now - started > settings.SESSION_COOKIE_AGE:
            return "Your session reached its maximum lifetime."
        idle = getattr(settings, "SESSION_IDLE_TIMEOUT", 0)
        last = session.get(LAST_SEEN, now)
        if idle and now - last > idle:
            return "Your session expired after inactivity."
        if now - last >= _SEEN_RESOLUTION or LAST_SEEN not in session:
            session[LAST_SEEN] = now
        return None
