"""Log in (password, then a TOTP or recovery code when the user has one), log out, MFA enrolment."""

from __future__ import annotations

import time

from django import forms
from django.contrib import messages
from django.contrib.auth import authenticate, get_user_model, login, logout
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_POST
from django_otp import login as otp_login
from django_otp import match_token
from django_otp.plugins.otp_totp.models import TOTPDevice

from cmdb.users.directory import DirectoryUnavailable

from .. import mfa, ratelimit

PENDING = "ui_mfa_pending"
PENDING_TTL = 300


class LoginForm(forms.Form):
    username = forms.CharField(max_length=150, widget=forms.TextInput(attrs={"autofocus": True,
                                                                              "autocomplete": "username"}))
    password = forms.CharField(widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}))


class CodeForm(forms.Form):
    code = forms.CharField(
        label="Authentication code", max_length=16,
        help_text="The 6-digit code from your authenticator app, or one of your recovery codes.",
        widget=forms.TextInput(attrs={"autofocus": True, "autocomplete": "one-time-code", "inputmode": "numeric"}),
    )


def _next_url(request: HttpRequest) -> str:
    target = request.POST.get("next") or request.GET.get("next") or ""
    if target and url_has_allowed_host_and_scheme(target, {request.get_host()}, require_https=request.is_secure()):
        return target
    return "/"


def _blocked(request: HttpRequest, form: forms.Form, template: str) -> HttpResponse:
    form.add_error(None, "Too many failed attempts. Try again in a few minutes.")
    return render(request, template, {"form": form}, status=429)


@sensitive_post_parameters("password")
@never_cache
def login_view(request: HttpRequest) -> HttpResponse:
    form = LoginForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        username = form.cleaned_data["username"]
        if not ratelimit.attempt(request, username):
            return _blocked(request, form, "ui/login.html")
        try:
            user = authenticate(request, username=username, password=form.cleaned_data["password"])
        except DirectoryUnavailable:
            # Logged in full by the backend; the person learns it is not their password (local accounts still work).
            form.add_error(None, DirectoryUnavailable.message)
            return render(request, "ui/login.html", {"form": form, "next": _next_url(request)}, status=503)
        if user is None:
            form.add_error(None, "Wrong user name or password.")
        elif mfa.has_device(user):
            request.session.cycle_key()
            request.session[PENDING] = {"uid": user.pk, "backend": user.backend, "t": time.time(),
                                        "next": _next_url(request)}
            return redirect("ui:login_verify")
        else:
            ratelimit.succeeded(request, username)
            login(request, user)
            return redirect(_next_url(request))
    return render(request, "ui/login.html", {"form": form, "next": _next_url(request)})


def admin_login(request: HttpRequest, extra_context: object = None) -> HttpResponse:
    """Replaces ``admin.site.login``: one login page (with MFA and rate limit) for the whole product."""
    from django.urls import reverse
    from django.utils.http import urlencode

    target = request.GET.get("next") or reverse("admin:index")
    if request.user.is_authenticated:
        if request.user.is_staff:
            return redirect(target)
        messages.error(request, "Your account has no access to the administration.")
        return redirect("/")
    return redirect(f"{reverse('ui:login')}?{urlencode({'next': target})}")


@sensitive_post_parameters("code")
@never_cache
def login_verify(request: HttpRequest) -> HttpResponse:
    """Second step: the password was right; a code from one of the user's devices completes the login."""
    pending = request.session.get(PENDING)
    if not pending or time.time() - pending["t"] > PENDING_TTL:
        request.session.pop(PENDING, None)
        messages.warning(request, "Please log in again.")
        return redirect("ui:login")
    user = get_user_model().objects.filter(pk=pending["uid"], is_active=True).first()
    if user is None:
        request.session.pop(PENDING, None)
        return redirect("ui:login")
    form = CodeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        if not ratelimit.attempt(request, user.get_username()):
            return _blocked(request, form, "ui/login_verify.html")
        device = match_token(user, form.cleaned_data["code"].strip())
        if device is None:
            form.add_error("code", "This code is not valid.")
        else:
            ratelimit.succeeded(request, user.get_username(), attempts=2)  # the password and this code
            del request.session[PENDING]
            user.backend = pending["backend"]
            login(request, user)
            otp_login(request, device)
            return redirect(pending.get("next") or "/")
    return render(request, "ui/login_verify.html", {"form": form})


@require_POST
def logout_view(request: HttpRequest) -> HttpResponse:
    logout(request)
    messages.info(request, "You have been logged out.")
    return redirect("ui:login")


@login_required
@never_cache
def mfa_view(request: HttpRequest) -> HttpResponse:
    """Enrol a TOTP authenticator (QR code), confirm it, regenerate recovery codes or turn MFA off."""
    user = request.user
    action = request.POST.get("action") if request.method == "POST" else None
    codes: list[str] | None = None
    form = CodeForm(request.POST if action == "confirm" else None)
    enrolled = TOTPDevice.objects.filter(user=user, confirmed=True).exists()
    if enrolled and not user.is_verified() and action in ("start", "confirm"):
        # Replacing the authenticator needs the current one: else a stolen password and a session
        # opened before the enrolment would be enough to take the second factor over.
        messages.error(request, "Log in with your current code before setting up another authenticator.")
        action = None
    if action == "start":
        mfa.totp_start(user)
    elif action == "confirm" and form.is_valid():
        device = TOTPDevice.objects.filter(user=user, confirmed=False).first()
        codes = mfa.totp_confirm(device, form.cleaned_data["code"]) if device else None
        if codes is None:
            form.add_error("code", "This code is not valid; check the time on your phone and try again.")
        else:
            request.session.cycle_key()  # the session gains the second factor: give it a new id, as a login does
            otp_login(request, device)
            messages.success(request, "Two-factor authentication is on. Keep your recovery codes safe.")
    elif action == "recovery" and user.is_verified():
        codes = mfa.recovery_codes_regenerate(user)
    elif action == "disable" and user.is_verified():
        if mfa.mfa_required(user):
            messages.error(request, "Your group requires two-factor authentication; it cannot be turned off.")
        else:
            mfa.mfa_disable(user)
            messages.success(request, "Two-factor authentication is off.")
    pending = TOTPDevice.objects.filter(user=user, confirmed=False).first()
    context = {
        "enabled": TOTPDevice.objects.filter(user=user, confirmed=True).exists(),
        "verified": user.is_verified(),
        "required": mfa.mfa_required(user),
        "pending": pending,
        "qr": mfa.qr_svg(pending.config_url) if pending else None,
        "form": form,
        "codes": codes,
    }
    return render(request, "ui/mfa.html", context)
