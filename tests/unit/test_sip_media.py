"""FrameBuffer: TOM's audio in whole 20 ms frames to the RTP clock, marks reached in order."""

from __future__ import annotations

from tom.telephony.sip.media import FRAME_BYTES, FrameBuffer, Marked


def buffer() -> tuple[FrameBuffer, list[bytes | Marked]]:
    seen: list[bytes | Marked] = []
    return FrameBuffer(seen.append), seen


def test_audio_is_cut_into_whole_frames_and_a_tail_waits():
    buf, _ = buffer()
    buf.put(b"\x01" * (FRAME_BYTES + 100))
    assert buf.next_frame() == b"\x01" * FRAME_BYTES
    assert buf.next_frame() is None  # 100 bytes wait for the rest of their frame
    buf.put(b"\x02" * (FRAME_BYTES - 100))
    assert buf.next_frame() == b"\x01" * 100 + b"\x02" * (FRAME_BYTES - 100)


def test_a_mark_is_reached_when_the_audio_before_it_has_gone_out():
    buf, seen = buffer()
    buf.put(b"\x01" * FRAME_BYTES)
    buf.mark("turn-1")
    buf.put(b"\x02" * FRAME_BYTES)
    assert buf.next_frame() == b"\x01" * FRAME_BYTES
    assert seen == []
    assert buf.next_frame() == b"\x02" * FRAME_BYTES
    assert seen == [Marked("turn-1")]


def test_a_mark_pads_a_short_tail_to_a_frame():
    buf, seen = buffer()
    buf.put(b"\x03" * 10)
    buf.mark("end")
    assert buf.next_frame() == b"\x03" * 10 + bytes(FRAME_BYTES - 10)
    assert buf.next_frame() is None
    assert seen == [Marked("end")]


def test_clear_drops_audio_and_reports_its_marks():
    buf, seen = buffer()
    buf.put(b"\x01" * FRAME_BYTES * 3)
    buf.mark("a")
    buf.put(b"\x01" * 10)
    buf.clear()
    assert seen == [Marked("a")]
    assert buf.queued_frames == 0
    assert buf.next_frame() is None


def test_received_audio_goes_to_the_loop_and_first_audio_is_timed():
    buf, seen = buffer()
    assert buf.first_audio_ns == 0
    buf.received(b"\x05" * FRAME_BYTES)
    assert seen == [b"\x05" * FRAME_BYTES]
    buf.put(b"\x01" * FRAME_BYTES)
    buf.next_frame()
    assert buf.first_audio_ns > 0


def test_pjsip_log_lines_are_rate_limited_and_drops_counted():
    from tom.telephony.sip.stack import LogBudget

    now = [100.0]
    budget = LogBudget(per_s=2, clock=lambda: now[0])
    assert [budget.take() for _ in range(4)] == [(True, 0), (True, 0), (False, 0), (False, 0)]
    now[0] = 101.2
    assert budget.take() == (True, 2)
    assert budget.take() == (True, 0)
