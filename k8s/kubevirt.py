"""Where the handoff of other domains' objects lived while only KubeVirt pools used it: now :mod:`k8s.handoff`.

Kept as an import path for code and tests written against it (``from k8s.kubevirt import objects_published``);
everything here is the same object as in :mod:`k8s.handoff`.
"""

from __future__ import annotations

from .handoff import HANDED_OVER, OWNER_LABEL, Item, handle, held_objects, objects_published

__all__ = ["HANDED_OVER", "OWNER_LABEL", "Item", "handle", "held_objects", "objects_published"]
