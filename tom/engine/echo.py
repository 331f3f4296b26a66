"""Echo guard: caller audio that is only TOM's own voice coming back never reaches the VAD.

Many phone lines and every speakerphone send a little of TOM's voice back. Silero cannot tell
it from a caller, so without this TOM cuts itself off. TOM knows exactly what it played and
when: `played` records the energy of every outbound frame by the time it is due at the far end
(8 ms blocks). `clean` compares each block of caller audio with the energy the echo of that
reference could have at that moment and silences the blocks that are not clearly louder: what
is left is evidence of a caller, not of TOM.

How loud the echo can be:

- locked: per call the echo delay (line, jitter buffers, the far end's playout: 20-400 ms) is
  found by correlating the log-energy envelopes of caller audio and reference over the lags in
  `[min_delay_ms, max_delay_ms]`; once a clear peak is found, the expected echo is the reference
  at that lag (a few blocks either side for jitter) times the measured echo gain;
- before that (the greeting's first words) or on a line with no measurable echo: the loudest
  reference over the whole lag range, `assume_loss_db` below TOM's level, or less where the
  line measured quieter while TOM spoke.

A block passes when it is `margin_db` above that expectation. Raw audio still goes to STT (no
word is lost to the guard); only the VAD's decision uses the cleaned audio. Cost: a few numpy
operations per 20 ms frame and one envelope correlation every half second while TOM talks.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import structlog

from tom.config import EchoSettings
from tom.engine.samples import Samples

log = structlog.get_logger(__name__)

BLOCK_NS = 8_000_000  # energy envelope resolution
RING = 8192  # blocks kept (65 s): far more than any lag or estimation window
FLOOR = 1e-9  # energy floor (about -90 dBFS) for log envelopes
JITTER_BLOCKS = 4  # locked: the reference this many blocks either side of the lag counts
ESTIMATE_EVERY = 62  # blocks of caller audio between two delay estimates (~0.5 s)
WINDOW_BLOCKS = 375  # 3 s of envelope per estimate
MIN_ACTIVE = 60  # blocks of TOM's voice in the window needed to estimate at all
LOCK_CORRELATION = 0.5  # envelope correlation that counts as a found echo path
# An echo comes back at a steady level: caller audio over TOM's talking blocks, at the path's
# delay, must stay within this spread (dB) of its mean ratio to TOM. Echoes measured 0.1-3 dB;
# a caller talking over short bits of TOM correlated by chance (0.5-0.7) at 6-7 dB.
MAX_GAIN_SPREAD_DB = 4.5
REPLACE_MARGIN = 0.1  # a new estimate replaces the path only if nearly as clear
DECAY = 0.02  # per estimate that did not replace it, so a bad first lock is not kept forever
HEADROOM_DB = 3.0  # the echo is taken this much louder than its measured median
MIN_LOSS_DB = 6.0  # an echo louder than this is taken for a caller talking over TOM
QUIET_RATIO_DB = 18.0  # reference blocks within this of the window's loudest count as TOM talking
ALIGNED_HEADROOM_DB = 10.0  # unlocked: the echo's median ratio at its delay, this much up
MIN_SPREAD = 0.05  # log10 energy spread (about 0.5 dB) a caller envelope needs to correlate
RESYNC_NS = 600_000_000  # caller audio this late means a gap in the stream, not a busy loop
CREEP = 0.002  # share of a lasting lateness taken into the stream clock per chunk


@dataclass(frozen=True)
class EchoPath:
    """The echo found on this call: its delay and how far below TOM's level it comes back."""

    delay_ms: int
    loss_db: float
    correlation: float


