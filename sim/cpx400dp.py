"""Protocol-level emulator of the Aim-TTi CPX400DP (cpx400dp reference §3-§11).

The emulator keeps the instrument's shared state (setpoints, outputs, trips) and one status context per
interface connection (:class:`Session`). The electrical output is computed by :meth:`Cpx400dpEmulator.step`
from the load resistance the rig supplies; setpoint changes reach the output after a processing latency.
"""

from __future__ import annotations

import bisect
import math
import random
import re
from collections.abc import Callable
from dataclasses import dataclass, field

NRF = r"([-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?)"
P_ENVELOPE_W = 420.0
I_MAX_A = 20.0
V_MAX_V = 60.0
OCP_DELAY_S = 0.5
OVP_DELAY_S = 0.001
METER_PERIOD_S = 0.25
OUTPUT_TAU_S = 0.003
DEFAULT_IDN = "THURLBY THANDAR, CPX400DP, 354966, 1.01 - 3.00"

_STRIP_HIGH_BIT = bytes(b & 0x7F for b in range(256))  # the instrument ignores bit 7 of every byte
_UNIT_END = re.compile(rb"[\n;]")
_WHITE = re.compile(r"[\x00-\x20]+")
_HEADER = re.compile(r"\*?[A-Z]*")  # a command's leading identifier: what the dispatch table is keyed by

# Event Status Register bits.
ESR_OPC, ESR_QUERY_ERR, ESR_VERIFY_TIMEOUT, ESR_EXEC_ERR, ESR_CMD_ERR, ESR_POWER_ON = 1, 4, 8, 16, 32, 128
# Limit Event Status Register bits.
LSR_CV, LSR_CC, LSR_OVP, LSR_OCP, LSR_UNREG, LSR_HARD = 0x01, 0x02, 0x04, 0x08, 0x10, 0x40


@dataclass
class Channel:
    """Shared per-output state. ``*_set`` are what queries report; ``eff_*`` what the output uses."""

    v_set: float = 1.0
    i_set: float = 1.0
    ovp: float = 66.0
    ocp: float = 22.0
    delta_v: float = 0.01
    delta_i: float = 0.01
    on: bool = False
    eff_v: float = 1.0
    eff_i: float = 1.0
    eff_on: bool = False
    tripped: int = 0  # LSR trip bits currently latched in the hardware (OVP/OCP/HARD)
    live: bool = False  # the output terminals are energised (on and not tripped)
    v_out: float = 0.0
    i_out: float = 0.0
    mode: str = "OFF"
    ocp_timer: float = 0.0
    ovp_timer: float = 0.0
    meter_v: float = 0.0
    meter_i: float = 0.0
    stores: dict[int, tuple[float, float, float, float]] = field(default_factory=dict)


MODE_BITS = {"CV": LSR_CV, "CC": LSR_CC, "UNREG": LSR_UNREG}


def output_target(ch: Channel, r: float) -> tuple[float, str]:
    """Return the voltage output ``ch`` settles at into ``r`` ohm (inf: open) and its mode (CV, CC, UNREG or
    OFF): the settings, bounded by the 420 W envelope."""
    if not ch.live:
        return 0.0, "OFF"
    if r == math.inf:
        return ch.eff_v, "CV"
    v_cc = ch.eff_i * r
    if ch.eff_v <= v_cc:
        target_v, mode = ch.eff_v, "CV"
    else:
        target_v, mode = v_cc, "CC"
    if target_v * target_v / r > P_ENVELOPE_W:
        return math.sqrt(P_ENVELOPE_W * r), "UNREG"
    return target_v, mode


def _due(item: tuple[float, int, str, float]) -> float:
    return item[0]


