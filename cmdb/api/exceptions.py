"""Turn every error into JSON with the right 4xx code; a 5xx for input is a bug."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import DataError, IntegrityError
from django.db.models import ProtectedError, RestrictedError
from django.http import Http404
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_handler


def django_errors(exc: DjangoValidationError) -> Any:
    if hasattr(exc, "error_dict"):
        out: dict[str, list[str]] = {}
        for field, errs in exc.message_dict.items():
            key = {"__all__": "non_field_errors", "custom_field_data": "custom_fields"}.get(field, field)
            out.setdefault(key, []).extend(errs)
        return out
    return {"non_field_errors": exc.messages}


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    if isinstance(exc, DjangoValidationError):
        return Response(django_errors(exc), status=status.HTTP_400_BAD_REQUEST)
    if isinstance(exc, (ProtectedError, RestrictedError)):
        # Django's message names the relation that blocks ("... referenced through protected
        # foreign keys: 'Device.site'."); the objects that block follow, by name.  Nothing was deleted.
        blocking = sorted({str(o) for o in list(exc.args[1])[:10]}) if len(exc.args) > 1 else []
        reason = str(exc.args[0]) if exc.args else ""
        return Response(
            {"detail": f"Unable to delete: other objects depend on it; nothing was deleted. {reason}".strip(),
             "dependent_objects": blocking},
            status=status.HTTP_409_CONFLICT,
        )
    if isinstance(exc, DataError):
        # A value the database cannot store or compare (out of range, not encodable): the client's input.
        return Response(
            {"detail": f"The database rejected a value: {str(exc).splitlines()[0][:300]}"},
            status=status.HTTP_400_BAD_REQUEST,
        )
    if isinstance(exc, IntegrityError):
        return Response(
            {"detail": f"The change conflicts with stored data: {str(exc).splitlines()[0][:300]}"},
            status=status.HTTP_409_CONFLICT,
        )
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    response = drf_handler(exc, context)
    return response
