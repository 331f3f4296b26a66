// Readiness (models, listeners, Redis) from /readyz and the call counters from /api/stats.

import type { Health, Stats } from "../api/types";
import { humanize } from "../format";

interface HealthPanelProps {
  health: Health | null;
  healthError: string | null;
  stats: Stats | null;
}

export function HealthPanel({ health, healthError, stats }: HealthPanelProps) {
  const counters = stats?.counters ?? {};
  const outcomes = Object.entries(stats?.outcomes ?? {}).filter(([, count]) => count > 0);
  return (
    <section className="panel" aria-labelledby="health-heading">
      <h2 id="health-heading">Health</h2>
      {healthError && !health && <p className="notice level-bad">TOM is not answering: {healthError}</p>}
      {health && (
        <dl className="facts">
          <Fact name="Ready" value={health.ready} />
          {health.models !== undefined && <Fact name="Models" value={health.models} />}
          {health.listeners !== undefined && <Fact name="Listeners" value={health.listeners} />}
          {health.redis !== undefined && <Fact name="Redis" value={redisValue(health.redis)} />}
        </dl>
      )}
      <h3>Counters</h3>
      <dl className="counters">
        {(["calls", "active", "errors", "busy"] as const).map((name) => (
          <div key={name} data-counter={name}>
            <dt>{name}</dt>
            <dd>{counters[name] ?? "–"}</dd>
          </div>
        ))}
      </dl>
      {outcomes.length > 0 && (
        <>
          <h3>Outcomes</h3>
          <dl className="counters">
            {outcomes.map(([name, count]) => (
              <div key={name}>
                <dt>{humanize(name)}</dt>
                <dd>{count}</dd>
              </div>
            ))}
          </dl>
        </>
      )}
    </section>
  );
}

function Fact({ name, value }: { name: string; value: unknown }) {
  return (
    <div>
      <dt>{name}</dt>
      <dd>
        <HealthValue value={value} />
      </dd>
    </div>
  );
}

/** Shows whatever shape the server reports: booleans as ok/not ok, objects as name: value lists. */
function HealthValue({ value }: { value: unknown }) {
  if (typeof value === "boolean") {
    return <span className={value ? "ok" : "not-ok"}>{value ? "yes" : "no"}</span>;
  }
  if (value === null || value === undefined || value === "") return <span className="muted">not configured</span>;
  if (Array.isArray(value)) return <>{value.map(String).join(", ") || "none"}</>;
  if (typeof value === "object") {
    return (
      <ul className="health-list">
        {Object.entries(value as Record<string, unknown>).map(([key, inner]) => (
          <li key={key}>
            {key}: <HealthValue value={inner} />
          </li>
        ))}
      </ul>
    );
  }
  return <>{String(value)}</>;
}

/** An unconfigured Redis is fine (it is optional), so it is not shown as a failure. */
function redisValue(redis: unknown): unknown {
  if (typeof redis === "object" && redis !== null && (redis as { configured?: unknown }).configured === false) {
    return "not configured (optional)";
  }
  return redis;
}
