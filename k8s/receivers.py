"""The Kubernetes domain's answers to the core's hooks (:mod:`cmdb.core.hooks`), connected when the app is ready."""

from __future__ import annotations

from cmdb.core import hooks

#: The receivers' dispatch uids (tests disconnect them to see the CMDB without this domain).  The objects
#: hook keeps the uid it had when it was ``kubevirt_objects_published``.
OBJECTS_UID = "k8s.kubevirt"
NAMESPACES_UID = "k8s.namespaces"


def connect() -> None:
    from .handoff import objects_published
    from .volumes import namespaces_requested

    hooks.kubernetes_objects_published.connect(objects_published, dispatch_uid=OBJECTS_UID)
    hooks.kubernetes_namespaces_requested.connect(namespaces_requested, dispatch_uid=NAMESPACES_UID)
