"""The CPX400DP emulator answers the reference's byte examples as the manual says."""

from __future__ import annotations

import itertools
import math

import pytest

from sim.cpx400dp import Cpx400dpEmulator, Session


class Clock:
    def __init__(self) -> None:
        self.t = 0.0

    def __call__(self) -> float:
        return self.t


@pytest.fixture
def emu() -> Cpx400dpEmulator:
    return Cpx400dpEmulator(Clock())


@pytest.fixture
def s(emu: Cpx400dpEmulator) -> Session:
    return emu.open_session()


def run(emu: Cpx400dpEmulator, seconds: float, load_ohm: float, dt: float = 0.001) -> None:
    clock = emu.now
    assert isinstance(clock, Clock)
    for _ in range(round(seconds / dt)):
        clock.t += dt
        emu.step(clock.t, dt, (load_ohm, math.inf))


# cpx400dp reference §10, line by line.
BYTE_EXAMPLES = [
    (b"*IDN?\n", b"THURLBY THANDAR, CPX400DP, 354966, 1.01 - 3.00\r\n"),
    (b"V1 12.5\n", b""),
    (b"V1?\n", b"V1 12.50\r\n"),
    (b"I1 3\n", b""),
    (b"I1?\n", b"I1 3.000\r\n"),
    (b"OVP1 30\n", b""),
    (b"OVP1?\n", b"VP1 30.0\r\n"),
    (b"OCP1?\n", b"CP1 22.00\r\n"),
    (b"OP1 1\n", b""),
    (b"OP1?\n", b"1\r\n"),
    (b"CONFIG?\n", b"2\r\n"),
    (b"IFLOCK\n", b"1\r\n"),
    (b"IFUNLOCK\n", b"0\r\n"),
    (b"*OPC?\n", b"1\r\n"),
    (b"*ESR?\n", b"128\r\n"),
    (b"V1 61\n", b""),
    (b"EER?\n", b"100\r\n"),
    (b"FOO?\n", b""),
    (b"*ESR?\n", b"48\r\n"),
]


def test_byte_examples_of_the_reference(s: Session) -> None:
    for request, reply in BYTE_EXAMPLES:
        assert s.feed(request) == reply, request


def test_grouped_meter_query_gives_one_crlf_reply_per_query(emu: Cpx400dpEmulator, s: Session) -> None:
    s.feed(b"V1 12.5;I1 5;OP1 1\n")
    run(emu, 0.3, 5.0)
    assert s.feed(b"V1O?;I1O?\n") == b"12.50V\r\n2.50A\r\n"


def test_bare_ovp_reply_style() -> None:
    emu = Cpx400dpEmulator(Clock(), ovp_reply_style="bare")
    s = emu.open_session()
    s.feed(b"OVP1 30\n")
    assert s.feed(b"OVP1?\n") == b"30.0\r\n"
    assert s.feed(b"OCP2?\n") == b"22.00\r\n"


def test_parser_rules_case_whitespace_high_bit_and_frames(s: Session) -> None:
    assert s.feed(b"v1   7.25\n") == b""
    assert s.feed(bytes([ord("V") | 0x80]) + b"1?\n") == b"V1 7.25\r\n"
    assert s.feed(b"i1 2;i1?") == b""  # no terminator yet: nothing executes the last unit
    assert s.feed(b"", frame_end=True) == b"I1 2.000\r\n"  # end of a TCP frame terminates it
    assert s.feed(b"*sre51\n*SRE?\n") == b"51\r\n"  # ORCA's form with no space


def test_rst_defaults(s: Session) -> None:
    s.feed(b"V1 30;I1 5;OVP1 40;OCP1 6;DELTAV1 0.5\n")
    s.feed(b"*RST\n")
    assert s.feed(b"V1?;I1?;OVP1?;OCP1?;DELTAV1?;DELTAI1?\n") == (
        b"V1 1.00\r\nI1 1.000\r\nVP1 66.0\r\nCP1 22.00\r\nDELTAV1 0.01\r\nDELTAI1 0.010\r\n"
    )


