"""The VDI domain's answers to the core's hooks (:mod:`cmdb.core.hooks`), connected when the app is ready.

- ``licence_consumption_requested``: the seats the pools' desktops use now, for the compliance
  report's VDI column (:func:`vdi.licences.consumption`).
"""

from __future__ import annotations

from typing import Any

from cmdb.core import hooks

SOURCE = {"source": "vdi", "label": "VDI"}


def licence_consumption(sender: Any = None, *, products: set[int], **kwargs: Any) -> dict[str, Any]:
    """The VDI column of the compliance report (there, with zeros, whenever the domain is installed)."""
    from .licences import consumption

    return {**SOURCE, "rows": consumption(set(products))}


def connect() -> None:
    hooks.licence_consumption_requested.connect(licence_consumption, dispatch_uid="vdi.licence_consumption")
