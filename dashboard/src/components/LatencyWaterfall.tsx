// Per-turn latency of one call as horizontal bars on a shared time axis (0 = caller stopped speaking).

import type { TurnTiming } from "../api/types";
import { formatMs } from "../state/stats";
import { barGeometry, queueGeometry, turnTotalMs, waterfallBars, waterfallScaleMs } from "../state/waterfall";

export function LatencyWaterfall({ turns }: { turns: TurnTiming[] }) {
  const measured = turns.filter((turn) => waterfallBars(turn).length > 0);
  if (!measured.length) {
    return <p className="empty">No measured turns yet.</p>;
  }
  const scaleMs = waterfallScaleMs(measured);
  return (
    <div className="waterfall">
      <p className="muted waterfall-note">Time from the moment the caller stopped speaking.</p>
      <p className="waterfall-axis" aria-hidden="true">
        <span>0 ms</span>
        <span>{formatMs(scaleMs)}</span>
      </p>
      <ol className="waterfall-turns">
        {measured.map((turn) => (
          <TurnBars key={turn.turn} turn={turn} scaleMs={scaleMs} />
        ))}
      </ol>
    </div>
  );
}

function TurnBars({ turn, scaleMs }: { turn: TurnTiming; scaleMs: number }) {
  const bars = waterfallBars(turn);
  return (
    <li className="waterfall-turn" data-turn={turn.turn}>
      <p className="waterfall-title">
        Turn {turn.turn}
        {turn.intent ? <span className="tag">{turn.intent.replaceAll("_", " ")}</span> : null}
        <span className="waterfall-total">{formatMs(turnTotalMs(turn))} to first audio out</span>
      </p>
      <ul className="waterfall-bars">
        {bars.map((bar) => {
          const { left, width } = barGeometry(bar, scaleMs);
          const queue = queueGeometry(bar);
          return (
            <li key={bar.stage} className="waterfall-row">
              <span className="waterfall-label">{bar.label}</span>
              <span className="waterfall-track">
                <span
                  className={`waterfall-bar stage-${bar.stage}`}
                  data-stage={bar.stage}
                  style={{ marginLeft: `${left}%`, width: `${width}%` }}
                >
                  {queue && (
                    <span
                      className="waterfall-queue"
                      data-queue={bar.stage}
                      style={{ marginLeft: `${queue.left}%`, width: `${queue.width}%` }}
                    />
                  )}
                </span>
              </span>
              <span className="waterfall-value">
                {formatMs(bar.endMs - bar.startMs)}
                <span className="sr-only">
                  , from {formatMs(bar.startMs)} to {formatMs(bar.endMs)}
                </span>
                {bar.queueMs !== undefined && (
                  <span className="waterfall-queue-value" data-queue-ms={bar.queueMs}>
                    {formatMs(bar.queueMs)} queue
                  </span>
                )}
              </span>
            </li>
          );
        })}
      </ul>
    </li>
  );
}
