"""The end-of-run table: each figure beside its target, green when met and red when missed."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.table import Table

from tom.bench.report import BenchReport


def _ms(value: float | None) -> str:
    return "—" if value is None else f"{value:.0f}"


def _pct(value: float | None) -> str:
    return "—" if value is None else f"{100 * value:.1f} %"


def _mark(ok: bool | None) -> str:
    return "[dim]n/a[/dim]" if ok is None else "[green]ok[/green]" if ok else "[red]MISSED[/red]"


def render(report: BenchReport, console: Console) -> None:
    """Print the summary table (and the sweep, failures and mojibake examples when present)."""
    data = report.to_dict()
    checks = {c["name"]: c for c in data["checks"]}
    table = Table(title=f"tom bench — {data['calls']['total']} calls, "
                        f"concurrency {data['meta'].get('concurrency')}, "
                        f"language {data['meta'].get('language')}"
                        + (f"\nline: {line}" if (line := conditions(data["meta"])) else ""),
                  caption="latency targets are judged on p95; times in ms")
    for col in ("figure", "p50", "p95", "max", "n", "target", "result"):
        table.add_column(col, justify="left" if col == "figure" else "right")
    _stage_rows(table, data, checks)
    _latency_rows(table, data, checks)
    _quality_rows(table, data, checks)
    console.print(table)
    _extras(console, data)


def conditions(meta: dict[str, Any]) -> str:
    """The line conditions of a run in words ("" for a clean phone line)."""
    parts = []
    if meta.get("line_echo"):
        parts.append(str(meta["line_echo"]))
    if meta.get("noise_snr_db") is not None:
        parts.append(f"pink noise {meta['noise_snr_db']:g} dB SNR")
    if meta.get("babble_snr_db") is not None:
        parts.append(f"babble {meta['babble_snr_db']:g} dB SNR")
    if meta.get("pause_ms"):
        parts.append(f"{meta['pause_ms']} ms pauses mid-sentence")
    if meta.get("backchannels"):
        parts.append("backchannels while TOM talks")
    if meta.get("phone_path") is False:
        parts.append("no phone band filter")
    return ", ".join(parts)


# TOM's own stage figures; each compute stage follows the wait for its worker thread.
STAGE_ROWS = (("vad_wait", "VAD wait"),
              ("stt_queue", "  STT queue wait"), ("stt", "STT compute"),
              ("llm_queue", "  LLM queue wait"), ("llm_first_token", "LLM first token"),
              ("tts_queue", "  TTS queue wait"), ("tts_first_audio", "TTS first audio"),
              ("e2e_server", "e2e (TOM)"))


def _stage_rows(table: Table, data: dict[str, Any], checks: dict[str, Any]) -> None:
    for name, label in STAGE_ROWS:
        s = data["stages"].get(name)
        if s is None:  # a figure older reports did not have
            continue
        check = checks.get(f"{name} p95 ms")
        table.add_row(label, _ms(s["p50"]), _ms(s["p95"]), _ms(s["max"]), str(s["count"]),
                      _ms(s["target_ms"]) if s["target_ms"] else "",
                      _mark(check["ok"]) if check else "")


def _latency_rows(table: Table, data: dict[str, Any], checks: dict[str, Any]) -> None:
    e2e = data["e2e"]
    table.add_row("[bold]e2e (caller)[/bold]", _ms(e2e["p50"]), _ms(e2e["p95"]), _ms(e2e["max"]),
                  str(e2e["count"]), _ms(e2e["target_ms"]),
                  _mark(checks["e2e p95 ms (caller)"]["ok"]))
    for kind, label in (("faq", "  FAQ and flow turns"), ("offscript", "  off-script turns")):
        s = data.get("by_kind", {}).get(kind, {}).get("e2e")
        if s is None:  # a figure older reports did not have
            continue
        check = checks.get("e2e p95 ms (off-script)") if kind == "offscript" else None
        table.add_row(label, _ms(s["p50"]), _ms(s["p95"]), _ms(s["max"]), str(s["count"]),
                      _ms(check["target"]) if check else "",
                      _mark(check["ok"]) if check else "")
    talk = data["talk_over"]
    table.add_row("TOM talked over caller", str(talk["turns"]), "", "", str(talk["of"]), "", "")
    pauses = data.get("pauses")
    if pauses:
        check = checks.get("pauses that ended the turn %")
        table.add_row("  pauses that ended the turn", f"{pauses['ended']} ({pauses['ended_pct']} %)",
                      "", "", str(pauses["of"]), f"< {pauses['target_pct']:g} %",
                      _mark(check["ok"]) if check else "")
        if "talked_over_elsewhere" in pauses:  # JSON of runs before 2026-12-01 lack it
            table.add_row("  … talked over at another pause", str(pauses["talked_over_elsewhere"]),
                          "", "", str(pauses["of"]), "", "")
    errors = data.get("barge_in_errors")
    if errors:
        table.add_row("false / missed barge-ins", f"{errors['false']} / {errors['missed']}", "",
                      "", str(errors["calls"]), "0 / 0", "")
    bc = data.get("backchannels")
    if bc:
        check = checks.get("backchannels TOM went on")
        table.add_row("backchannels: TOM went on", _pct(bc["rate"]), "", "", str(bc["played"]),
                      f"≥ {_pct(bc['target'])}", _mark(check["ok"]) if check else "")
        table.add_row("  stopped TOM / answered as a turn", f"{bc['stopped']} / {bc['answered']}",
                      "", "", str(bc["played"]), "0 / 0", "")
        table.add_row("  TOM paused (clear) / not played", f"{bc['paused']} / "
                      f"{bc['planned'] - bc['played']}", "", "", str(bc["planned"]), "", "")
    for key, label in (("greeting", "greeting (caller)"), ("barge_in", "barge-in → clear"),
                       ("barge_in_server", "barge-in (TOM)")):
        s = data[key]
        table.add_row(label, _ms(s["p50"]), _ms(s["p95"]), _ms(s["max"]), str(s["count"]), "", "")


def _quality_rows(table: Table, data: dict[str, Any], checks: dict[str, Any]) -> None:
    acc = data["accuracy"]
    table.add_row("accuracy (1 − WER)", _pct(acc["value"]), "", "", str(acc["words"]),
                  _pct(acc["target"]), _mark(checks["accuracy"]["ok"]))
    for lang, a in acc["by_language"].items():
        table.add_row(f"  accuracy {lang}", _pct(a["accuracy"]), "", "", str(a["words"]), "", "")
    rec = acc.get("recorded")
    if rec:
        table.add_row("  stock Whisper, same audio", _pct(rec["stock"]), "", "",
                      str(rec["words"]), "", "")
        table.add_row("  TOM below stock (points)", f"{rec['gap_points']:.1f}", "", "", "",
                      "≤ 1.0", _mark(rec["gap_points"] <= 1.0))
    facts, intents = data["facts"], data["intents"]
    table.add_row("answer facts", _pct(facts["rate"]), "", "", str(facts["total"]), "", "")
    table.add_row("intent", _pct(intents["rate"]), "", "", str(intents["total"]), "", "")
    off = data.get("offscript")
    if off:
        table.add_row("off-script grounded", _pct(off["rate"]), "", "", str(off["turns"]), "", "")
    lid = data.get("language_id")
    if lid and lid["calls"] and len(data["accuracy"]["by_language"]) > 1:
        table.add_row("language ID (1st turn)", _pct(lid["rate"]), "", "", str(lid["calls"]),
                      _pct(lid["target"]), _mark(lid["rate"] >= lid["target"]))
    table.add_row("mojibake", str(data["mojibake"]["total"]), "", "", "", "0",
                  _mark(checks["mojibake"]["ok"]))
    calls = data["calls"]
    table.add_row("failed calls", f"{calls['failed_pct']:.1f} %", "", "", str(calls["total"]),
                  f"< {calls['target_pct']:g} %", _mark(checks["failed calls %"]["ok"]))
    res = data["resources"]
    table.add_row(f"CPU ({res['source']})", "—" if res["cpu_percent"] is None
                  else f"{res['cpu_percent']:.0f} %", "", "", "", "", "")
    table.add_row("peak RSS", "—" if res["peak_rss_mb"] is None
                  else f"{res['peak_rss_mb']:.0f} MB", "", "", "", "", "")


def _extras(console: Console, data: dict[str, Any]) -> None:
    sweep = data.get("sweep")
    if sweep:
        t = Table(title="concurrency sweep (held: p95 e2e ≤ 1000 ms and failed < 2 %)")
        for col in ("concurrency", "calls", "e2e p50", "e2e p95", "failed %", "held",
                    "queue p95 stt/llm/tts", "barge-in p95", "CPU s / call-min", "MB / call"):
            t.add_column(col, justify="right")
        for level in sweep["levels"]:
            cost = level.get("cost") or {}
            t.add_row(str(level["concurrency"]), str(level["calls"]), _ms(level["e2e_p50"]),
                      _ms(level["e2e_p95"]), f"{level['failed_pct']:.1f}",
                      _mark(level["held"]),
                      "/".join(_ms(v) for v in (level.get("queue_p95_ms") or {}).values()),
                      _ms(level.get("barge_in_p95_ms")),
                      _num(cost.get("cpu_s_per_call_minute", {}).get("total")),
                      _num(cost.get("rss_mb_per_call")))
        console.print(t)
        console.print(f"largest concurrency that held: [bold]{sweep['max_held']}[/bold]")
    if data.get("cost"):
        _cost(console, data["cost"])
    for f in data["calls"]["failures"][:10]:
        console.print(f"[red]failed[/red] {f['script']} ({f['call_sid']}): {f['failure']}")
    for example in data["mojibake"]["examples"][:5]:
        console.print(f"[red]mojibake[/red]: {example!r}")


def _cost(console: Console, cost: dict[str, Any]) -> None:
    """CPU seconds per call-minute by stage (a core gives 60 a minute) and memory per call."""
    per = cost.get("cpu_s_per_call_minute") or {}
    if not per:
        return
    stages = "  ".join(f"{k} {v:.1f}" for k, v in per.items() if k != "total")
    console.print(f"CPU per call-minute: [bold]{per['total']:.1f} s[/bold] ({stages}); "
                  f"memory per call: {_num(cost.get('rss_mb_per_call'))} MB "
                  f"({cost.get('note', '')})")


def _num(value: object) -> str:
    return f"{value:.1f}" if isinstance(value, (int, float)) else "—"
