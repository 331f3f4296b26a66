// One call's conversation as chat bubbles: the caller on the left, TOM on the right.
// Lines TOM could not finish (the caller barged in) are marked, followed by the barge-in itself.
// A caller who went on after a pause TOM took for the end gets one line for the whole sentence
// (`joins`); the cut-off line it holds is shown struck through.

import type { BargeIn, TranscriptLine } from "../api/types";
import { useStickToBottom } from "../hooks/useStickToBottom";
import { formatMs } from "../state/stats";

interface TranscriptProps {
  lines: TranscriptLine[];
  bargeIns: BargeIn[];
  dtmf?: string[];
}

type Item =
  | { kind: "line"; line: TranscriptLine; key: string }
  | { kind: "barge"; barge: BargeIn; key: string };

export const ROLE_LABEL = { caller: "Caller", assistant: "TOM" } as const;

/** Lines in arrival order; each barge-in goes right after TOM's line of the turn it cut. */
export function transcriptItems(lines: TranscriptLine[], bargeIns: BargeIn[]): Item[] {
  const items: Item[] = lines.map((line, i) => ({ kind: "line", line, key: `l${i}` }));
  bargeIns.forEach((barge, i) => {
    const item: Item = { kind: "barge", barge, key: `b${i}` };
    let at = -1;
    items.forEach((it, j) => {
      if (it.kind === "line" && it.line.role === "assistant" && it.line.turn === barge.turn) at = j;
    });
    if (at < 0) {
      items.forEach((it, j) => {
        if (it.kind === "line" && it.line.turn <= barge.turn) at = j;
      });
    }
    items.splice(at + 1, 0, item);
  });
  return items;
}

export function Transcript({ lines, bargeIns, dtmf = [] }: TranscriptProps) {
  const scroller = useStickToBottom<HTMLDivElement>(lines.length + bargeIns.length);
  if (!lines.length && !bargeIns.length) {
    return <p className="empty">Nothing said yet.</p>;
  }
  const superseded = supersededTurns(lines);
  return (
    <>
      <div className="transcript-scroll" role="log" aria-label="Transcript" tabIndex={0} {...scroller}>
        <ol className="transcript">
        {transcriptItems(lines, bargeIns).map((item) =>
          item.kind === "line" ? (
            <TranscriptBubble key={item.key} line={item.line} superseded={superseded} />
          ) : (
            <BargeInMark key={item.key} barge={item.barge} />
          ),
        )}
        </ol>
      </div>
      {dtmf.length > 0 && (
        <p className="dtmf">
          Keys pressed: <kbd>{dtmf.join(" ")}</kbd>
        </p>
      )}
    </>
  );
}

/** Caller turns whose words a later caller line holds too (that line `joins` them). */
export function supersededTurns(lines: TranscriptLine[]): Set<number> {
  return new Set(lines.flatMap((l) => (l.role === "caller" && l.joins != null ? [l.joins] : [])));
}

function TranscriptBubble({ line, superseded }: { line: TranscriptLine; superseded: Set<number> }) {
  const cut = line.role === "caller" && superseded.has(line.turn);
  const classes = `bubble bubble-${line.role}${line.interrupted ? " bubble-interrupted" : ""}${cut ? " bubble-superseded" : ""}`;
  return (
    <li className={classes} data-role={line.role}>
      <span className="bubble-role">{ROLE_LABEL[line.role]}</span>
      <span className="bubble-text">{line.text}</span>
      {line.interrupted && (
        <span className="interrupted-mark" title="The caller spoke over TOM here">
          interrupted
        </span>
      )}
      {line.role === "caller" && line.joins != null && (
        <span className="joined-mark" title={`The caller went on after a pause: this holds turn ${line.joins} too`}>
          went on after a pause
        </span>
      )}
    </li>
  );
}

function BargeInMark({ barge }: { barge: BargeIn }) {
  return (
    <li className="barge-in" data-testid="barge-in">
      <span aria-hidden="true">⤺ </span>
      Caller barged in (turn {barge.turn}); TOM stopped in {formatMs(barge.reaction_ms)}
      {barge.heard ? (
        <>
          {" "}
          after saying <q>{barge.heard}</q>
        </>
      ) : null}
    </li>
  );
}