class _Envelope:
    """Mean-square energy per 8 ms block, indexed by absolute block number, in a ring."""

    def __init__(self) -> None:
        self.sums = np.zeros(RING)
        self.counts = np.zeros(RING)
        self.stamps = np.full(RING, -1, dtype=np.int64)

    def add(self, samples: Samples, first_ns: int, rate: int) -> np.ndarray:
        """Accumulate `samples` (sample 0 at `first_ns`); returns each sample's block number."""
        times = first_ns + (np.arange(len(samples)) * (1e9 / rate)).astype(np.int64)
        blocks = times // BLOCK_NS
        uniq, inverse = np.unique(blocks, return_inverse=True)
        slots = uniq % RING
        stale = self.stamps[slots] != uniq
        self.sums[slots[stale]] = 0.0
        self.counts[slots[stale]] = 0.0
        self.stamps[slots] = uniq
        self.sums[slots] += np.bincount(inverse, weights=samples.astype(np.float64) ** 2,
                                        minlength=len(uniq))
        self.counts[slots] += np.bincount(inverse, minlength=len(uniq))
        return np.asarray(blocks)

    def get(self, first: int, count: int) -> np.ndarray:
        """Energies of blocks `first .. first+count-1` (0 where nothing was recorded)."""
        idx = np.arange(first, first + count, dtype=np.int64)
        slots = idx % RING
        valid = (self.stamps[slots] == idx) & (self.counts[slots] > 0)
        out = np.zeros(count)
        out[valid] = self.sums[slots[valid]] / self.counts[slots[valid]]
        return out


