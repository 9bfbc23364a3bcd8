"""Fixtures every collector test module shares."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest


@pytest.fixture
def client() -> Iterator[httpx.Client]:
    """A real HTTP client for the test's 127.0.0.1 servers, closed after the test."""
    with httpx.Client() as c:
        yield c
