"""Shared fixtures. Tests against real instruments are opt-in: ``--psu RESOURCE``, ``--pyrometer URL``."""

from __future__ import annotations

import os
from pathlib import Path

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


LOSSY = '[plant]\npreset = "A"\ng_fe_w_k = 0.141\nfelt_density_kg_m3 = 150\n'  # clamps x3, heat capacity x1.5


@pytest.fixture(scope="session")
def identified(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``ufs identify --sim`` once on a plant unlike the preset (LOSSY): the folder with truth.toml, plant.toml,
    plant.png and the identification's run under runs/. Read it; write elsewhere."""
    from ufs_control.cli import main

    d = tmp_path_factory.mktemp("identify")
    (d / "truth.toml").write_text(LOSSY, encoding="utf-8")
    code = main(["identify", "--sim", "--sim-plant", str(d / "truth.toml"), "--runs-dir", str(d / "runs"),
                 "--out", str(d / "plant.toml")])  # fmt: skip
    assert code == 0
    return d