class EchoGuard:
    """One call's echo reference and the gate in front of its VAD."""

    def __init__(self, settings: EchoSettings, *, in_rate: int, out_rate: int,
                 call_id: str = "") -> None:
        self.settings = settings
        self.in_rate = in_rate
        self.out_rate = out_rate
        self.log = log.bind(call_id=call_id)
        self.reference = _Envelope()
        self.caller = _Envelope()
        self.path: EchoPath | None = None
        self.bound_gain = 10 ** (-settings.assume_loss_db / 10)  # energy ratio, unlocked
        self.margin = 10 ** (settings.margin_db / 10)
        self.min_lag = int(np.floor(settings.min_delay_ms * 1e6 / BLOCK_NS))
        self.max_lag = int(np.ceil(settings.max_delay_ms * 1e6 / BLOCK_NS))
        self.last_ref_block = -(10 ** 12)
        self.last_block = 0
        self._since_estimate = 0
        self.blocks_suppressed = 0
        self._stream_end = 0

    # --- TOM's side ----------------------------------------------------------------------------

    def played(self, pcm16: bytes, due_ns: int) -> None:
        """An outbound frame (PCM16 at `out_rate`) due to play at the far end at `due_ns`."""
        samples = np.frombuffer(pcm16, dtype="<i2").astype(np.float32) / 32768.0
        if len(samples):
            blocks = self.reference.add(samples, due_ns, self.out_rate)
            self.last_ref_block = max(self.last_ref_block, int(blocks[-1]))

    # --- the caller's side ---------------------------------------------------------------------

    def clean(self, samples: Samples, end_ts_ns: int) -> Samples:
        """Caller audio (at `in_rate`, last sample arriving at `end_ts_ns`) with blocks that may
        be TOM's echo silenced. Returns `samples` itself when nothing could be echo."""
        n = len(samples)
        if n == 0 or not self.settings.enabled:
            return samples
        end_ns = self._stream_time(n, end_ts_ns)
        first_ns = end_ns - int((n - 1) * 1e9 / self.in_rate)
        blocks = self.caller.add(samples, first_ns, self.in_rate)
        lo, hi = int(blocks[0]), int(blocks[-1])
        self._since_estimate += max(0, hi - self.last_block)
        self.last_block = max(self.last_block, hi)
        if lo - self.last_ref_block > self.max_lag + JITTER_BLOCKS:
            return samples  # TOM has not spoken within any echo delay: nothing to suppress
        if self._since_estimate >= ESTIMATE_EVERY:
            self._since_estimate = 0
            self._estimate(hi)
        heard = self.caller.get(lo, hi - lo + 1)
        expected = self._expected_echo(lo, hi - lo + 1)
        echo_only = heard <= expected * self.margin
        if not echo_only.any():
            return samples
        self.blocks_suppressed += int(echo_only.sum())
        keep = ~echo_only[blocks - lo]
        return np.where(keep, samples, 0.0).astype(np.float32)

    def _stream_time(self, n: int, arrival_ns: int) -> int:
        """When the last of `n` new samples was sent, on a clock that counts samples.

        Arrival stamps are late whenever the event loop was busy (TOM starting a reply is when
        it is busiest), which would shift the echo away from its measured delay. Audio never
        arrives early, so the clock follows the earliest arrivals and creeps towards later
        ones only slowly (a far end whose clock runs a little slow); a gap resynchronises it.
        """
        expected = self._stream_end + int(n * 1e9 / self.in_rate)
        late = arrival_ns - expected
        if self._stream_end == 0 or late < 0 or late > RESYNC_NS:
            expected = arrival_ns
        else:
            expected += int(late * CREEP)
        self._stream_end = expected
        return expected

    def _expected_echo(self, first: int, count: int) -> np.ndarray:
        """The loudest the echo of TOM's voice can be in blocks `first .. first+count-1`."""
        if self.path is not None:
            lag = round(self.path.delay_ms * 1e6 / BLOCK_NS)
            lo_lag, hi_lag = lag - JITTER_BLOCKS, lag + JITTER_BLOCKS
            gain = 10 ** (-self.path.loss_db / 10)
        else:
            lo_lag, hi_lag, gain = self.min_lag, self.max_lag, self.bound_gain
        span = hi_lag - lo_lag + 1
        ref = self.reference.get(first - hi_lag, count + span - 1)
        windows = np.lib.stride_tricks.sliding_window_view(ref, span)
        return np.asarray(windows.max(axis=1)) * gain

    def _estimate(self, last: int) -> None:
        """Find the echo delay and loss from the last 3 s, if TOM talked enough in them."""
        lags = np.arange(self.min_lag, self.max_lag + 1)
        first = last - WINDOW_BLOCKS + 1
        heard = self.caller.get(first, WINDOW_BLOCKS)
        ref = self.reference.get(first - int(lags[-1]), WINDOW_BLOCKS + len(lags) - 1)
        loud = ref.max(initial=0.0)
        if loud <= FLOOR:
            return
        active_ref = ref > loud * 10 ** (-QUIET_RATIO_DB / 10)
        if active_ref.sum() < MIN_ACTIVE:
            return
        log_heard = np.log10(np.maximum(heard, FLOOR))
        log_ref = np.log10(np.maximum(ref, loud * 1e-6))
        # column k of the view is the reference delayed by lags[-1] - k blocks
        view = np.lib.stride_tricks.sliding_window_view(log_ref, WINDOW_BLOCKS)[::-1]
        loud_log = np.log10(loud) - QUIET_RATIO_DB / 10  # TOM talking: the reference above this
        at_delay = view >= loud_log  # per lag, the blocks where TOM (at that lag) was talking
        corr = _correlation_while_talking(view, log_heard, at_delay, heard > FLOOR)
        if corr is None:  # a flat line (silence, a steady tone), or too little of TOM
            self._bound(_aligned_bound(view, log_heard, at_delay))
            return
        best = int(np.argmax(corr))
        lag = int(lags[best])
        # Where TOM's voice is loud at that lag, how loud is what came back? (upper quantile,
        # so a caller talking over a few blocks does not lower the bound and cut them off)
        aligned = view[best]
        strong = at_delay[best]
        ratios = heard[strong] / np.maximum(10 ** aligned[strong], FLOOR)
        if len(ratios) < MIN_ACTIVE:
            self._bound(_aligned_bound(view, log_heard, at_delay))
            return
        score = float(corr[best])
        talking = strong & (heard > FLOOR)
        steady = float(np.std(10 * (log_heard[talking] - aligned[talking]))) <= MAX_GAIN_SPREAD_DB
        if score >= LOCK_CORRELATION and steady:
            if self.path is not None and score < self.path.correlation - REPLACE_MARGIN:
                # Most likely the caller talking over TOM blurred this window: keep the path
                # found on cleaner audio, trusting it a little less each time.
                self.path = replace(self.path, correlation=self.path.correlation - DECAY)
                return
            # The median echo level, with headroom: robust to a caller talking over some blocks.
            median = max(float(np.median(ratios)), FLOOR)
            loss_db = max(MIN_LOSS_DB, -10 * float(np.log10(median)) - HEADROOM_DB)
            path = EchoPath(delay_ms=lag * BLOCK_NS // 1_000_000, loss_db=round(loss_db, 1),
                            correlation=round(score, 3))
            if self.path is None or abs(path.delay_ms - self.path.delay_ms) > 16:
                self.log.info("echo path found", delay_ms=path.delay_ms, loss_db=path.loss_db,
                              correlation=path.correlation)
            self.path = path
            return
        # No echo path to lock on: what came back while TOM spoke bounds the echo from above.
        windows = np.lib.stride_tricks.sliding_window_view(ref, len(lags)).max(axis=1)
        speaking = windows >= loud * 10 ** (-QUIET_RATIO_DB / 10)
        bound = float(np.quantile(heard[speaking] / np.maximum(windows[speaking], FLOOR), 0.95))
        aligned_bound = _aligned_bound(view, log_heard, at_delay)
        self._bound(bound if aligned_bound is None else min(bound, aligned_bound))

    def _bound(self, bound: float | None) -> None:
        """The unlocked echo bound (an energy ratio), never above `assume_loss_db`; None: keep
        the one there is."""
        if bound is not None:
            assumed = 10 ** (-self.settings.assume_loss_db / 10)
            self.bound_gain = min(assumed, max(bound, FLOOR))


