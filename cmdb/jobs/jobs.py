"""Built-in jobs."""

from __future__ import annotations

from typing import Any

from .registry import JobContext, job


@job("jobs.echo")
def echo(ctx: JobContext, *, message: str = "hello", fail: bool = False) -> dict[str, Any]:
    """Log a message (and optionally fail): checks a worker end to end, e.g. ``cmdb job run jobs.echo``."""
    ctx.log(message)
    if fail:
        raise RuntimeError(f"asked to fail: {message}")
    return {"message": message}
