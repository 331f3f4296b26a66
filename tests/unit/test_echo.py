"""The echo guard: TOM's own voice coming back never starts a caller turn; a caller still does."""

import numpy as np
import pytest

from tom.audio import float_to_pcm16, pcm16_to_float, resample, ulaw_decode, ulaw_encode
from tom.config import Settings
from tom.engine.echo import EchoGuard
from tom.engine.vad import SileroStream, TurnDetector, load_silero
from tom.models import resolve_vad

OUT_RATE = 8000
IN_RATE = 16000
FRAME_NS = 20_000_000
TOM_TEXT = ("Hello, you've reached the Green Leaf dental practice. I can book an appointment, "
            "take a message or answer questions about opening hours.")


@pytest.fixture(scope="module")
def session():
    return load_silero(str(resolve_vad(Settings()).path), 1)


def phone(audio16k: np.ndarray) -> np.ndarray:
    """Through a μ-law phone line and back to 16 kHz, as the caller's audio reaches TOM."""
    pcm = float_to_pcm16(resample(np.clip(audio16k, -1, 1), IN_RATE, OUT_RATE))
    return resample(pcm16_to_float(ulaw_decode(ulaw_encode(pcm))), OUT_RATE, IN_RATE)


def simulate(session, tom: np.ndarray, *, echo_db: float, delay_ms: int,
             caller: np.ndarray | None = None, caller_at_s: float = 0.0, guard: bool = True,
             noise_db: float = -60.0, stalls: tuple[float, ...] = ()):
    """Play `tom` (16 kHz) out in 20 ms frames while the line sends its echo (and a caller)
    back; returns the speech starts the VAD saw and the guard."""
    rng = np.random.default_rng(7)
    out = resample(tom, IN_RATE, OUT_RATE)
    out_frames = [out[i:i + 160] for i in range(0, len(out), 160)]
    total = len(tom) + IN_RATE * 2
    line = np.zeros(total)
    d = int(delay_ms * IN_RATE / 1000)
    line[d:d + len(tom)] += tom * 10 ** (echo_db / 20)
    if caller is not None:
        at = int(caller_at_s * IN_RATE)
        line[at:at + len(caller)] += caller[:total - at]
    line += rng.normal(0, 10 ** (noise_db / 20), total)
    line = phone(line)
    echo = EchoGuard(Settings().echo, in_rate=IN_RATE, out_rate=OUT_RATE)
    starts: list[int] = []
    det = TurnDetector(SileroStream(session), Settings().vad, on_speech_start=starts.append,
                       on_turn=lambda _: None)
    t0 = 10**12
    stalled = {int(at * 50) + i: 7 - i for at in stalls for i in range(8)}
    for k in range(total // 320):
        due = t0 + k * FRAME_NS
        if k < len(out_frames):
            echo.played(float_to_pcm16(out_frames[k]), due)
        chunk = line[k * 320:(k + 1) * 320].astype(np.float32)
        # a busy event loop reads a few frames late, all at once
        end = due + FRAME_NS + stalled.get(k, 0) * FRAME_NS
        det.feed(chunk, end, echo.clean(chunk, end) if guard else None)
    return starts, echo


@pytest.mark.parametrize(("echo_db", "delay_ms"), [(-20, 20), (-20, 400), (-25, 120),
                                                   (-30, 250)])
def test_tom_echo_alone_starts_no_turn(session, speech, echo_db, delay_ms):
    tom = speech(TOM_TEXT) * 0.8
    starts, echo = simulate(session, tom, echo_db=echo_db, delay_ms=delay_ms)
    assert starts == []
    assert echo.path is not None and abs(echo.path.delay_ms - delay_ms) <= 24


def test_late_arrivals_from_a_busy_loop_are_not_taken_for_a_caller(session, speech):
    tom = speech(TOM_TEXT) * 0.8
    starts, _ = simulate(session, tom, echo_db=-20, delay_ms=60,
                         stalls=(2.5, 3.3, 4.1, 4.9, 5.7, 6.5))
    assert starts == []


def test_without_the_guard_the_echo_starts_turns(session, speech):
    """The condition the guard exists for: Silero alone takes TOM's echo for a caller."""
    tom = speech(TOM_TEXT) * 0.8
    starts, _ = simulate(session, tom, echo_db=-25, delay_ms=120, guard=False)
    assert starts


@pytest.mark.parametrize("at_s", [0.5, 4.0])  # before and after the echo path is measured
def test_caller_talking_over_the_echo_still_barges_in(session, speech, at_s):
    tom = speech(TOM_TEXT) * 0.8
    caller = speech("Sorry, I need to cancel my appointment for tomorrow.") * 0.45
    starts, _ = simulate(session, tom, echo_db=-20, delay_ms=180, caller=caller,
                         caller_at_s=at_s)
    assert starts
    assert (starts[0] - 10**12) / 1e9 - at_s < 0.6


def test_audio_passes_untouched_when_tom_is_silent():
    echo = EchoGuard(Settings().echo, in_rate=IN_RATE, out_rate=OUT_RATE)
    chunk = np.random.default_rng(1).normal(0, 0.01, 320).astype(np.float32)
    assert echo.clean(chunk, 10**12) is chunk
    echo.played(float_to_pcm16(np.full(160, 0.5)), 10**12)
    later = 10**12 + 2_000_000_000  # long past any echo delay
    assert echo.clean(chunk, later) is chunk


def test_bad_input_does_not_break_the_guard():
    echo = EchoGuard(Settings().echo, in_rate=IN_RATE, out_rate=OUT_RATE)
    rng = np.random.default_rng(3)
    t = 10**12
    for _ in range(400):
        t += FRAME_NS
        echo.played(rng.integers(-32768, 32767, 160, dtype=np.int16).tobytes(), t)
        for chunk in (np.ones(320, np.float32), np.zeros(320, np.float32),
                      np.clip(rng.normal(0, 3, 320), -1, 1).astype(np.float32),
                      np.zeros(0, np.float32), np.ones(7, np.float32) * 0.3):
            out = echo.clean(chunk, t)
            assert out.shape == chunk.shape and np.isfinite(out).all()


@pytest.mark.parametrize("noise_db", [-60, -45])
@pytest.mark.parametrize("gap_s", [0.3, 0.8])
def test_a_line_without_echo_finds_no_echo_path(session, speech, noise_db, gap_s):
    """TOM talks, the caller answers after a gap, TOM talks again: the turn-taking itself (and
    the silence before the call) must not pass for an echo, or a caller talking over TOM later
    would be taken for one."""
    first = speech(TOM_TEXT) * 0.8
    second = speech("Our opening hours are Monday to Friday from nine to six.") * 0.8
    caller = speech("Hi, are you open on Saturday?") * 0.5
    gap = np.zeros(int(IN_RATE * gap_s))
    tom = np.concatenate([first, gap, np.zeros(len(caller)), gap, second])
    heard = np.concatenate([np.zeros(len(first)), gap, caller])
    _, echo = simulate(session, tom, echo_db=-200, delay_ms=0, caller=heard, noise_db=noise_db)
    assert echo.path is None


def test_an_echo_is_found_through_the_turn_taking(session, speech):
    first = speech(TOM_TEXT) * 0.8
    caller = speech("Hi, are you open on Saturday?") * 0.5
    gap = np.zeros(IN_RATE // 2)
    tom = np.concatenate([first, gap, np.zeros(len(caller)), gap, first])
    heard = np.concatenate([np.zeros(len(first) + IN_RATE * 3 // 10), gap, caller])
    _, echo = simulate(session, tom, echo_db=-25, delay_ms=300, caller=heard)
    assert echo.path is not None and abs(echo.path.delay_ms - 300) <= 24


# piper renders these voices afresh in each process; about one rendering in many correlates
# steadily by chance (2026-11-30: 0.65 at 72 ms, 11 dB) — re-run once with a fresh rendering.
@pytest.mark.flaky(reruns=1)
@pytest.mark.parametrize("seed", [0, 3, 5])
def test_a_caller_talking_over_short_bits_of_tom_is_no_echo(session, speech, seed):
    """TOM starts answers the caller talks over (barge-ins): over those few blocks the two
    voices correlate by chance; an echo would also come back at a steady level, they do not."""
    caller = speech("Hi, so I have a fairly old racing bike that has been standing in my garage "
                    "for about two years, the chain is rusty and the brakes barely work.") * 0.5
    bits = [speech(t) * 0.8 for t in ("I'm not sure.", "I'm", "The chain replacement costs")]
    rng = np.random.default_rng(seed)
    tom = np.zeros(len(caller) + IN_RATE * 3, np.float32)
    for _ in range(4):
        bit = bits[rng.integers(len(bits))]
        at = int(rng.uniform(0.5, len(caller) / IN_RATE - 0.5) * IN_RATE)
        tom[at:at + len(bit)] += bit[:len(tom) - at]
    _, echo = simulate(session, tom, echo_db=-200, delay_ms=0, caller=caller, caller_at_s=0.3)
    assert echo.path is None


def test_an_echo_under_line_noise_is_still_found(session, speech):
    _, echo = simulate(session, speech(TOM_TEXT) * 0.8, echo_db=-25, delay_ms=200, noise_db=-45)
    assert echo.path is not None and abs(echo.path.delay_ms - 200) <= 24


def test_a_soft_caller_over_tom_is_heard_on_a_silent_line_without_echo(session, speech):
    """No echo, a digitally silent line (VoIP silence suppression, a browser's noise gate), a
    caller who said "Yeah." over TOM: then a caller 20 dB under TOM talking over it must start
    a turn. With no ratios to go on (nothing came back) and "Yeah." lifting the 95th
    percentile, the guard's bound stayed at `assume_loss_db` for the whole call and such a
    caller was never heard while TOM talked (in a bench run a whole sentence was lost)."""
    tom = np.concatenate([speech(TOM_TEXT), speech(TOM_TEXT)]) * 0.8
    yeah = speech("Yeah.") * 0.5
    soft = speech("I only need the price of the basic service.") * 0.8 * 10 ** (-20 / 20)
    at_s = 6.0
    heard = np.zeros(int(IN_RATE * (at_s + 4)))
    heard[IN_RATE:IN_RATE + len(yeah)] += yeah
    start = int(IN_RATE * at_s)
    heard[start:start + len(soft)] += soft
    starts, echo = simulate(session, tom, echo_db=-200, delay_ms=0, caller=heard,
                            noise_db=-200)
    assert echo.path is None
    later = [(s - 10**12) / 1e9 - at_s for s in starts if (s - 10**12) / 1e9 > at_s - 0.2]
    assert later and later[0] < 0.6, starts


def test_an_echo_not_back_yet_keeps_the_assumed_bound(session, speech):
    """On a silent line the first estimates come before a long-delayed echo is back: the bound
    by delay waits until TOM has talked at every delay, so the greeting's echo is not let in."""
    starts, echo = simulate(session, speech(TOM_TEXT) * 0.8, echo_db=-20, delay_ms=600,
                            noise_db=-200)
    assert starts == []
    assert echo.path is not None
