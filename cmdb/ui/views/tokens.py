"""The "API tokens" page: everyone lists, creates and revokes their own tokens; administrators all.

The rules (whose token, read-write or not, second factor) are the services' (:mod:`cmdb.users.services`),
the same ones the API applies.
"""

from __future__ import annotations

import re
from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.cache import never_cache

from cmdb.users.authentication import second_factor_verified
from cmdb.users.models import Token, validate_future, validate_networks
from cmdb.users.services import TokenRefused, may_write_anything, token_issue, token_revoke


class TokenForm(forms.Form):
    description = forms.CharField(max_length=200, required=False)
    write_enabled = forms.BooleanField(required=False, label="Allow writes",
                                       help_text="Off: the token can only read. It never grants more than you may do.")
    expires = forms.DateTimeField(required=False, widget=forms.DateTimeInput(attrs={"type": "datetime-local"}),
                                  help_text="Empty: the token does not expire.")
    allowed_ips = forms.CharField(required=False, max_length=2000, label="Allowed networks",
                                  help_text="Only accept the token from these networks, e.g. 10.0.0.0/8 192.0.2.0/24.")

    def __init__(self, *args: Any, may_write: bool, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if not may_write:
            self.fields["write_enabled"].disabled = True
            self.fields["write_enabled"].help_text = "You may not change anything, so your tokens are read-only."

    def clean_expires(self) -> Any:
        value = self.cleaned_data["expires"]
        validate_future(value)
        return value

    def clean_allowed_ips(self) -> list[str]:
        networks = [n for n in re.split(r"[\s,]+", self.cleaned_data["allowed_ips"]) if n]
        validate_networks(networks)
        return networks


def _tokens(user: Any) -> Any:
    tokens = Token.objects.select_related("user").order_by("-created")
    return tokens if user.is_superuser else tokens.filter(user=user)


@login_required
@never_cache
def tokens_view(request: HttpRequest) -> HttpResponse:
    user = request.user
    may_write = user.is_superuser or may_write_anything(user)
    form = TokenForm(request.POST if request.POST.get("action") == "create" else None, may_write=may_write)
    key = None
    if request.method == "POST" and request.POST.get("action") == "revoke":
        pk = request.POST.get("pk", "")
        token = _tokens(user).filter(pk=int(pk)).first() if pk.isdigit() and len(pk) < 19 else None
        if token is None:
            raise Http404("No such token of yours.")
        token_revoke([token], actor=user, source="ui")
        messages.success(request, f"Token {token.key_prefix}… revoked.")
        return redirect("ui:tokens")
    if request.method == "POST" and form.is_valid():
        try:
            token, key = token_issue(actor=user, second_factor=second_factor_verified(request), source="ui",
                                     **form.cleaned_data)
        except TokenRefused as exc:
            form.add_error(None, str(exc))
        except ValidationError as exc:
            for field, errors in getattr(exc, "message_dict", {"__all__": exc.messages}).items():
                form.add_error(field if field in form.fields else None, errors)
        else:
            messages.success(request, "Token created. Copy the key now: it is shown only this once.")
            form = TokenForm(may_write=may_write)
    return render(request, "ui/tokens.html", {"form": form, "tokens": _tokens(user), "key": key,
                                              "show_owner": user.is_superuser})
