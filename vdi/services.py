"""Write-side rules of pools: a change that would overcommit the cluster or exhaust licences is refused."""

from __future__ import annotations

import logging
from typing import Any

from django.core.exceptions import ValidationError

from . import capacity, licences
from .schedule import PoolSpec

log = logging.getLogger(__name__)


def refuse_pool_change(pool: Any) -> None:
    """Raise ValidationError naming the field when saving ``pool`` would overcommit or exceed licences."""
    if not (pool.cluster_id and pool.golden_image_id):
        return
    spec = PoolSpec.of(pool)
    errors: dict[str, list[str]] = capacity.refusals(spec)
    refused, warnings = licences.check(spec)
    if refused:
        errors.setdefault("golden_image", []).extend(refused)
    for text in warnings:
        log.warning("VDI pool %s: %s", pool.name, text)
    if errors:
        raise ValidationError(errors)
