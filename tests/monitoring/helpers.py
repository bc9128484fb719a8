"""Reading /metrics the way Prometheus does (prometheus_client's own text parser)."""

from __future__ import annotations

from typing import Any

from prometheus_client.parser import text_string_to_metric_families


def body(response: Any) -> str:
    content = b"".join(response.streaming_content) if response.streaming else response.content
    return content.decode()


def samples(text: str, name: str) -> list[Any]:
    """All samples of the family ``name`` (counters: ``name`` without ``_total``)."""
    found = []
    for family in text_string_to_metric_families(text):
        if family.name == name:
            found.extend(family.samples)
    return found