def _aligned_bound(view: np.ndarray, log_heard: np.ndarray,
                   at_delay: np.ndarray) -> float | None:
    """The most the echo can be from what came back under TOM's voice at each delay: the
    largest per-delay median ratio, `ALIGNED_HEADROOM_DB` up; None until TOM has talked
    `MIN_ACTIVE` blocks at every delay (before, an echo may not be back yet at the longest).

    The 95th percentile over the whole delay range (the other bound) rises to a caller's level
    whenever the caller talks over a few of TOM's blocks ("yeah", "Sorry,"), and on a
    digitally silent line there were no ratios at all: the bound stayed at `assume_loss_db`,
    and a caller ~12 dB below TOM's loudest lost syllables to the guard while TOM talked. An
    echo follows TOM at its delay, under most of TOM's blocks: the median there finds it.
    """
    counts = at_delay.sum(axis=1)
    if int(counts.min()) < MIN_ACTIVE:
        return None
    ratios = np.sort(np.where(at_delay, log_heard[None, :] - view, np.inf), axis=1)
    medians = ratios[np.arange(len(ratios)), (counts - 1) // 2]  # the blocks TOM talked in
    return float(10 ** (medians.max() + ALIGNED_HEADROOM_DB / 10))


def _correlation_while_talking(view: np.ndarray, log_heard: np.ndarray, at_delay: np.ndarray,
                               received: np.ndarray) -> np.ndarray | None:
    """Per lag, the correlation of the caller's log envelope with TOM's over the blocks where
    TOM (at that lag) was talking and caller audio was received; None when there is too little.

    Only those blocks: an echo follows TOM's syllables while TOM talks. Over the whole window
    the turn-taking itself correlates — TOM talks, then the caller; both silent before the call
    began — and locked a path on lines with no echo at all, after which a caller talking over
    TOM was taken for echo.
    """
    mask = at_delay & received[None, :]
    n = mask.sum(axis=1)
    usable = n >= MIN_ACTIVE
    if not usable.any():
        return None
    safe_n = np.maximum(n, 1)
    h_mean = (mask * log_heard).sum(axis=1) / safe_n
    r_mean = (mask * view).sum(axis=1) / safe_n
    h = np.where(mask, log_heard[None, :] - h_mean[:, None], 0.0)
    r = np.where(mask, view - r_mean[:, None], 0.0)
    h_var = (h ** 2).sum(axis=1)
    if float(np.sqrt(h_var.max() / safe_n[int(np.argmax(h_var))])) < MIN_SPREAD:
        return None
    corr = (r * h).sum(axis=1) / (np.sqrt((r ** 2).sum(axis=1) * h_var) + 1e-12)
    return np.where(usable, corr, -1.0)
