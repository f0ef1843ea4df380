"""Pyrometer driver: UPP transcripts from the reference, the codec seam, sentinels never temperatures."""

from __future__ import annotations

import pytest
import serial
from hypothesis import given
from hypothesis import strategies as st

from drivers.pyrometer import KtrdPyrometer, OptrisCodec, RaytekCodec, UppCodec, make_codec
from tests.drivers.transcript import TranscriptPort
from ufs_control.core.errors import ConfigError, InstrumentTimeout
from ufs_control.core.instruments import PyrometerReading, PyrometerStatus

S = PyrometerStatus
RANGE = (600.0, 2000.0)


# pyrometer reference §4, "Illustrative exchanges for the default codec".
@pytest.mark.parametrize(
    "reply, status, celsius",
    [
        (b"11500\r", S.OK, 1150.0),
        (b"05990\r", S.BELOW_RANGE, None),
        (b"77770\r", S.NOT_READY, None),
        (b"88880\r", S.ABOVE_RANGE, None),
        (b"75550\r", S.HEAD_FAULT, None),
        (b"74440\r", S.HEAD_FAULT, None),
        (b"06000\r", S.OK, 600.0),
        (b"20000\r", S.OK, 2000.0),
        (b"20001\r", S.ABOVE_RANGE, None),
        (b"1150\r", S.GARBLED, None),
        (b"11a00\r", S.GARBLED, None),
        (b"99999\r", S.GARBLED, None),
    ],
)
def test_upp_read_transcripts(reply: bytes, status: S, celsius: float | None) -> None:
    head = KtrdPyrometer(TranscriptPort([(b"00ms\r", reply)]), UppCodec(), 0, RANGE)
    reading = head.read_temperature()
    assert reading.status is status
    assert reading.celsius == celsius
    assert reading.raw == reply


def test_upp_address_is_two_digits() -> None:
    head = KtrdPyrometer(TranscriptPort([(b"07ms\r", b"12345\r")]), UppCodec(), 7, RANGE)
    assert head.read_temperature().celsius == pytest.approx(1234.5)


def test_silence_is_a_timeout_status_not_an_exception() -> None:
    head = KtrdPyrometer(TranscriptPort([(b"00ms\r", b"")]), UppCodec(), 0, RANGE)
    assert head.read_temperature() == PyrometerReading(S.TIMEOUT)


def test_upp_identity_and_range() -> None:
    port = TranscriptPort([(b"00na\r", b"KTRD 4085-1\r"), (b"00sn\r", b"123456\r"), (b"00mb\r", b"025807D0\r")])
    head = KtrdPyrometer(port, UppCodec(), 0, RANGE)
    identity = head.identify()
    assert identity.model == "KTRD 4085-1"
    assert identity.serial == "123456"
    assert head.read_range() == (600.0, 2000.0)


def test_identify_without_answer_raises_timeout() -> None:
    head = KtrdPyrometer(TranscriptPort([(b"00na\r", b"")]), UppCodec(), 0, RANGE)
    with pytest.raises(InstrumentTimeout):
        head.identify()


@pytest.mark.parametrize(
    "reply, status, celsius",
    [
        (b"!T1150.0\r", S.OK, 1150.0),
        (b"!T0020.0\r", S.BELOW_RANGE, None),
        (b"!TUUUU\r", S.BELOW_RANGE, None),
        (b"!TOOOO\r", S.ABOVE_RANGE, None),
        (b"!T----\r", S.NOT_READY, None),
        (b"*Syntax error\r", S.GARBLED, None),
    ],
)
def test_raytek_codec(reply: bytes, status: S, celsius: float | None) -> None:
    head = KtrdPyrometer(TranscriptPort([(b"?T\r", reply)]), RaytekCodec(), 0, RANGE)
    reading = head.read_temperature()
    assert (reading.status, reading.celsius) == (status, celsius)


def optris_frame(celsius: float) -> bytes:
    raw = round(celsius * 10) + 1000
    b0, b1 = raw >> 8, raw & 0xFF
    return bytes([b0, b1, b0 ^ b1])


def test_optris_binary_codec_with_checksum() -> None:
    good = optris_frame(1150.0)
    bad = bytes([good[0], good[1], good[2] ^ 0x01])
    port = TranscriptPort([(b"\xb1\x01", good), (b"\xb1\x01", bad), (b"\xb1\x01", optris_frame(550.0))])
    head = KtrdPyrometer(port, OptrisCodec(), 1, RANGE)
    assert head.read_temperature().celsius == pytest.approx(1150.0)
    assert head.read_temperature().status is S.GARBLED
    assert head.read_temperature().status is S.BELOW_RANGE


def test_codec_is_chosen_by_configuration_name() -> None:
    assert isinstance(make_codec("upp"), UppCodec)
    assert isinstance(make_codec("raytek"), RaytekCodec)
    with pytest.raises(ConfigError, match="maurer"):
        make_codec("maurer")


@given(st.binary(max_size=12), st.sampled_from(["upp", "raytek", "optris"]))
def test_any_frame_decodes_to_a_status_and_only_ok_carries_a_temperature(frame: bytes, name: str) -> None:
    reading = make_codec(name).decode_read(frame, RANGE)
    if reading.status is S.OK:
        assert reading.celsius is not None
        assert RANGE[0] <= reading.celsius <= RANGE[1]
    else:
        assert reading.celsius is None


def test_reading_record_refuses_a_sentinel_with_a_temperature() -> None:
    with pytest.raises(ValueError):
        PyrometerReading(S.BELOW_RANGE, 599.0)
    with pytest.raises(ValueError):
        PyrometerReading(S.OK, None)


def test_driver_runs_over_a_pyserial_url_port() -> None:
    # loop:// echoes what is written: the request comes back and is not a valid reply.
    port = serial.serial_for_url("loop://", timeout=0.05)
    head = KtrdPyrometer(port, UppCodec(), 0, RANGE)
    reading = head.read_temperature()
    assert reading.status is S.GARBLED
    assert reading.raw == b"00ms\r"
    port.close()
