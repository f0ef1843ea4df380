"""Opt-in checks against real instruments (``--psu RESOURCE``, ``--pyrometer URL``); read-only."""

from __future__ import annotations

from drivers.cpx400dp import Cpx400dp
from drivers.pyrometer import KtrdPyrometer
from ufs_control.core.instruments import PyrometerStatus


def test_real_supply_identifies_and_reports_its_state(psu_resource: str) -> None:
    psu = Cpx400dp.open(psu_resource)
    try:
        assert psu.identify().model == "CPX400DP"
        assert 1.0 <= psu.read_ovp(1) <= 66.0
        assert 0.0 <= psu.read_ocp(1) <= 22.0
        psu.read_limit_status(1)
        psu.read_output_state(1)
    finally:
        psu.close()


def test_real_pyrometer_answers_with_a_status(pyrometer_url: str) -> None:
    head = KtrdPyrometer.open(pyrometer_url)
    try:
        reading = head.read_temperature()
        assert reading.status is not PyrometerStatus.TIMEOUT
        assert reading.status is not PyrometerStatus.GARBLED
    finally:
        head.close()
