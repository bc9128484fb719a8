"""OpenAPI generation: the parameters every model endpoint takes besides its filters.

drf-spectacular lists the filters (from the filter sets, custom-field filters included, see
:meth:`cmdb.api.filters.CMDBFilterBackend.get_filterset_class`), ``ordering`` and the pagination;
the representation switches (``brief``, ``fields``, ``exclude``) and ``format`` are ours, and tools
read the parameter list to learn what they may send (the Ansible inventory drops a filter that
is not listed).
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.openapi import AutoSchema
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter

_REPRESENTATION = [
    OpenApiParameter("brief", OpenApiTypes.BOOL, description="Short form of each object (id, url, display, ...)."),
    OpenApiParameter("fields", OpenApiTypes.STR,
                     description="Only these fields, comma-separated or repeated (e.g. fields=id,name)."),
    OpenApiParameter("exclude", OpenApiTypes.STR,
                     description="Leave these fields out, comma-separated or repeated (e.g. exclude=config_context)."),
]
_FORMAT = OpenApiParameter("format", OpenApiTypes.STR, enum=["json", "api"],
                           description="json (the default for API clients) or api (the browsable HTML page).")


class CMDBAutoSchema(AutoSchema):
    def get_override_parameters(self) -> list[Any]:
        params = list(super().get_override_parameters())
        from .viewsets import CMDBModelViewSet

        if isinstance(self.view, CMDBModelViewSet) and self.method == "GET":
            params += _REPRESENTATION
            if self._is_list_view():
                params.append(_FORMAT)
        return params
