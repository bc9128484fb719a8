"""``/api/ansible/inventory/``: the whole inventory in one response, for the ``cmdb`` inventory plugin.

One request instead of NetBox's paginated device/VM/IP/context requests is what
keeps 10,000 hosts in seconds; the result is limited to what the token's user may see.
"""

from __future__ import annotations

from typing import Any

from rest_framework.permissions import BasePermission
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from ..inventory import build_inventory, host_vars


class _Authenticated(BasePermission):
    def has_permission(self, request: Any, view: Any) -> bool:
        return bool(getattr(request.user, "is_authenticated", False))


class InventoryView(APIView):
    """GET → Ansible ``--list`` JSON; ``?host=NAME`` → that host's variables."""

    permission_classes = [_Authenticated]

    def get(self, request: Request) -> Response:
        host = request.query_params.get("host")
        if host:
            return Response(host_vars(host, user=request.user))
        return Response(build_inventory(user=request.user))