def test_fresh_instance_has_outputs_off_and_power_on_esr(s: Session) -> None:
    assert s.feed(b"OP1?;OP2?\n") == b"0\r\n0\r\n"
    assert s.feed(b"*ESR?\n*ESR?\n") == b"128\r\n0\r\n"


def test_status_registers_are_per_session(emu: Cpx400dpEmulator) -> None:
    a, b = emu.open_session("a"), emu.open_session("b")
    a.feed(b"I1 25\n")  # range error on session a only
    assert a.feed(b"EER?\n") == b"100\r\n"
    assert b.feed(b"EER?\n") == b"0\r\n"


def test_interface_lock_blocks_writes_from_other_sessions(emu: Cpx400dpEmulator) -> None:
    a, b = emu.open_session("a"), emu.open_session("b")
    assert a.feed(b"IFLOCK\n") == b"1\r\n"
    assert b.feed(b"IFLOCK\n") == b"-1\r\n"
    assert b.feed(b"IFLOCK?\n") == b"-1\r\n"
    b.feed(b"V1 5\n")
    assert b.feed(b"EER?\n") == b"200\r\n"
    assert b.feed(b"V1?\n") == b"V1 1.00\r\n"
    assert b.feed(b"IFUNLOCK\n") == b"-1\r\n"
    a.close()  # disconnection releases the lock
    assert b.feed(b"IFLOCK?\n") == b"0\r\n"


def test_config_refused_while_output_2_is_on(s: Session) -> None:
    s.feed(b"OP2 1\nCONFIG 0\n")
    assert s.feed(b"EER?\n") == b"104\r\n"
    s.feed(b"OP2 0\nCONFIG 0\n")
    assert s.feed(b"CONFIG?\n") == b"0\r\n"


def test_cv_cc_and_unreg_follow_the_envelope(emu: Cpx400dpEmulator, s: Session) -> None:
    s.feed(b"V1 10;I1 20;OP1 1\n")
    run(emu, 0.3, 2.0)
    assert emu.channels[0].mode == "CV"
    assert emu.channels[0].v_out == pytest.approx(10.0, abs=0.01)
    s.feed(b"I1 2\n")
    run(emu, 0.3, 2.0)
    assert emu.channels[0].mode == "CC"
    assert emu.channels[0].i_out == pytest.approx(2.0, abs=0.01)
    # Manual's example: 2 ohm, current at maximum, raising V past ~29 V leaves the envelope.
    s.feed(b"I1 20;V1 35\n")
    run(emu, 0.3, 2.0)
    ch = emu.channels[0]
    assert ch.mode == "UNREG"
    assert ch.v_out * ch.i_out == pytest.approx(420.0, rel=0.01)
    assert s.feed(b"LSR1?\n") == b"19\r\n"  # CV | CC | UNREG entered since power-up
    assert s.feed(b"LSR1?\n") == b"0\r\n"  # read-and-clear


def test_setpoint_reaches_the_output_after_the_processing_latency(emu: Cpx400dpEmulator, s: Session) -> None:
    s.feed(b"V1 10;I1 20;OP1 1\n")
    run(emu, 0.015, 2.0)
    assert emu.channels[0].v_out < 0.1
    run(emu, 0.02, 2.0)
    assert emu.channels[0].v_out > 9.9


def test_ovp_trips_in_about_a_millisecond_and_needs_triprst(emu: Cpx400dpEmulator, s: Session) -> None:
    s.feed(b"OVP1 12;V1 10;I1 20;OP1 1\n")
    run(emu, 0.1, 2.0)
    s.feed(b"V1 15\n")
    run(emu, 0.06, 2.0)
    ch = emu.channels[0]
    assert ch.v_out < 0.1
    assert int(s.feed(b"LSR1?\n")) & 0x04
    assert s.feed(b"OP1?\n") == b"0\r\n"
    s.feed(b"OP1 1\n")  # refused while tripped
    assert s.feed(b"OP1?\n") == b"0\r\n"
    s.feed(b"OVP1 20;TRIPRST;OP1 1\n")
    assert s.feed(b"OP1?\n") == b"1\r\n"