class Session:
    """One interface connection: its own ESR/EER/QER/LSR registers and input buffer."""

    def __init__(self, emulator: Cpx400dpEmulator, name: str) -> None:
        self.emulator = emulator
        self.name = name
        self.esr = ESR_POWER_ON
        self.ese = 0
        self.sre = 0
        self.eer = 0
        self.qer = 0
        self.pre = 0
        self.lsr = [0, 0]
        self.lse = [0, 0]
        self.closed = False  # the connection was dropped by the instrument (disconnect, power cycle)
        self._buf = b""

    def feed(self, data: bytes, frame_end: bool = False) -> bytes:
        """Take bytes from the host; return the reply bytes (CRLF-terminated lines, maybe empty).

        Commands end at LF or ';'. With ``frame_end`` (a whole TCP frame was received) a trailing
        unterminated command is executed too, as the manual says for the LAN interface.
        """
        *units, self._buf = _UNIT_END.split(self._buf + data.translate(_STRIP_HIGH_BIT))
        execute = self.emulator.execute
        out = [execute(self, unit.decode("ascii", "replace")) for unit in units]
        if frame_end and self._buf.strip():
            unit, self._buf = self._buf, b""
            out.append(self.emulator.execute(self, unit.decode("ascii", "replace")))
        return b"".join(out)

    def close(self) -> None:
        """The connection went away: release an interface lock it held."""
        if self.emulator.lock_owner is self:
            self.emulator.lock_owner = None
        if self in self.emulator.sessions:
            self.emulator.sessions.remove(self)


def _headers(pattern: str) -> tuple[str, ...]:
    """The leading identifiers a command pattern accepts (``(INC|DEC)V`` accepts two)."""
    alternatives = re.match(r"\((\w+(?:\|\w+)*)\)", pattern)
    if alternatives is not None:
        rest = pattern[alternatives.end() :]
        return tuple(head + _headers(rest)[0] for head in alternatives.group(1).split("|"))
    literal = re.match(r"(?:\\\*)?[A-Z]*", pattern)
    assert literal is not None
    return (literal.group().replace("\\", ""),)


def _fmt(value: float, decimals: int) -> str:
    return f"{value:.{decimals}f}"


