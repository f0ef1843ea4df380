"""``ufs sim-server`` through real sockets: the LAN socket transport (supply) and pyserial socket:// (pyrometer)."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator

import pytest

from drivers.cpx400dp import Cpx400dp
from drivers.pyrometer import KtrdPyrometer
from ufs_control.core.instruments import PyrometerStatus


@pytest.fixture
def server() -> Iterator[tuple[subprocess.Popen[str], str, str]]:
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "ufs_control",
            "sim-server",
            "--psu-port",
            "0",
            "--pyrometer-port",
            "0",
            "--speed",
            "4",
            "--fault",
            "pyro-silent@30",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    first, second = proc.stdout.readline().strip(), proc.stdout.readline().strip()
    m1 = re.fullmatch(r"psu: (TCPIP::127\.0\.0\.1::\d+::SOCKET)", first)
    m2 = re.fullmatch(r"pyrometer: (socket://127\.0\.0\.1:\d+)", second)
    assert m1 and m2, (first, second)
    yield proc, m1.group(1), m2.group(1)
    if proc.poll() is None:
        proc.kill()
        proc.wait(5)


def test_drivers_run_unchanged_against_the_socket_simulator(
    server: tuple[subprocess.Popen[str], str, str],
) -> None:
    proc, psu_resource, pyro_url = server
    psu = Cpx400dp.open(psu_resource)
    pyro = KtrdPyrometer.open(pyro_url)
    try:
        assert psu.identify().model == "CPX400DP"
        assert pyro.identify().model.startswith("KTRD")
        psu.set_ovp(1, 40.0)
        assert psu.read_ovp(1) == pytest.approx(40.0)
        psu.set_voltage_and_current(1, 30.0, 15.0)
        psu.set_output(1, True)
        deadline = time.monotonic() + 5.0
        reading = pyro.read_temperature()
        while reading.status is not PyrometerStatus.OK and time.monotonic() < deadline:
            time.sleep(0.05)
            reading = pyro.read_temperature()
        assert reading.status is PyrometerStatus.OK
        assert reading.celsius is not None and reading.celsius > 600.0
        v, i = psu.measure_output(1)
        assert v == pytest.approx(30.0, abs=0.05) and i > 5.0
        psu.set_all_outputs_off()
        assert psu.read_output_state(1) is False
    finally:
        psu.close()
        pyro.close()
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(5) == 0


def test_a_third_supply_client_is_refused(server: tuple[subprocess.Popen[str], str, str]) -> None:
    _, psu_resource, _ = server
    clients = [Cpx400dp.open(psu_resource, timeout_s=0.5) for _ in range(3)]
    try:
        assert clients[0].identify() and clients[1].identify()
        with pytest.raises(Exception):  # noqa: B017 - the connection is closed by the server
            clients[2].identify()
    finally:
        for c in clients:
            c.close()


def test_probe_pyrometer_finds_the_default_codec(server: tuple[subprocess.Popen[str], str, str]) -> None:
    _, _, pyro_url = server
    out = subprocess.run(
        [sys.executable, "-m", "ufs_control", "probe-pyrometer", pyro_url],
        capture_output=True,
        text=True,
        timeout=30,
        env={**os.environ},
    )
    assert out.returncode == 0, out.stderr
    assert re.search(r"^upp: address 00, KTRD .*600-2000 °C, reading (BELOW_RANGE|NOT_READY)", out.stdout, re.M)


def test_sim_server_exits_cleanly_on_sigint(server: tuple[subprocess.Popen[str], str, str]) -> None:
    proc, _, _ = server
    proc.send_signal(signal.SIGINT)
    assert proc.wait(5) == 0
    assert proc.stderr is not None
    assert "Traceback" not in proc.stderr.read()


def test_sim_server_refuses_a_non_loopback_host() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "ufs_control", "sim-server", "--host", "0.0.0.0", "--psu-port", "0"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert out.returncode == 2
    assert out.stderr.count("\n") == 1 and "loopback" in out.stderr
