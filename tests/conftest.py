"""Shared fixtures. Tests against real instruments are opt-in: ``--psu RESOURCE``, ``--pyrometer URL``."""

from __future__ import annotations

import os

import pytest


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--psu", default=None, help="VISA resource of a real CPX400DP (enables hardware tests)")
    parser.addoption("--pyrometer", default=None, help="URL of a real pyrometer (enables hardware tests)")


@pytest.fixture
def psu_resource(request: pytest.FixtureRequest) -> str:
    value = request.config.getoption("--psu")
    if not value:
        pytest.skip("needs a real CPX400DP: pass --psu RESOURCE")
    return str(value)


@pytest.fixture
def pyrometer_url(request: pytest.FixtureRequest) -> str:
    value = request.config.getoption("--pyrometer")
    if not value:
        pytest.skip("needs a real pyrometer: pass --pyrometer URL")
    return str(value)


os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
