"""Agent tests never use the network."""

from __future__ import annotations

from typing import Any

import ddgs.http_client
import pytest


@pytest.fixture(autouse=True)
def no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    """Any ddgs request is a test failure: agent tests never use the network."""

    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("a test tried to use the network")

    monkeypatch.setattr(ddgs.http_client.HttpClient, "request", refuse)
