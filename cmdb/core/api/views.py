from cmdb.api.viewsets import ReadOnlyCMDBViewSet

from ..filtersets import ConfigurationItemFilterSet, ObjectChangeFilterSet
from ..models import ConfigurationItem, ObjectChange
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