class Cpx400dpEmulator:
    """The instrument: two channels, sessions, command parser, CV/CC/UNREG output model, trips.

    ``now`` returns the current simulated time; it is called for timestamps only (the rig integrates the
    physics and calls :meth:`step`).
    """

    def __init__(
        self,
        now: Callable[[], float],
        idn: str = DEFAULT_IDN,
        ovp_reply_style: str = "manual",
        latency_s: float = 0.02,
        seed: int = 0,
    ) -> None:
        if ovp_reply_style not in ("manual", "bare"):
            raise ValueError(f"ovp_reply_style must be 'manual' or 'bare', got {ovp_reply_style!r}")
        self.now = now
        self.idn = idn
        self.ovp_reply_style = ovp_reply_style
        self.latency_s = latency_s
        self.channels = [Channel(), Channel()]
        self.sessions: list[Session] = []
        self.lock_owner: Session | None = None
        self.config = 2
        self.ratio = 100.0
        self.address = 11
        self.garbage_replies = False
        self.silent = False
        self.runaway = False
        self.read_only = False  # the web configuration restricts every interface to read-only
        # Observers: an output went live or dead (channel 1/2, live); the instrument dropped its connections.
        self.output_listeners: list[Callable[[int, bool], None]] = []
        self.disconnect_listeners: list[Callable[[], None]] = []
        # Called before the status registers are reported (the rig brings the outputs' modes up to date).
        self.before_status_read: Callable[[], object] | None = None
        self._pending: list[tuple[float, int, str, float]] = []
        self._next_meter_t = 0.0
        self._rng = random.Random(seed)
        self._handlers = self._build_handlers()
        self._plain: dict[str, tuple[Callable[..., str | None], tuple[str, ...]]] = {}

    # --- sessions ---------------------------------------------------------------------------

    def open_session(self, name: str = "session") -> Session:
        session = Session(self, name)
        self.sessions.append(session)
        return session

    # --- faults -----------------------------------------------------------------------------

    def disconnect_all(self) -> None:
        """Every interface connection drops (a network fault): sessions close and their locks go."""
        for session in list(self.sessions):
            session.closed = True
            session.close()
        for listener in self.disconnect_listeners:
            listener()

    def power_cycle(self) -> None:
        """Mains lost for a moment: connections drop, the outputs come back off with default settings."""
        for c in self.channels:
            c.v_set = c.eff_v = c.i_set = c.eff_i = 1.0
            c.on = c.eff_on = False
            c.tripped = 0
        self._pending.clear()
        for n, c in enumerate(self.channels, start=1):
            self._update_live(n, c)
        self.disconnect_all()

    def force_trip(self, channel: int, bit: int) -> None:
        """Trip ``channel`` (1 or 2) as if OVP (0x04), OCP (0x08) or over-temperature (0x40) fired."""
        ch = self.channels[channel - 1]
        ch.tripped |= bit
        ch.on = ch.eff_on = False
        self._raise_lsr(channel, bit)
        self._update_live(channel, ch)

    # --- electrical model -------------------------------------------------------------------

    def step(self, t: float, dt: float, loads_ohm: tuple[float, float]) -> None:
        """Advance both outputs to time ``t`` over ``dt`` seconds into the given load resistances."""
        self.apply_due(t)
        for n, ch in enumerate(self.channels, start=1):
            self._update_live(n, ch)
        alpha = 1.0 - math.exp(-dt / OUTPUT_TAU_S)
        for n, ch in enumerate(self.channels):
            r = loads_ohm[n]
            target_v, mode = output_target(ch, r)
            self.settle(n + 1, ch, ch.v_out + (target_v - ch.v_out) * alpha, r, mode, dt, dt)
        if t >= self._next_meter_t:
            self.read_meters(t, [(ch.v_out, ch.i_out) for ch in self.channels])

    def apply_due(self, t: float) -> None:
        """Let every setpoint change due by time ``t`` reach the outputs, in order, each seen by the observers."""
        pending = self._pending
        while pending and pending[0][0] <= t:
            _, n, name, value = pending.pop(0)
            ch = self.channels[n]
            if name == "v":
                ch.eff_v = value
            elif name == "i":
                ch.eff_i = value
            else:
                ch.eff_on = bool(value)
                self._update_live(n + 1, ch)  # each change is seen, even two at one time
        if self.runaway:
            for ch in self.channels:
                ch.eff_v, ch.eff_i = 40.0, 20.0

    def next_change_s(self) -> float:
        """Return the time the next setpoint change reaches an output (inf if none is pending)."""
        return self._pending[0][0] if self._pending else math.inf

    @property
    def next_meter_s(self) -> float:
        """The time of the meters' next 4 Hz reading."""
        return self._next_meter_t

    def read_meters(self, t: float, outputs: list[tuple[float, float]]) -> None:
        """Take the meters' reading at time ``t`` of each output's (volts, amps)."""
        for ch, (volts, amps) in zip(self.channels, outputs, strict=True):
            ch.meter_v = self._meter(volts, 0.001)
            ch.meter_i = self._meter(amps, 0.003)
        self._next_meter_t = (math.floor(t / METER_PERIOD_S) + 1) * METER_PERIOD_S

    def _meter(self, value: float, accuracy: float) -> float:
        noisy = value * (1.0 + self._rng.uniform(-accuracy, accuracy) * 0.2) if value > 0 else 0.0
        return round(max(noisy, 0.0), 2)

    def _update_live(self, n: int, ch: Channel) -> None:
        """Tell the observers when output ``n``'s terminals go live or dead."""
        live = ch.eff_on and not ch.tripped
        if live != ch.live:
            ch.live = live
            for listener in self.output_listeners:
                listener(n, live)

    def settle(self, n: int, ch: Channel, v_out: float, r: float, mode: str, over_v_s: float, over_i_s: float) -> None:
        """Put output ``n`` at ``v_out`` volts into ``r`` ohm at the end of an interval in ``mode``; run the trips.

        ``over_v_s`` and ``over_i_s`` are how long within the interval the output was above its OVP and OCP
        levels, used only if it still is at the end (the trips need the level exceeded without a break).
        """
        ch.v_out = v_out
        ch.i_out = 0.0 if math.isinf(r) else v_out / r
        if mode != ch.mode:
            bit = MODE_BITS.get(mode, 0)
            if bit:
                self._raise_lsr(n, bit)
            ch.mode = mode
        if not ch.live:
            ch.ocp_timer = ch.ovp_timer = 0.0
            return
        ch.ovp_timer = ch.ovp_timer + over_v_s if ch.v_out > ch.ovp else 0.0
        if ch.ovp_timer >= OVP_DELAY_S - 1e-12:
            self.force_trip(n, LSR_OVP)
        ch.ocp_timer = ch.ocp_timer + over_i_s if ch.i_out > ch.ocp else 0.0
        if ch.ocp_timer >= OCP_DELAY_S - 1e-12:
            self.force_trip(n, LSR_OCP)

    def _raise_lsr(self, channel: int, bit: int) -> None:
        for s in self.sessions:
            s.lsr[channel - 1] |= bit

    def _schedule(self, n: int, name: str, value: float) -> None:
        # After the changes already due at the same time or earlier: changes keep the order they were made in.
        bisect.insort_right(self._pending, (self.now() + self.latency_s, n, name, value), key=_due)

    # --- parser -----------------------------------------------------------------------------

    def execute(self, s: Session, unit: str) -> bytes:
        """Execute one command unit for session ``s``; return its reply (CRLF-terminated) or b""."""
        # Runs of white space and control characters count as one space; most units have none to fold.
        text = (unit if unit.isprintable() and "  " not in unit else _WHITE.sub(" ", unit)).strip().upper()
        if not text:
            return b""
        found = self.lookup(text)
        if found is None:
            s.esr |= ESR_CMD_ERR
            return b""
        handler, args = found
        reply = handler(s, *args)
        if reply is None or self.silent:
            return b""
        if self.garbage_replies:
            return bytes(self._rng.randrange(33, 127) for _ in range(5)) + b"\x15\r\n"
        return reply.encode("ascii") + b"\r\n"

    def lookup(self, text: str) -> tuple[Callable[..., str | None], tuple[str, ...]] | None:
        """Return the handler of the first command in the list that ``text`` (normalised) matches, with
        the matched fields, or None for an unknown command.

        The table is keyed by the leading identifier and whether the unit is a query; within a key the
        patterns keep the order of the command list, so the first that matches is the one a scan of the
        whole list would find.
        """
        found = self._plain.get(text)
        if found is not None:
            return found
        header = _HEADER.match(text)
        for pattern, handler, plain in self._handlers.get((header.group() if header else "", text[-1] == "?"), ()):
            m = pattern.fullmatch(text)
            if m is not None:
                if plain:  # a unit without a number: one of a few dozen, worth keeping
                    self._plain[text] = (handler, m.groups())
                return handler, m.groups()
        return None

    def _build_handlers(self) -> dict[tuple[str, bool], list[tuple[re.Pattern[str], Callable[..., str | None], bool]]]:
        """The command list, as a table from (leading identifier, is a query) to the patterns and handlers
        that can match such a unit, in the list's order."""
        ch = r"([12])"
        table: list[tuple[str, Callable[..., str | None]]] = [
            (rf"V{ch}O\?", lambda s, n: _fmt(self.channels[int(n) - 1].meter_v, 2) + "V"),
            (rf"I{ch}O\?", lambda s, n: _fmt(self.channels[int(n) - 1].meter_i, 2) + "A"),
            (rf"V{ch}\?", lambda s, n: f"V{n} " + _fmt(self.channels[int(n) - 1].v_set, 2)),
            (rf"I{ch}\?", lambda s, n: f"I{n} " + _fmt(self.channels[int(n) - 1].i_set, 3)),
            (rf"OVP{ch}\?", self._q_ovp),
            (rf"OCP{ch}\?", self._q_ocp),
            (rf"V{ch}V? {NRF}", lambda s, n, v: self._set(s, n, "v", v, 0.0, V_MAX_V, 0.01)),
            (rf"I{ch} {NRF}", lambda s, n, v: self._set(s, n, "i", v, 0.0, I_MAX_A, 0.001)),
            (rf"OVP{ch} {NRF}", lambda s, n, v: self._set(s, n, "ovp", v, 1.0, 66.0, 0.1)),
            (rf"OCP{ch} {NRF}", lambda s, n, v: self._set(s, n, "ocp", v, 0.0, 22.0, 0.01)),
            (rf"DELTAV{ch} {NRF}", lambda s, n, v: self._set(s, n, "dv", v, 0.0, V_MAX_V, 0.01)),
            (rf"DELTAI{ch} {NRF}", lambda s, n, v: self._set(s, n, "di", v, 0.0, I_MAX_A, 0.001)),
            (rf"DELTAV{ch}\?", lambda s, n: f"DELTAV{n} " + _fmt(self.channels[int(n) - 1].delta_v, 2)),
            (rf"DELTAI{ch}\?", lambda s, n: f"DELTAI{n} " + _fmt(self.channels[int(n) - 1].delta_i, 3)),
            (rf"(INC|DEC)V{ch}(V?)", self._inc_v),
            (rf"(INC|DEC)I{ch}", self._inc_i),
            (rf"OP{ch} {NRF}", self._op),
            (rf"OPALL {NRF}", self._opall),
            (rf"OP{ch}\?", lambda s, n: "1" if self.channels[int(n) - 1].on else "0"),
            (r"TRIPRST", self._triprst),
            (r"LOCAL", lambda s: None),
            (r"IFLOCK", self._iflock),
            (r"IFLOCK\?", self._iflock_q),
            (r"IFUNLOCK", self._ifunlock),
            (rf"LSR{ch}\?", self._lsr_q),
            (rf"LSE{ch} ?{NRF}", self._lse),
            (rf"LSE{ch}\?", lambda s, n: str(s.lse[int(n) - 1])),
            (rf"SAV{ch} ?{NRF}", self._sav),
            (rf"RCL{ch} ?{NRF}", self._rcl),
            (rf"CONFIG ?{NRF}", self._config),
            (r"CONFIG\?", lambda s: str(self.config)),
            (rf"RATIO ?{NRF}", self._ratio),
            (r"RATIO\?", lambda s: f"{self.ratio:g}"),
            (r"\*CLS", self._cls),
            (r"EER\?", self._eer_q),
            (r"QER\?", self._qer_q),
            (rf"\*ESE ?{NRF}", lambda s, v: self._reg(s, "ese", v)),
            (r"\*ESE\?", lambda s: str(s.ese)),
            (r"\*ESR\?", self._esr_q),
            (rf"\*SRE ?{NRF}", lambda s, v: self._reg(s, "sre", v)),
            (r"\*SRE\?", lambda s: str(s.sre)),
            (r"\*STB\?", lambda s: str(self._stb(s))),
            (rf"\*PRE ?{NRF}", lambda s, v: self._reg(s, "pre", v)),
            (r"\*PRE\?", lambda s: str(s.pre)),
            (r"\*IST\?", lambda s: "1" if self._stb(s) & s.pre else "0"),
            (r"\*OPC", self._opc),
            (r"\*OPC\?", lambda s: "1"),
            (r"\*WAI", lambda s: None),
            (r"\*TRG", lambda s: None),
            (r"\*RST", self._rst),
            (r"\*IDN\?", lambda s: self.idn),
            (r"ADDRESS\?", lambda s: str(self.address)),
            (r"\*TST\?", lambda s: "0"),
        ]
        self.commands = [(re.compile(p), h) for p, h in table]
        handlers: dict[tuple[str, bool], list[tuple[re.Pattern[str], Callable[..., str | None], bool]]] = {}
        for pattern, h in self.commands:
            plain = NRF not in pattern.pattern
            for header in _headers(pattern.pattern):
                # Only a pattern ending in "?" matches a unit ending in "?" (an NRF never ends in one).
                handlers.setdefault((header, pattern.pattern.endswith("\\?")), []).append((pattern, h, plain))
        return handlers

    # --- handlers ---------------------------------------------------------------------------

    def _writable(self, s: Session) -> bool:
        if self.read_only or (self.lock_owner is not None and self.lock_owner is not s):
            self._exec_error(s, 200)
            return False
        return True

    @staticmethod
    def _exec_error(s: Session, code: int) -> None:
        s.eer = code
        s.esr |= ESR_EXEC_ERR

    def _set(self, s: Session, n: str, what: str, text: str, low: float, high: float, q: float) -> None:
        if not self._writable(s):
            return
        value = float(text)
        if not (low <= value <= high) or not math.isfinite(value):
            self._exec_error(s, 100)
            return
        value = round(round(value / q) * q, 6)
        idx = int(n) - 1
        c = self.channels[idx]
        if what == "v":
            c.v_set = value
            self._schedule(idx, "v", value)
        elif what == "i":
            c.i_set = value
            self._schedule(idx, "i", value)
        elif what == "ovp":
            c.ovp = value
        elif what == "ocp":
            c.ocp = value
        elif what == "dv":
            c.delta_v = value
        else:
            c.delta_i = value

    def _q_ovp(self, s: Session, n: str) -> str:
        value = _fmt(self.channels[int(n) - 1].ovp, 1)
        return value if self.ovp_reply_style == "bare" else f"VP{n} {value}"

    def _q_ocp(self, s: Session, n: str) -> str:
        value = _fmt(self.channels[int(n) - 1].ocp, 2)
        return value if self.ovp_reply_style == "bare" else f"CP{n} {value}"

    def _inc_v(self, s: Session, op: str, n: str, _verify: str) -> None:
        c = self.channels[int(n) - 1]
        new = c.v_set + (c.delta_v if op == "INC" else -c.delta_v)
        self._set(s, n, "v", repr(new), 0.0, V_MAX_V, 0.01)

    def _inc_i(self, s: Session, op: str, n: str) -> None:
        c = self.channels[int(n) - 1]
        new = c.i_set + (c.delta_i if op == "INC" else -c.delta_i)
        self._set(s, n, "i", repr(new), 0.0, I_MAX_A, 0.001)

    def _op(self, s: Session, n: str, v: str) -> None:
        if not self._writable(s):
            return
        value = float(v)
        if value not in (0.0, 1.0):
            self._exec_error(s, 100)
            return
        idx = int(n) - 1
        c = self.channels[idx]
        if value and c.tripped:
            return  # a tripped output stays off until TRIPRST (hard trips until a power cycle)
        c.on = bool(value)
        self._schedule(idx, "on", value)

    def _opall(self, s: Session, v: str) -> None:
        if not self._writable(s):
            return
        value = float(v)
        if value not in (0.0, 1.0):
            self._exec_error(s, 100)
            return
        for idx, c in enumerate(self.channels):
            if bool(value) != c.on and not (value and c.tripped):
                c.on = bool(value)
                self._schedule(idx, "on", value)

    def _triprst(self, s: Session) -> None:
        if not self._writable(s):
            return
        for n, c in enumerate(self.channels, start=1):
            c.tripped &= LSR_HARD  # OTP needs an AC power cycle; the output stays off until OP<N> 1
            self._update_live(n, c)

    def _iflock(self, s: Session) -> str:
        if self.lock_owner is None or self.lock_owner is s:
            self.lock_owner = s
            return "1"
        return "-1"

    def _iflock_q(self, s: Session) -> str:
        if self.lock_owner is None:
            return "0"
        return "1" if self.lock_owner is s else "-1"

    def _ifunlock(self, s: Session) -> str:
        if self.lock_owner is s:
            self.lock_owner = None
            return "0"
        self._exec_error(s, 200)
        return "-1"

    def _lsr_q(self, s: Session, n: str) -> str:
        if self.before_status_read is not None:
            self.before_status_read()
        idx = int(n) - 1
        value = s.lsr[idx]
        s.lsr[idx] = 0
        return str(value)

    def _lse(self, s: Session, n: str, v: str) -> None:
        value = float(v)
        if value != int(value) or not 0 <= value <= 255:
            self._exec_error(s, 100)
            return
        s.lse[int(n) - 1] = int(value)

    def _sav(self, s: Session, n: str, v: str) -> None:
        value = float(v)
        if value != int(value) or not 0 <= value <= 9:
            self._exec_error(s, 100)
            return
        c = self.channels[int(n) - 1]
        c.stores[int(value)] = (c.v_set, c.i_set, c.ovp, c.ocp)

    def _rcl(self, s: Session, n: str, v: str) -> None:
        if not self._writable(s):
            return
        value = float(v)
        if value != int(value) or not 0 <= value <= 9:
            self._exec_error(s, 100)
            return
        c = self.channels[int(n) - 1]
        stored = c.stores.get(int(value))
        if stored is None:
            self._exec_error(s, 102)
            return
        c.v_set, c.i_set, c.ovp, c.ocp = stored
        self._schedule(int(n) - 1, "v", c.v_set)
        self._schedule(int(n) - 1, "i", c.i_set)

    def _config(self, s: Session, v: str) -> None:
        if not self._writable(s):
            return
        value = float(v)
        if value not in (0.0, 2.0):
            self._exec_error(s, 100)
            return
        if self.channels[1].on:
            self._exec_error(s, 104)
            return
        self.config = int(value)

    def _ratio(self, s: Session, v: str) -> None:
        value = float(v)
        if not 0 <= value <= 100:
            self._exec_error(s, 100)
            return
        self.ratio = value

    def _cls(self, s: Session) -> None:
        s.esr = s.eer = s.qer = 0
        s.lsr = [0, 0]

    def _eer_q(self, s: Session) -> str:
        value, s.eer = s.eer, 0
        return str(value)

    def _qer_q(self, s: Session) -> str:
        value, s.qer = s.qer, 0
        return str(value)

    def _esr_q(self, s: Session) -> str:
        value, s.esr = s.esr, 0
        return str(value)

    def _reg(self, s: Session, name: str, v: str) -> None:
        value = float(v)
        if value != int(value) or not 0 <= value <= 255:
            self._exec_error(s, 100)
            return
        setattr(s, name, int(value))

    def _stb(self, s: Session) -> int:
        if self.before_status_read is not None:
            self.before_status_read()
        stb = 0
        if s.lsr[0] & s.lse[0]:
            stb |= 0x01
        if s.lsr[1] & s.lse[1]:
            stb |= 0x02
        if s.esr & s.ese:
            stb |= 0x20
        if stb & s.sre:
            stb |= 0x40
        return stb

    def _opc(self, s: Session) -> None:
        s.esr |= ESR_OPC

    def _rst(self, s: Session) -> None:
        if not self._writable(s):
            return
        for idx, c in enumerate(self.channels):
            c.v_set, c.i_set, c.delta_v, c.delta_i, c.ovp, c.ocp = 1.0, 1.0, 0.01, 0.01, 66.0, 22.0
            self._schedule(idx, "v", 1.0)
            self._schedule(idx, "i", 1.0)
        self.lock_owner = None
        self.config = 2
