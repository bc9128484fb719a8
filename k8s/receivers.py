"""The Kubernetes domain's answers to the core's hooks (:mod:`cmdb.core.hooks`), connected when the app is ready."""

from __future__ import annotations

from cmdb.core import hooks


def connect() -> None:
    from .kubevirt import objects_published

    hooks.kubevirt_objects_published.connect(objects_published, dispatch_uid="k8s.kubevirt")
