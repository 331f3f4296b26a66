// The chosen call: who, how, how long, what was said and how fast TOM answered each turn.

import { callerLabel, formatClock, formatDuration, humanize } from "../format";
import { callDuration, type CallView } from "../state/calls";
import { LatencyWaterfall } from "./LatencyWaterfall";
import { Transcript } from "./Transcript";

interface SelectedCallProps {
  call: CallView | null;
  loadError: string | null;
  nowMs: number;
  clockOffsetS: number;
}

export function SelectedCall({ call, loadError, nowMs, clockOffsetS }: SelectedCallProps) {
  if (!call) {
    return (
      <section className="panel selected" aria-labelledby="selected-heading">
        <h2 id="selected-heading">Call</h2>
        <p className="empty">No call selected. Calls appear on the left as they come in.</p>
      </section>
    );
  }
  return (
    <section className="panel selected" aria-labelledby="selected-heading" data-call-id={call.id}>
      <h2 id="selected-heading">{callerLabel(call.caller)}</h2>
      <dl className="call-facts">
        <div>
          <dt>Line</dt>
          <dd>{call.transport || "–"}</dd>
        </div>
        <div>
          <dt>{call.ended ? "Outcome" : "State"}</dt>
          <dd>{call.ended ? humanize(call.outcome) || "ended" : humanize(call.state) || "–"}</dd>
        </div>
        <div>
          <dt>Started</dt>
          <dd>{formatClock(call.started_at) || "–"}</dd>
        </div>
        <div>
          <dt>Duration</dt>
          <dd>{formatDuration(callDuration(call, nowMs, clockOffsetS))}</dd>
        </div>
      </dl>
      {loadError && <p className="notice">Could not load the call's history: {loadError}</p>}
      <div className="selected-body">
        <section aria-labelledby="transcript-heading">
          <h3 id="transcript-heading">Transcript</h3>
          <Transcript lines={call.transcript} bargeIns={call.bargeIns} dtmf={call.dtmf} />
        </section>
        <section aria-labelledby="waterfall-heading">
          <h3 id="waterfall-heading">Latency per turn</h3>
          <LatencyWaterfall turns={call.turns} />
        </section>
      </div>
    </section>
  );
}
