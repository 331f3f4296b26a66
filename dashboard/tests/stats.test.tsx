import { render, screen, within } from "@testing-library/react";
import type { Stats } from "../src/api/types";
import { StatsTiles } from "../src/components/StatsTiles";
import { latencyLevel, tileLevel } from "../src/state/stats";

describe("latencyLevel", () => {
  it.each([
    [100, 200, "good"],
    [200, 200, "good"],
    [201, 200, "warn"],
    [300, 200, "warn"],
    [301, 200, "bad"],
    [null, 200, "none"],
    [150, null, "none"],
    [150, 0, "none"],
  ] as const)("%s ms against target %s ms is %s", (value, target, level) => {
    expect(latencyLevel(value, target)).toBe(level);
  });

  it("judges a tile by its p95 and ignores stages without samples", () => {
    expect(tileLevel({ p50_ms: 100, p95_ms: 260, count: 5, target_ms: 200 })).toBe("warn");
    expect(tileLevel({ p50_ms: 100, p95_ms: 100, count: 0, target_ms: 200 })).toBe("none");
  });
});

describe("StatsTiles", () => {
  const stats: Stats = {
    window_s: 900,
    stages: {
      stt: { p50_ms: 120, p95_ms: 180, count: 12, target_ms: 200 },
      llm_first_token: { p50_ms: 250, p95_ms: 420, count: 12, target_ms: 300 },
      e2e: { p50_ms: 900, p95_ms: 1600, count: 12, target_ms: 800 },
      barge_in: { p50_ms: null, p95_ms: null, count: 0, target_ms: 150 },
    },
    counters: { calls: 3, errors: 0, busy: 0, active: 1 },
  };

  it("colours each tile green, amber or red from p95 and shows the target", () => {
    const { container } = render(<StatsTiles stats={stats} />);
    const tile = (stage: string) => container.querySelector(`[data-stage="${stage}"]`) as HTMLElement;
    expect(tile("stt")).toHaveAttribute("data-level", "good");
    expect(tile("stt")).toHaveClass("level-good");
    expect(tile("llm_first_token")).toHaveClass("level-warn");
    expect(tile("e2e")).toHaveClass("level-bad");
    expect(tile("barge_in")).toHaveClass("level-none");
    expect(within(tile("stt")).getByText(/target 200 ms/)).toBeInTheDocument();
    expect(within(tile("e2e")).getByText("1600 ms")).toBeInTheDocument();
    expect(within(tile("e2e")).getByText("far above target")).toBeInTheDocument();
    expect(within(tile("barge_in")).getByText("no data yet")).toBeInTheDocument();
  });

  it("colours p50 and p95 separately", () => {
    const { container } = render(<StatsTiles stats={stats} />);
    const llm = container.querySelector('[data-stage="llm_first_token"]') as HTMLElement;
    expect(llm.querySelector('[data-value="p50"]')).toHaveClass("level-good");
    expect(llm.querySelector('[data-value="p95"]')).toHaveClass("level-warn");
  });

  it("puts end-to-end first and names stages for people", () => {
    render(<StatsTiles stats={stats} />);
    const headings = screen.getAllByRole("heading", { level: 3 }).map((h) => h.textContent);
    expect(headings[0]).toBe("End to end");
    expect(headings).toContain("Speech to text");
  });
});