def test_ocp_trips_after_half_a_second(emu: Cpx400dpEmulator, s: Session) -> None:
    s.feed(b"OCP1 4;V1 10;I1 20;OP1 1\n")  # 10 V into 2 ohm = 5 A > 4 A
    run(emu, 0.4, 2.0)
    assert emu.channels[0].v_out > 9.0
    run(emu, 0.2, 2.0)
    assert emu.channels[0].tripped & 0x08
    assert int(s.feed(b"LSR1?\n")) & 0x08


def test_over_temperature_trip_survives_triprst(emu: Cpx400dpEmulator, s: Session) -> None:
    s.feed(b"V1 10;I1 20;OP1 1\n")
    run(emu, 0.1, 2.0)
    emu.force_trip(1, 0x40)
    s.feed(b"TRIPRST;OP1 1\n")
    assert s.feed(b"OP1?\n") == b"0\r\n"
    assert int(s.feed(b"LSR1?\n")) & 0x40


def test_meters_refresh_at_4_hz_with_10_mv_resolution(emu: Cpx400dpEmulator, s: Session) -> None:
    s.feed(b"V1 10.004;I1 20;OP1 1\n")
    run(emu, 0.3, 2.0)
    first = s.feed(b"V1O?\n")
    s.feed(b"V1 20\n")
    run(emu, 0.1, 2.0)  # output has changed, the meter has not refreshed yet
    assert emu.channels[0].v_out > 19.0
    assert s.feed(b"V1O?\n") == first == b"10.00V\r\n"
    run(emu, 0.25, 2.0)
    assert s.feed(b"V1O?\n") == b"20.00V\r\n"


def test_opall_switches_both_outputs(s: Session) -> None:
    s.feed(b"OP1 1;OP2 1\n")
    s.feed(b"OPALL 0\n")
    assert s.feed(b"OP1?;OP2?\n") == b"0\r\n0\r\n"


def test_stb_reports_limit_events_enabled_by_lse(emu: Cpx400dpEmulator, s: Session) -> None:
    s.feed(b"LSE1 76;*SRE 51;OVP1 5;V1 10;I1 20;OP1 1\n")
    run(emu, 0.1, 2.0)
    assert int(s.feed(b"*STB?\n")) & 0x41 == 0x41


def test_save_and_recall(s: Session) -> None:
    s.feed(b"V1 7;SAV1 3;V1 9;RCL1 3\n")
    assert s.feed(b"V1?\n") == b"V1 7.00\r\n"
    s.feed(b"RCL1 4\n")
    assert s.feed(b"EER?\n") == b"102\r\n"


_HEADERS = [
    "V",
    "I",
    "OVP",
    "OCP",
    "DELTAV",
    "DELTAI",
    "INCV",
    "DECV",
    "INCI",
    "DECI",
    "OP",
    "OPALL",
    "TRIPRST",
    "LOCAL",
    "IFLOCK",
    "IFUNLOCK",
    "LSR",
    "LSE",
    "SAV",
    "RCL",
    "CONFIG",
    "RATIO",
    "*CLS",
    "EER",
    "QER",
    "*ESE",
    "*ESR",
    "*SRE",
    "*STB",
    "*PRE",
    "*IST",
    "*OPC",
    "*WAI",
    "*TRG",
    "*RST",
    "*IDN",
    "ADDRESS",
    "*TST",
    "X",
    "*",
]
_UNIT_PARTS = (
    _HEADERS,
    ["", "1", "2", "3", "12"],
    ["", "O", "V", "VV"],
    ["", "?", "??"],
    ["", " "],
    ["", "1", "0", "12.5", "-0.5", ".5", "1E1", "7.", "+2e-1", "X", "1 2"],
)


def test_table_dispatch_finds_the_command_a_scan_of_the_list_finds() -> None:
    emu = Cpx400dpEmulator(Clock())
    known = 0
    for parts in itertools.product(*_UNIT_PARTS):
        text = "".join(parts)
        scanned = next(
            ((handler, m.groups()) for pattern, handler in emu.commands if (m := pattern.fullmatch(text)) is not None),
            None,
        )
        assert emu.lookup(text) == scanned, text
        known += scanned is not None
    assert known > 500  # the grammar reaches every kind of command, not only unknown ones
