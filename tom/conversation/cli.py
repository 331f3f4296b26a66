"""`tom eval` and `tom check-profile`; tom/cli.py mounts them with `register*(subparsers)`.

Each parser's `func` is a coroutine `func(args, settings)`, as tom/cli.py runs its commands;
`run_check_profile(args)` is the same as a plain function. Also runnable alone:
`python -m tom.conversation.cli eval --no-llm`.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import structlog

from tom.conversation.eval_conversations import (
    DEFAULT_FILES,
    evaluate_files,
    format_conversations,
)
from tom.conversation.evaluate import (
    DEFAULT_TURNS,
    TARGETS,
    LlmFn,
    default_model_path,
    evaluate,
    load_turns,
    local_llm,
)
from tom.conversation.offscript import (
    DEFAULT_OFFSCRIPT,
    evaluate_offscript,
    format_offscript,
    load_offscript,
)
from tom.conversation.offscript import (
    TARGETS as OFFSCRIPT_TARGETS,
)
from tom.conversation.profile import ProfileError, load_profile

if TYPE_CHECKING:
    Subcommands = argparse._SubParsersAction[argparse.ArgumentParser]


def register(subparsers: Subcommands) -> argparse.ArgumentParser:
    """Add `eval` to the `tom` command's subparsers; its handler is `eval_command`."""
    p = subparsers.add_parser("eval", help="score intents, answers and latency on labelled turns",
                              description=__doc__)
    p.add_argument("--profile", help="profile TOML for turns in its language (default: the demo)")
    p.add_argument("--turns", default=str(DEFAULT_TURNS), help="labelled turns TOML")
    p.add_argument("--llm", action=argparse.BooleanOptionalAction, default=False,
                   help="also generate LLM answers (default: --no-llm)")
    p.add_argument("--model", help="GGUF for --llm when no LLM is passed in (default: bundled)")
    p.add_argument("--offscript", default=str(DEFAULT_OFFSCRIPT), metavar="FILE",
                   help="labelled off-script turns (grounding); '' skips them")
    p.add_argument("--json", dest="json_path", metavar="FILE", help="write the full report here")
    p.add_argument("-v", "--verbose", action="store_true", help="print every turn")
    p.add_argument("--conversations", nargs="*", metavar="FILE", default=None,
                   help="multi-turn conversations TOML (default: the bundled tuned and held-out "
                        "sets; give no FILE to skip them)")
    p.set_defaults(func=eval_command)
    return p


def register_check_profile(subparsers: Subcommands) -> argparse.ArgumentParser:
    """Add `check-profile FILE`; its handler is `run_check_profile`."""
    p = subparsers.add_parser("check-profile", help="validate a business profile and show it")
    p.add_argument("file", help="profile TOML")
    p.add_argument("--language", default="en", help="language if the file does not say")
    p.add_argument("--json", action="store_true", help="print JSON instead of text")
    p.set_defaults(func=check_profile_command)
    return p


async def eval_command(args: argparse.Namespace, settings: Any = None,
                       llm: LlmFn | None = None) -> int:
    """`tom eval`; with `--llm` and no `llm` passed in, loads the GGUF from settings or bundled."""
    _quiet_logs()
    try:
        turns = load_turns(args.turns)
        off_turns = load_offscript(args.offscript) if args.offscript else []
        profiles = {"en": load_profile(None, "en"), "de": load_profile(None, "de")}
        if args.profile:
            custom = load_profile(args.profile)
            profiles[custom.language] = custom
    except (OSError, ValueError) as exc:
        print(f"tom eval: {exc}", file=sys.stderr)
        return 2
    if args.llm and llm is None:
        llm_settings = getattr(settings, "llm", None)
        model = args.model or getattr(llm_settings, "model_path", "") or default_model_path()
        if not model:
            print("tom eval: --llm needs --model FILE.gguf (no bundled model found)",
                  file=sys.stderr)
            return 2
        options = {k: getattr(llm_settings, k) for k in ("threads", "max_tokens", "temperature",
                                                         "context") if llm_settings}
        try:
            llm = await asyncio.to_thread(local_llm, model, **options)
        except ImportError:
            print("tom eval: --llm needs llama-cpp-python installed", file=sys.stderr)
            return 2
    report = await evaluate(turns, profiles, llm if args.llm else None)
    print(format_report(report, verbose=args.verbose))
    met = report["summary"]["targets_met"]
    if off_turns:  # with --llm, the LLM rewords the fact the gate found (grounding.rephrase)
        report["offscript"] = await evaluate_offscript(off_turns, profiles,
                                                       llm if args.llm else None)
        print(format_offscript(report["offscript"], verbose=args.verbose))
        report["answered_all"] = answered_all(report)
        print(f"answerable questions answered from the profile, both sets: "
              f"{report['answered_all']:.1%} (target {OFFSCRIPT_TARGETS['answered']:.0%})")
        off = report["offscript"]["summary"]
        met = (met and off["grounded"] >= OFFSCRIPT_TARGETS["grounded"]
               and off["invented_claims"] <= OFFSCRIPT_TARGETS["invented_claims"]
               and report["answered_all"] >= OFFSCRIPT_TARGETS["answered"])
    files = DEFAULT_FILES if args.conversations is None else args.conversations
    if files:  # multi-turn calls through the flows (eval_conversations.py)
        try:
            report["conversations"] = await evaluate_files(files, profiles)
        except (OSError, ValueError) as exc:
            print(f"tom eval: {exc}", file=sys.stderr)
            return 2
        print(format_conversations(report["conversations"], verbose=args.verbose))
        met = met and report["conversations"]["summary"]["targets_met"]
    if args.json_path:
        await asyncio.to_thread(_write_json, Path(args.json_path), report)
    return 0 if met else 1


