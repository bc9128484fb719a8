"""Every GraphQL example in docs/api.md runs and finds what it describes; the curl example runs with curl."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from .conftest import GQL

DOC = Path(__file__).resolve().parents[2] / "docs" / "api.md"


def _section() -> str:
    return DOC.read_text().split("\n## GraphQL\n", 1)[1]


def _examples() -> list[str]:
    return re.findall(r"```graphql\n(.*?)```", _section(), flags=re.DOTALL)


def _nonempty(value: Any, where: str) -> None:
    """Every list and object in the answer has something in it (the examples' filters match real data)."""
    assert value not in (None, [], {}), where
    if isinstance(value, dict):
        for key, inner in value.items():
            if isinstance(inner, list | dict) and key not in {"config_context", "interfaces", "mac_address"}:
                _nonempty(inner, f"{where}.{key}")


def test_the_examples_are_there() -> None:
    assert len(_examples()) >= 6


@pytest.mark.parametrize("index", range(6))
def test_documented_queries_run(index: int, full_world: Any, gql: GQL) -> None:
    query = _examples()[index]
    web01 = full_world.devices["web01"]
    variables = {name: value for name, value in {"id": web01.pk, "ci": [str(web01.ci_id)]}.items()
                 if f"${name}:" in query}
    data = gql.data(query, variables or None)
    _nonempty(data, "data")


@pytest.mark.skipif(shutil.which("curl") is None, reason="needs curl (apt-get install curl)")
def test_documented_curl_command(live_server: Any, transactional_db: Any, superuser: Any, make_token: Any) -> None:
    from tests.factories import world

    world()
    command = re.search(r"```sh\n(curl .*?)\n```", _section(), flags=re.DOTALL).group(1)  # type: ignore[union-attr]
    command = command.replace("http://127.0.0.1:8000", live_server.url)
    result = subprocess.run(["bash", "-c", command], env={"TOKEN": make_token(superuser, write=False), "PATH":
                                                          "/usr/bin:/bin"}, capture_output=True, text=True,
                            timeout=60, check=True)
    answer = json.loads(result.stdout)
    assert "errors" not in answer
    assert {d["name"] for d in answer["data"]["device_list"]} == {"web01", "web02", "sw01"}
    assert answer["data"]["device_list"][0]["site"]["name"]
