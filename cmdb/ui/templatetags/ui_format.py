"""``{% load ui_format %}``: ``{{ job.finished|when }}`` and ``<span class="{{ job.status|badge }}">``."""

from __future__ import annotations

from typing import Any

from django import template

from cmdb.ui.format import badge_class, format_when

register = template.Library()


@register.filter
def when(value: Any) -> str:
    """The UI's one date format (:func:`cmdb.ui.format.format_when`)."""
    return format_when(value)


@register.filter
def badge(value: Any) -> str:
    """The CSS classes of a status badge coloured by outcome (:func:`cmdb.ui.format.badge_class`)."""
    return badge_class(value)
