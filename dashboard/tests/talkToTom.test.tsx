import { act, render, screen } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { TalkToTom } from "../src/components/TalkToTom";
import type { Phone, PhoneListener } from "../src/phone/browserPhone";
import { microphoneErrorMessage, unsupportedReason } from "../src/phone/micErrors";
import { browserSocketUrl } from "../src/phone/socketUrl";

function domError(name: string): Error {
  const error = new Error("x");
  error.name = name;
  return error;
}

describe("microphone errors", () => {
  it("explains a denied microphone", () => {
    expect(microphoneErrorMessage(domError("NotAllowedError"))).toMatch(/denied.*allow the microphone/i);
  });

  it("explains a missing microphone", () => {
    expect(microphoneErrorMessage(domError("NotFoundError"))).toMatch(/no microphone was found/i);
  });

  it("needs a secure page and getUserMedia", () => {
    expect(unsupportedReason({ isSecureContext: false })).toMatch(/https or on localhost/);
    expect(unsupportedReason({ isSecureContext: true, navigator: {} })).toMatch(/getUserMedia/);
    expect(
      unsupportedReason({ isSecureContext: true, navigator: { mediaDevices: { getUserMedia: () => 0 } }, AudioWorkletNode: function () {} }),
    ).toBeNull();
  });
});

describe("browserSocketUrl", () => {
  it("follows the page's protocol", () => {
    expect(browserSocketUrl("http://127.0.0.1:8080/")).toBe("ws://127.0.0.1:8080/ws/browser");
    expect(browserSocketUrl("https://tom.example/ops/index.html?x=1#y")).toBe("wss://tom.example/ops/ws/browser");
  });
});

class FakePhone implements Phone {
  static last: FakePhone;
  hungUp = false;
  constructor(readonly listener: PhoneListener) {
    FakePhone.last = this;
  }
  async start() {
    this.listener.status("connecting");
  }
  hangUp() {
    this.hungUp = true;
    this.listener.status("ended", "You hung up.");
  }
}

describe("TalkToTom", () => {
  it("starts a call, shows what was said and hangs up", async () => {
    const user = userEvent.setup();
    const started = vi.fn();
    render(<TalkToTom createPhone={(l) => new FakePhone(l)} onCallStarted={started} />);
    await user.click(screen.getByRole("button", { name: "Talk to TOM" }));
    const phone = FakePhone.last;
    act(() => {
      phone.listener.status("live");
      phone.listener.started("call-7");
      phone.listener.transcript("caller", "Hallo, ist dort die Bäckerei?");
      phone.listener.transcript("assistant", "Ja, schönen guten Tag!");
      phone.listener.audio(1.25);
    });
    expect(started).toHaveBeenCalledWith("call-7");
    expect(screen.getByText("Hallo, ist dort die Bäckerei?")).toBeInTheDocument();
    expect(screen.getByText("Ja, schönen guten Tag!").closest("li")).toHaveAttribute("data-role", "assistant");
    expect(screen.getByText(/Heard 1\.3 s of TOM/)).toBeInTheDocument();
    await user.click(screen.getByRole("button", { name: "Hang up" }));
    expect(phone.hungUp).toBe(true);
    expect(screen.getByRole("button", { name: "Talk to TOM" })).toBeInTheDocument();
  });

  it("shows the microphone error as an alert", async () => {
    const user = userEvent.setup();
    render(<TalkToTom createPhone={(l) => new FakePhone(l)} />);
    await user.click(screen.getByRole("button", { name: "Talk to TOM" }));
    act(() => FakePhone.last.listener.status("error", microphoneErrorMessage(domError("NotAllowedError"))));
    expect(screen.getByRole("alert")).toHaveTextContent(/Microphone access was denied/);
  });
});