def answered_all(report: dict[str, Any]) -> float:
    """Answerable questions of both sets (FAQ-style and off-script) answered with their facts."""
    faq = [t for t in report["turns"] if t["answer_ok"] is not None]
    off = [t for t in report["offscript"]["turns"] if t["answered"] is not None]
    total = len(faq) + len(off)
    ok = sum(bool(t["answer_ok"]) for t in faq) + sum(bool(t["answered"]) for t in off)
    return round(ok / total, 4) if total else 1.0


def _write_json(path: Path, report: dict[str, Any]) -> None:
    path.write_text(json.dumps(report, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")


async def check_profile_command(args: argparse.Namespace, settings: Any = None) -> int:
    return run_check_profile(args)


def run_check_profile(args: argparse.Namespace) -> int:
    """Print what TOM will know from the profile; exit 1 with the field's name when it is wrong."""
    try:
        profile = load_profile(args.file, args.language)
    except ProfileError as exc:
        print(f"profile error: {exc}", file=sys.stderr)
        return 1
    summary = profile.summary()
    summary["warnings"] = overlaps(profile)
    if args.json:
        print(json.dumps(summary, ensure_ascii=False, indent=2))
        return 0
    print(f"{summary['business']} ({summary['language']}), assistant {summary['assistant']}")
    for key in ("address", "phone", "hours", "transfer_number"):
        print(f"  {key:16} {summary[key]}")
    print(f"  services ({len(profile.services)}):")
    for s in summary["services"]:
        print(f"    {s}")
    print(f"  FAQ ({len(profile.faq)} answers, {sum(len(f.questions) for f in profile.faq)} phrasings):")
    for f in profile.faq:
        print(f"    [{f.id}] {f.questions[0]}  ->  {f.answer}")
    print(f"  facts the LLM may use: {len(profile.facts)}")
    for w in summary["warnings"]:
        print(f"  warning: {w}")
    print("profile OK")
    return 0


def overlaps(profile: Any) -> list[str]:
    """FAQ phrasings that do not find their own answer: callers asking them get another one."""
    out = []
    for entry in profile.faq:
        for q in entry.questions:
            hit = profile.retriever.direct_answer(q)
            if hit is None or hit.text != entry.answer:
                got = "no direct answer" if hit is None else f"'{hit.matched}'"
                out.append(f"faq '{entry.id}': \"{q}\" gives {got}")
    return out


def format_report(report: dict[str, Any], verbose: bool = False) -> str:
    s = report["summary"]
    lines = []
    if verbose:
        for r in report["turns"]:
            mark = "ok " if r["intent"] == r["expected"] and r["answer_ok"] is not False else "XX "
            lines.append(f"{mark}[{r['lang']}] {r['expected']:>9} -> {r['intent']:<9} "
                         f"{r['route']:<4} {r['text'][:60]!r}")
            if r["answer"] is not None and (r["answer_ok"] is not None or r["route"] == "llm"):
                lines.append(f"      answer: {r['answer']}")
            if r["missing"] or r["invented"]:
                lines.append(f"      missing: {r['missing']}  invented: {r['invented']}")
    lines += [
        f"turns: {s['turns']}  (LLM answers: {'yes' if s['llm'] else 'no'})",
        _line("intent accuracy", s["intent_accuracy"], TARGETS["intent_accuracy"]),
        _line("answer accuracy", s["answer_accuracy"], TARGETS["answer_accuracy"])
        + f"   over {s['faq_questions']} FAQ-style questions",
        f"  answered from FAQ directly: {s['answered_directly']:.1%}   "
        f"facts handed to the LLM were right: {s['context_recall']:.1%}",
        f"invented numbers: {s['invented_numbers']} (target 0)   "
        f"sentences blocked by the guard: {s['blocked_sentences']}",
        f"dialogue latency per turn: p50 {s['dialogue_ms']['p50']:.2f} ms, "
        f"p95 {s['dialogue_ms']['p95']:.2f} ms",
    ]
    if "llm_first_token_ms" in s:
        lines.append(f"LLM first token: p50 {s['llm_first_token_ms']['p50']:.0f} ms, "
                     f"p95 {s['llm_first_token_ms']['p95']:.0f} ms; whole answer p50 "
                     f"{s['llm_total_ms']['p50']:.0f} ms, p95 {s['llm_total_ms']['p95']:.0f} ms")
    lines.append("targets met" if s["targets_met"] else "TARGETS NOT MET")
    return "\n".join(lines)


def _line(name: str, value: float, target: float) -> str:
    return f"{name}: {value:.1%} (target {target:.0%}) {'ok' if value >= target else 'BELOW'}"


def _quiet_logs() -> None:
    """Per-turn debug logs would drown the report; keep warnings unless logging is set up."""
    if not structlog.is_configured():
        structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.ERROR))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="tom")
    sub = parser.add_subparsers(dest="command", required=True)
    register(sub)
    register_check_profile(sub)
    args = parser.parse_args(argv)
    code: int = asyncio.run(args.func(args, None))
    return code


if __name__ == "__main__":
    sys.exit(main())
