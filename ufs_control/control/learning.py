"""Run-to-run learning of the feedforward (batch iterative learning control, thermal-model reference §6.4).

A recipe repeats, and so does most of the model's error. After a completed run ``k`` the part of the power
that the model's feedforward did not supply, δ_k(t), is known against profile time; the next run adds a
filtered fraction of it to its feedforward:

    c_{k+1}(t) = clip( c_k(t) + γ · S[δ_k](t + t_adv), ±bound(t) )

with γ ≤ 1 the learning gain, S a zero-phase (centred) moving average and t_adv a small time advance that
compensates the plant's lag (the loop corrects an error after the feedforward caused it).

Before it is added, the smoothed δ is shrunk towards zero by twice its noise (a soft threshold, estimated
from the run's own scatter), so that a flat stretch where the loop only answered pyrometer noise teaches
nothing. The gain decays with the number k of runs this correction has learned from, γ_k = max(γ/k, γ_min): δ holds
the run's pyrometer noise as passed on by the loop as well as the repeating error, and a constant gain adds
that noise up from run to run (a stochastic-approximation step: the correction converges to the mean of what
the runs showed). The floor γ_min keeps it following a plant that drifts slowly, as felts age.

Where the loop was closed, δ is what the loop added to the model + learned feedforward: the PI's output
and the in-run adaptive scale ``k_ff`` and hand-over loss term ``b_ff`` (both start afresh each run):

    δ = (P − FF) + (k_ff − 1)·P_ss(T_sp)/(1 − φ) + b_ff·(T_sp − T_amb)/(1 − φ)

with P the power applied and FF the feedforward the controller used (it includes c_k). Below the
pyrometer's range the loop is open and nothing measures the error there: open-loop ticks learn nothing
(carrying the hand-over's loss term down the blind zone was tried and diverged; see
docs/decisions/0006-run-to-run-learning.md).

Pure functions over plain sequences; the store that keeps corrections on disk is in the runner.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

GRID_S = 0.1  # the correction's time step: a tenth of the plant's fastest useful time constant
MAX_POINTS = 20_000  # longer profiles get a coarser grid (a 10-hour hold is not learned at 0.1 s)


@dataclass(frozen=True)
class LearningSettings:
    """How fast and how far the feedforward learns. ``gain`` in (0, 1]; times in s; ``max_fraction`` of the
    supply envelope at the setpoint bounds the correction in either direction."""

    gain: float = 0.7
    advance_s: float = 0.1
    smooth_s: float = 0.5
    max_fraction: float = 0.25
    min_gain: float = 0.15
    noise_sigmas: float = 2.0

    def gain_for(self, iteration: int) -> float:
        """The gain of the ``iteration``-th update of a correction (1 = the first, from no correction)."""
        return max(self.gain / max(iteration, 1), self.min_gain)


@dataclass(frozen=True)
class Correction:
    """A feedforward correction in W on a uniform grid of profile time (``values[i]`` at ``i·dt_s``).

    Outside the grid the correction is 0; between grid points it is interpolated linearly.
    """

    dt_s: float
    values: tuple[float, ...]

    def __call__(self, profile_t_s: float) -> float:
        n = len(self.values)
        if n == 0 or not math.isfinite(profile_t_s) or profile_t_s < 0:
            return 0.0
        x = profile_t_s / self.dt_s
        i = int(x)
        if i >= n - 1:
            return self.values[-1] if i == n - 1 and x == n - 1 else 0.0
        frac = x - i
        return self.values[i] + (self.values[i + 1] - self.values[i]) * frac

    @property
    def peak_w(self) -> float:
        """The largest magnitude of the correction in W."""
        return max((abs(v) for v in self.values), default=0.0)


def grid_step(duration_s: float) -> float:
    """The correction's time step in s for a profile of ``duration_s``."""
    return max(GRID_S, duration_s / MAX_POINTS)


@dataclass(frozen=True)
class RunSignal:
    """What one run tells the learning, one entry per tick: profile time in s and δ in W (None where the
    tick says nothing: an output-off cool, an open-loop power segment, no setpoint)."""

    profile_t_s: tuple[float, ...]
    delta_w: tuple[float | None, ...]
    first_closed: int | None  # the tick at which the loop first closed (None: it never did)

    @property
    def handover_profile_t_s(self) -> float | None:
        """Profile time (after the re-base) at which the loop first closed."""
        return self.profile_t_s[self.first_closed] if self.first_closed is not None else None


def run_signal(
    profile_t_s: Sequence[float],
    setpoint_c: Sequence[float | None],
    closed: Sequence[bool],
    controlled: Sequence[bool],
    power_w: Sequence[float],
    ff_w: Sequence[float],
    k_ff: Sequence[float],
    *,
    steady_power_w: Callable[[float], float],
    b_ff_w_k: float,
    phi: float,
    t_amb_c: float,
) -> RunSignal:
    """δ per tick from a run's samples (see the module docstring).

    ``closed``: the loop was closed that tick; ``controlled``: the feedforward drove that tick (a setpoint
    segment, the output on). Blind ticks (controlled, open loop) before the first closed tick take the
    hand-over's loss term; later open-loop ticks say nothing.
    """
    share = 1.0 / (1.0 - phi)
    first_closed = next((i for i, c in enumerate(closed) if c), None)
    deltas: list[float | None] = []
    for i, t_p in enumerate(profile_t_s):
        sp = setpoint_c[i]
        if sp is None or not math.isfinite(sp) or not controlled[i] or not math.isfinite(t_p):
            deltas.append(None)
            continue
        loss_term = b_ff_w_k * (sp - t_amb_c) * share
        if closed[i]:
            adaptive = (k_ff[i] - 1.0) * steady_power_w(sp) * share
            deltas.append(power_w[i] - ff_w[i] + adaptive + loss_term)
        else:
            deltas.append(None)  # open loop: nothing measures the error here (decision 0006)
    return RunSignal(tuple(profile_t_s), tuple(deltas), first_closed)


