// "Talk to TOM": a call from this browser over /ws/browser, with the live conversation beside it.

import { useEffect, useRef, useState } from "react";
import { useStickToBottom } from "../hooks/useStickToBottom";
import type { Phone, PhoneListener, PhoneStatus } from "../phone/browserPhone";
import { ROLE_LABEL } from "./Transcript";

export type PhoneFactory = (listener: PhoneListener) => Phone;

interface TalkToTomProps {
  createPhone: PhoneFactory;
  onCallStarted?(callId: string): void;
}

interface SaidLine {
  role: "caller" | "assistant";
  text: string;
}

const STATUS_TEXT: Record<PhoneStatus, string> = {
  idle: "Not connected.",
  connecting: "Connecting… allow the microphone if the browser asks.",
  live: "Connected. Speak now.",
  ended: "Call ended.",
  error: "Could not start the call.",
};

export function TalkToTom({ createPhone, onCallStarted }: TalkToTomProps) {
  const [status, setStatus] = useState<PhoneStatus>("idle");
  const [detail, setDetail] = useState<string | null>(null);
  const [lines, setLines] = useState<SaidLine[]>([]);
  const [audioS, setAudioS] = useState(0);
  const [clears, setClears] = useState(0);
  const phone = useRef<Phone | null>(null);
  const scroller = useStickToBottom<HTMLDivElement>(lines.length);
  const startedCallback = useRef(onCallStarted);
  startedCallback.current = onCallStarted;

  useEffect(() => () => phone.current?.hangUp(), []);

  const start = () => {
    setLines([]);
    setAudioS(0);
    setClears(0);
    setDetail(null);
    phone.current = createPhone({
      status: (next, text) => {
        setStatus(next);
        setDetail(text ?? null);
      },
      started: (callId) => startedCallback.current?.(callId),
      transcript: (role, text) => setLines((prev) => [...prev, { role, text }]),
      audio: (seconds) => setAudioS(seconds),
      cleared: () => setClears((n) => n + 1),
    });
    void phone.current.start();
  };

  const hangUp = () => phone.current?.hangUp();
  const inCall = status === "connecting" || status === "live";

  return (
    <section className="panel talk" aria-labelledby="talk-heading" data-phone-status={status}>
      <h2 id="talk-heading">Talk to TOM</h2>
      <div className="talk-actions">
        {inCall ? (
          <button type="button" className="button danger" onClick={hangUp}>
            Hang up
          </button>
        ) : (
          <button type="button" className="button primary" onClick={start}>
            Talk to TOM
          </button>
        )}
      </div>
      <p className={status === "error" ? "notice level-bad" : "muted"} role={status === "error" ? "alert" : "status"}>
        {status === "error" ? detail ?? STATUS_TEXT.error : detail ?? STATUS_TEXT[status]}
      </p>
      {(audioS > 0 || clears > 0) && (
        <p className="muted talk-audio" data-audio-seconds={audioS.toFixed(2)}>
          Heard {audioS.toFixed(1)} s of TOM{clears > 0 ? `, cut off ${clears}×` : ""}.
        </p>
      )}
      {lines.length > 0 && (
        <div className="transcript-scroll compact" role="log" aria-label="Your call with TOM" tabIndex={0} {...scroller}>
          <ol className="transcript">
            {lines.map((line, i) => (
              <li key={i} className={`bubble bubble-${line.role}`} data-role={line.role}>
                <span className="bubble-role">{ROLE_LABEL[line.role]}</span>
                <span className="bubble-text">{line.text}</span>
              </li>
            ))}
          </ol>
        </div>
      )}
    </section>
  );
}
