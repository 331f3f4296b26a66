// p50/p95 latency per stage against its target: green within, amber up to 1.5x, red beyond.

import type { StageStats, Stats } from "../api/types";
import { formatMs, latencyLevel, levelText, orderedStages, queueStats, STAGE_LABELS, tileLevel } from "../state/stats";

export function StatsTiles({ stats, error }: { stats: Stats | null; error?: string | null }) {
  const all = stats?.stages ?? {};
  const stages = stats ? orderedStages(all) : [];
  return (
    <section className="panel" aria-labelledby="latency-heading">
      <h2 id="latency-heading">
        Latency{stats?.window_s ? <span className="count"> (last {Math.round(stats.window_s / 60)} min)</span> : null}
      </h2>
      {error && <p className="notice">Statistics unavailable: {error}</p>}
      {!stats && !error && <p className="empty">Loading…</p>}
      {stats && stages.length === 0 && <p className="empty">No turns measured yet.</p>}
      <ul className="tiles">
        {stages.map(([name, stage]) => {
          const level = tileLevel(stage);
          return (
            <li key={name} className={`tile level-${level}`} data-stage={name} data-level={level}>
              <h3>{STAGE_LABELS[name] ?? name.replaceAll("_", " ")}</h3>
              <dl>
                <div className={`level-${latencyLevel(stage.p50_ms, stage.target_ms)}`} data-value="p50">
                  <dt>p50</dt>
                  <dd>{formatMs(stage.p50_ms)}</dd>
                </div>
                <div className={`level-${latencyLevel(stage.p95_ms, stage.target_ms)}`} data-value="p95">
                  <dt>p95</dt>
                  <dd>{formatMs(stage.p95_ms)}</dd>
                </div>
              </dl>
              <QueueLine queue={queueStats(all, name)} />
              <p className="tile-foot">
                target {formatMs(stage.target_ms)} · {stage.count} samples · <span className="level-text">{levelText(stage)}</span>
              </p>
            </li>
          );
        })}
      </ul>
    </section>
  );
}

/** The wait for the stage's worker thread, beside its compute figures (no target of its own). */
function QueueLine({ queue }: { queue: StageStats | undefined }) {
  if (!queue) return null;
  return (
    <p className="tile-queue" data-value="queue" title="Wait for the worker thread before compute started; not part of p50/p95 above">
      queue {queue.count ? `p50 ${formatMs(queue.p50_ms)} · p95 ${formatMs(queue.p95_ms)}` : "–"}
    </p>
  );
}
