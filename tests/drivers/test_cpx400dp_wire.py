"""CPX400DP driver at the wire: transcripts whose bytes come from the reference manual."""

from __future__ import annotations

import pytest

from drivers.cpx400dp import Cpx400dp
from tests.drivers.transcript import TranscriptResource
from ufs_control.core.errors import (
    InstrumentIdentityError,
    InstrumentReplyError,
    InstrumentReportedError,
    InstrumentTimeout,
    OutOfRangeError,
)


def make(steps: list[tuple[str, list[str | None]]]) -> tuple[Cpx400dp, TranscriptResource]:
    res = TranscriptResource(steps)
    return Cpx400dp(res), res


@pytest.mark.parametrize(
    "idn, vendor",
    [
        ("THURLBY THANDAR, CPX400DP, 354966, 1.01 - 3.00", "THURLBY THANDAR"),
        ("THURLBY THANDAR,CPX400DP,279730,1.00 – 1.00", "THURLBY THANDAR"),
        ("Aim-TTi, CPX400DP, 512345, 2.01 - 4.00", "Aim-TTi"),
        ("SORENSEN, CPX400DP, 100200, 1.10 - 3.10", "SORENSEN"),
    ],
)
def test_identify_matches_the_model_field_whatever_the_vendor(idn: str, vendor: str) -> None:
    psu, res = make([("*IDN?", [idn])])
    identity = psu.identify()
    assert identity.vendor == vendor
    assert identity.model == "CPX400DP"
    assert psu.identity is identity
    assert res.done()


def test_identify_rejects_another_model() -> None:
    psu, _ = make([("*IDN?", ["THURLBY THANDAR, PL303QMD-P, 1, 1.0"])])
    with pytest.raises(InstrumentIdentityError) as info:
        psu.identify()
    assert "PL303QMD-P" in str(info.value)


def test_setpoints_are_one_transaction_with_an_error_check() -> None:
    psu, res = make([("V1 12.500;I1 3.000;*ESR?", ["0"])])
    psu.set_voltage_and_current(1, 12.5, 3)
    assert res.done()


def test_range_error_reported_by_the_instrument_is_raised_with_its_code() -> None:
    psu, _ = make([("V2 12.000;*ESR?", ["16"]), ("EER?", ["100"])])
    with pytest.raises(InstrumentReportedError) as info:
        psu.set_voltage(2, 12)
    assert info.value.code == 100
    assert info.value.command == "V2 12.000"


def test_command_error_bit_is_raised() -> None:
    psu, _ = make([("OP1 1;*ESR?", ["32"])])
    with pytest.raises(InstrumentReportedError) as info:
        psu.set_output(1, True)
    assert info.value.register == "ESR"


@pytest.mark.parametrize(
    "call",
    [
        lambda p: p.set_voltage(1, 60.01),
        lambda p: p.set_voltage(1, -0.1),
        lambda p: p.set_current_limit(1, 20.5),
        lambda p: p.set_ovp(1, 0.9),
        lambda p: p.set_ovp(1, 66.1),
        lambda p: p.set_ocp(1, 22.01),
        lambda p: p.set_voltage(3, 1.0),
        lambda p: p.set_voltage(1, float("nan")),
    ],
)
def test_values_are_validated_before_anything_is_written(call: object) -> None:
    psu, res = make([])
    with pytest.raises(OutOfRangeError):
        call(psu)  # type: ignore[operator]
    assert res.written == []


@pytest.mark.parametrize("reply", ["VP1 30.0", "30.0", "VP1 30", " 30.00 "])
def test_ovp_reply_accepts_prefixed_and_bare_forms(reply: str) -> None:
    psu, _ = make([("OVP1?", [reply])])
    assert psu.read_ovp(1) == pytest.approx(30.0)


@pytest.mark.parametrize("reply", ["CP1 22.00", "22.00"])
def test_ocp_reply_accepts_prefixed_and_bare_forms(reply: str) -> None:
    psu, _ = make([("OCP1?", [reply])])
    assert psu.read_ocp(1) == pytest.approx(22.0)


def test_setpoint_readbacks_parse_the_manual_forms() -> None:
    psu, _ = make([("V1?", ["V1 12.50"]), ("I2?", ["I2 3.000"])])
    assert psu.read_voltage_setpoint(1) == pytest.approx(12.5)
    assert psu.read_current_limit(2) == pytest.approx(3.0)


def test_measure_output_is_one_grouped_query_with_two_replies() -> None:
    psu, res = make([("V1O?;I1O?", ["12.49V", "2.51A"])])
    assert psu.measure_output(1) == (pytest.approx(12.49), pytest.approx(2.51))
    assert res.done()


def test_output_state_limit_status_and_all_off() -> None:
    psu, res = make([("OP1?", ["1"]), ("LSR1?", ["5"]), ("OPALL 0;*ESR?", ["0"]), ("TRIPRST;*ESR?", ["0"])])
    assert psu.read_output_state(1) is True
    status = psu.read_limit_status(1)
    assert status.cv and status.ovp_trip and not status.cc
    assert status.names() == ["CV", "OVP_TRIP"]
    psu.set_all_outputs_off()
    psu.reset_trips()
    assert res.done()


def test_interface_lock_replies() -> None:
    psu, _ = make([("IFLOCK", ["1"]), ("IFLOCK", ["-1"]), ("IFUNLOCK", ["0"])])
    assert psu.lock_interface() is True
    assert psu.lock_interface() is False
    assert psu.unlock_interface() is True


def test_garbled_reply_raises_and_the_next_command_resynchronises() -> None:
    psu, res = make(
        [
            ("V1O?;I1O?", ["#$%&\x15", "2.51A"]),
            # resynchronise: drain (nothing pending), clear the error registers
            ("*ESR?", ["0"]),
            ("EER?", ["0"]),
            ("OP1?", ["0"]),
        ]
    )
    with pytest.raises(InstrumentReplyError):
        psu.measure_output(1)
    assert psu.read_output_state(1) is False
    assert res.done()


def test_missing_reply_raises_timeout_then_resynchronises() -> None:
    psu, res = make([("FOO?", [None])])
    with pytest.raises(InstrumentTimeout):
        psu._query("FOO?")  # an unknown command is answered with silence
    res.steps.extend([("*ESR?", ["32"]), ("EER?", ["0"]), ("OP1?", ["1"])])
    assert psu.read_output_state(1) is True
    assert res.timeout == 2000  # restored after the drain
    assert res.done()


def test_non_integer_reply_to_an_integer_query_is_a_reply_error() -> None:
    psu, _ = make([("OP1?", ["ON"])])
    with pytest.raises(InstrumentReplyError):
        psu.read_output_state(1)
