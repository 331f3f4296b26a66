import { render, screen } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { CallList } from "../src/components/CallList";
import type { CallView } from "../src/state/calls";

function call(id: string, caller: string, extra: Partial<CallView> = {}): CallView {
  return {
    id, caller, transport: "twilio", state: "listening", started_at: 1000, duration_s: 0, outcome: null,
    transcript: [], turns: [], bargeIns: [], dtmf: [], ended: false, ...extra,
  };
}

describe("CallList", () => {
  const calls = [call("a", "+49 30 1"), call("b", "+49 30 2"), call("c", "", { ended: true, outcome: "hung_up_by_caller", duration_s: 75 })];

  it("is reachable and selectable by keyboard (Tab, arrows, Enter)", async () => {
    const user = userEvent.setup();
    const onSelect = vi.fn();
    render(<CallList title="Active calls" kind="active" calls={calls} selectedId="a" onSelect={onSelect} nowMs={1_010_000} clockOffsetS={0} emptyText="none" />);
    await user.tab();
    expect(screen.getByText("+49 30 1").closest("button")).toHaveFocus();
    await user.keyboard("{ArrowDown}");
    expect(screen.getByText("+49 30 2").closest("button")).toHaveFocus();
    await user.keyboard("{Enter}");
    expect(onSelect).toHaveBeenLastCalledWith("b");
    await user.keyboard("{End}");
    await user.keyboard(" ");
    expect(onSelect).toHaveBeenLastCalledWith("c");
  });

  it("marks the selected call and shows duration and outcome", () => {
    render(<CallList title="Calls" kind="recent" calls={calls} selectedId="a" onSelect={() => {}} nowMs={1_010_000} clockOffsetS={0} emptyText="none" />);
    expect(screen.getByText("+49 30 1").closest("button")).toHaveAttribute("aria-current", "true");
    expect(screen.getByText("+49 30 1").closest("button")).toHaveTextContent("0:10"); // live: ticks from started_at
    const ended = screen.getByText("Unknown caller").closest("button");
    expect(ended).toHaveTextContent("hung up by caller");
    expect(ended).toHaveTextContent("1:15");
  });

  it("says when there are no calls", () => {
    render(<CallList title="Calls" kind="recent" calls={[]} selectedId={null} onSelect={() => {}} nowMs={0} clockOffsetS={0} emptyText="No calls right now." />);
    expect(screen.getByText("No calls right now.")).toBeInTheDocument();
  });
});
