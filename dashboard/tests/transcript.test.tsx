import { render, screen } from "@testing-library/react";
import type { BargeIn, TranscriptLine } from "../src/api/types";
import { Transcript, transcriptItems } from "../src/components/Transcript";

const lines: TranscriptLine[] = [
  { role: "caller", text: "Guten Tag, haben Sie heute geöffnet?", turn: 1, interrupted: false },
  { role: "assistant", text: "Grüß Gott! Wir haben bis 18 Uhr geöffnet, außer …", turn: 1, interrupted: true },
  { role: "caller", text: "Und am Samstag?", turn: 2, interrupted: false },
  { role: "assistant", text: "Samstags von 9 bis 13 Uhr.", turn: 2, interrupted: false },
];
const bargeIns: BargeIn[] = [{ turn: 1, reaction_ms: 180, heard: "Grüß Gott! Wir haben" }];

describe("Transcript", () => {
  it("renders German text with umlauts and ß unchanged", () => {
    render(<Transcript lines={lines} bargeIns={[]} />);
    expect(screen.getByText("Grüß Gott! Wir haben bis 18 Uhr geöffnet, außer …")).toBeInTheDocument();
    expect(screen.getByText("Guten Tag, haben Sie heute geöffnet?")).toBeInTheDocument();
  });

  it("labels each line with its speaker, caller and TOM apart", () => {
    const { container } = render(<Transcript lines={lines} bargeIns={[]} />);
    const bubbles = Array.from(container.querySelectorAll("li[data-role]"));
    expect(bubbles.map((b) => b.getAttribute("data-role"))).toEqual(["caller", "assistant", "caller", "assistant"]);
    expect(bubbles[0]).toHaveClass("bubble-caller");
    expect(bubbles[1]).toHaveClass("bubble-assistant");
    expect(bubbles[1].querySelector(".bubble-role")?.textContent).toBe("TOM");
    expect(bubbles[0].querySelector(".bubble-role")?.textContent).toBe("Caller");
  });

  it("marks the interrupted line and shows the barge-in right after it", () => {
    const { container } = render(<Transcript lines={lines} bargeIns={bargeIns} />);
    const items = Array.from(container.querySelectorAll("ol.transcript > li"));
    expect(items).toHaveLength(5);
    expect(items[1]).toHaveClass("bubble-interrupted");
    expect(items[1]).toHaveTextContent("interrupted");
    expect(items[3]).not.toHaveTextContent("interrupted");
    expect(items[2]).toHaveAttribute("data-testid", "barge-in");
    expect(items[2]).toHaveTextContent("TOM stopped in 180 ms after saying Grüß Gott! Wir haben");
  });

  it("places a barge-in without TOM's line after the last line of its turn", () => {
    const items = transcriptItems(lines.slice(0, 1), [{ turn: 1, reaction_ms: 90, heard: "" }]);
    expect(items.map((i) => i.kind)).toEqual(["line", "barge"]);
  });

  it("strikes a cut-off caller line through when a later line joins it", () => {
    const went: TranscriptLine[] = [
      { role: "caller", text: "Sind Sie am", turn: 1, interrupted: false },
      { role: "assistant", text: "Wir haben", turn: 1, interrupted: true },
      { role: "caller", text: "Sind Sie am Samstag da?", turn: 2, interrupted: false, joins: 1 },
    ];
    const { container } = render(<Transcript lines={went} bargeIns={[]} />);
    const bubbles = Array.from(container.querySelectorAll("li[data-role]"));
    expect(bubbles[0]).toHaveClass("bubble-superseded");
    expect(bubbles[1]).not.toHaveClass("bubble-superseded");
    expect(bubbles[2]).not.toHaveClass("bubble-superseded");
    expect(bubbles[2]).toHaveTextContent("went on after a pause");
    expect(bubbles[0]).not.toHaveTextContent("went on after a pause");
  });

  it("shows a hint for an empty call", () => {
    render(<Transcript lines={[]} bargeIns={[]} />);
    expect(screen.getByText(/nothing said yet/i)).toBeInTheDocument();
  });
});
