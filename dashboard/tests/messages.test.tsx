import { render, screen } from "@testing-library/react";
import { messageList } from "../src/api/client";
import { MessagesPanel } from "../src/components/MessagesPanel";

describe("messageList", () => {
  it("accepts a list, an object with one list, or one list per kind", () => {
    expect(messageList([{ id: 1 }, "junk"])).toEqual([{ id: 1 }]);
    expect(messageList({ messages: [{ id: 1, kind: "message" }] })).toEqual([{ id: 1, kind: "message" }]);
    expect(messageList({ messages: [{ id: 1 }], appointments: [{ id: 2 }] })).toEqual([
      { kind: "message", id: 1 },
      { kind: "appointment", id: 2 },
    ]);
    expect(messageList(null)).toEqual([]);
  });
});

describe("MessagesPanel", () => {
  it("shows who called, what they said and the other fields", () => {
    render(
      <MessagesPanel
        messages={[{ id: "m1", kind: "appointment", name: "Jürgen Weiß", text: "Bremsen prüfen, bitte.", preferred_day: "Dienstag" }]}
        missing={false}
        error={null}
      />,
    );
    expect(screen.getByText("Jürgen Weiß")).toBeInTheDocument();
    expect(screen.getByText("Bremsen prüfen, bitte.")).toBeInTheDocument();
    expect(screen.getByText("appointment")).toBeInTheDocument();
    expect(screen.getByText("preferred day")).toBeInTheDocument();
    expect(screen.getByText("Dienstag")).toBeInTheDocument();
  });

  it("says so when the server keeps no messages", () => {
    render(<MessagesPanel messages={null} missing error={null} />);
    expect(screen.getByText(/does not keep messages/)).toBeInTheDocument();
  });
});
