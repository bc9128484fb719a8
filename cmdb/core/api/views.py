from rest_framework.exceptions import ValidationError
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from cmdb.api.pagination import query_int
from cmdb.api.viewsets import ReadOnlyCMDBViewSet

from ..filtersets import ConfigurationItemFilterSet, ObjectChangeFilterSet
from ..models import ConfigurationItem, ObjectChange
from ..search import search
from .serializers import ConfigurationItemSerializer, ObjectChangeSerializer


class ObjectChangeViewSet(ReadOnlyCMDBViewSet):
    """The change log; read-only because it is append-only and hash-chained."""

    queryset = ObjectChange.objects.all()
    serializer_class = ObjectChangeSerializer
    filterset_class = ObjectChangeFilterSet


class ConfigurationItemViewSet(ReadOnlyCMDBViewSet):
    """The CI registry across all kinds; the typed endpoints are where CIs are edited."""

    queryset = ConfigurationItem.objects.all().order_by("kind", "name", "id")
    serializer_class = ConfigurationItemSerializer
    filterset_class = ConfigurationItemFilterSet


class SearchView(APIView):
    """``GET /api/core/search/?q=text``: every object kind, only what the caller may see."""

    _ignore_model_permissions = True

    def get(self, request: Request) -> Response:
        text = request.query_params.get("q", "")
        if not text.strip():
            raise ValidationError({"q": ["Give a search text."]})
        limit = min(query_int(request.query_params, "limit", 25) or 0, 200)
        hits = search(request.user, text, limit_per_type=limit)
        results = [
            {"object_type": h.object_type, "id": h.id, "display": h.display,
             "url": request.build_absolute_uri(h.url) if h.url else None}
            for h in hits
        ]
        return Response({"count": len(results), "results": results})