def _bin(signal: RunSignal, dt: float, n: int) -> list[float | None]:
    """Average δ into grid bins; closed-loop ticks win over blind ones in the same bin (after a re-base the
    profile runs over the last blind stretch again, this time measured)."""
    sums = [[0.0] * n, [0.0] * n]  # [blind, closed]
    counts = [[0] * n, [0] * n]
    first = signal.first_closed if signal.first_closed is not None else len(signal.delta_w)
    for i, (t, d) in enumerate(zip(signal.profile_t_s, signal.delta_w, strict=True)):
        k = round(t / dt) if math.isfinite(t) else -1
        if d is None or not math.isfinite(d) or not 0 <= k < n:
            continue
        kind = 1 if i >= first else 0
        sums[kind][k] += d
        counts[kind][k] += 1
    out: list[float | None] = []
    for k in range(n):
        kind = 1 if counts[1][k] else 0
        out.append(sums[kind][k] / counts[kind][k] if counts[kind][k] else None)
    return out


def _shift(values: list[float | None], steps: int) -> list[float | None]:
    """values[k + steps] at k (an advance for steps > 0); None beyond the ends."""
    n = len(values)
    return [values[k + steps] if 0 <= k + steps < n else None for k in range(n)]


def smooth(values: Sequence[float | None], half_width: int) -> list[float | None]:
    """Centred (zero-phase) moving average over 2·half_width + 1 points, over the points that exist;
    None where a point had no value (a gap stays a gap)."""
    if half_width <= 0:
        return list(values)
    n = len(values)
    prefix = [0.0]
    count = [0]
    for v in values:
        prefix.append(prefix[-1] + (v if v is not None else 0.0))
        count.append(count[-1] + (1 if v is not None else 0))
    out: list[float | None] = []
    for k in range(n):
        if values[k] is None:
            out.append(None)
            continue
        lo, hi = max(0, k - half_width), min(n, k + half_width + 1)
        out.append((prefix[hi] - prefix[lo]) / (count[hi] - count[lo]))
    return out


def shrink(
    raw: Sequence[float | None], smoothed: Sequence[float | None], half_width: int, sigmas: float
) -> list[float | None]:
    """Soft-threshold the smoothed δ by ``sigmas`` times its noise: what the run's noise alone would give.

    The noise is estimated from the raw points' scatter about the smoothed curve (median absolute deviation,
    robust to the corners), divided by √(points averaged). A systematic error stands out of it and is
    learned, less the threshold; a flat stretch where the loop only answered pyrometer noise learns nothing.
    """
    if sigmas <= 0 or half_width <= 0:  # without smoothing there is no scatter about a mean to judge by
        return list(smoothed)
    scatter = sorted(abs(r - m) for r, m in zip(raw, smoothed, strict=True) if r is not None and m is not None)
    if not scatter:
        return list(smoothed)
    width = 2 * half_width + 1  # a point's scatter about a mean that includes it is √(1 − 1/width) of its σ
    sigma = 1.4826 * scatter[len(scatter) // 2] / math.sqrt((1.0 - 1.0 / width) * width)
    band = sigmas * sigma
    return [None if m is None else math.copysign(max(abs(m) - band, 0.0), m) for m in smoothed]


def update(
    previous: Correction | None,
    signal: RunSignal,
    duration_s: float,
    settings: LearningSettings,
    bound_w: Callable[[float], float],
    iteration: int = 1,
) -> Correction:
    """The next run's correction from the last one and what run ``k`` showed (see the module docstring).

    ``bound_w(profile_t_s)`` is the largest magnitude allowed at that profile time (W, ≥ 0); ``iteration``
    counts the runs the new correction has learned from, ``previous``'s and this one (1 with no previous).
    """
    gain = settings.gain_for(iteration)
    dt = previous.dt_s if previous is not None else grid_step(duration_s)
    n = math.floor(duration_s / dt + 1e-9) + 1
    old = list(previous.values[:n]) if previous is not None else []
    old += [0.0] * (n - len(old))
    delta = _bin(signal, dt, n)
    delta = _shift(delta, round(settings.advance_s / dt))
    half = round(0.5 * settings.smooth_s / dt)
    delta = shrink(delta, smooth(delta, half), half, settings.noise_sigmas)
    values = []
    for k in range(n):
        v = old[k] + (gain * d if (d := delta[k]) is not None else 0.0)
        limit = max(bound_w(k * dt), 0.0)
        values.append(min(max(v, -limit), limit))
    return Correction(dt, tuple(values))
