// One browser call to TOM: microphone → worklet (16 kHz PCM16) → /ws/browser → TOM's voice played back.

import workletUrl from "./capture.worklet.ts?worker&url";
import { microphoneErrorMessage, unsupportedReason } from "./micErrors";
import { CAPTURE_PROCESSOR } from "./pcm";
import { PcmPlayer } from "./playback";
import { browserSocketUrl } from "./socketUrl";

export type PhoneStatus = "idle" | "connecting" | "live" | "ended" | "error";

export interface PhoneListener {
  status(status: PhoneStatus, detail?: string): void;
  started(callId: string): void;
  transcript(role: "caller" | "assistant", text: string): void;
  audio(receivedS: number): void;
  cleared(): void;
}

export interface Phone {
  start(): Promise<void>;
  hangUp(): void;
}

type ServerMessage =
  | { type: "started"; call_id: string }
  | { type: "clear" }
  | { type: "transcript"; role: string; text: string }
  | { type: "end"; outcome?: string };

export class BrowserPhone implements Phone {
  private ctx: AudioContext | null = null;
  private mic: MediaStream | null = null;
  private socket: WebSocket | null = null;
  private player: PcmPlayer | null = null;
  private done = false;

  constructor(private readonly listener: PhoneListener) {}

  async start(): Promise<void> {
    const unsupported = unsupportedReason(window);
    if (unsupported) return this.fail(unsupported);
    this.listener.status("connecting");
    // Created inside the click so the browser lets it play sound.
    this.ctx = new AudioContext({ latencyHint: "interactive" });
    void this.ctx.resume();
    try {
      this.mic = await navigator.mediaDevices.getUserMedia({
        audio: { channelCount: 1, echoCancellation: true, noiseSuppression: true, autoGainControl: true },
      });
    } catch (error) {
      return this.fail(microphoneErrorMessage(error));
    }
    if (this.done) return this.cleanup();
    try {
      await this.ctx.audioWorklet.addModule(workletUrl);
      this.socket = await openSocket(browserSocketUrl(window.location.href));
    } catch (error) {
      return this.fail(error instanceof Error ? error.message : String(error));
    }
    if (this.done) return this.cleanup();
    this.player = new PcmPlayer(this.ctx);
    this.wireSocket(this.socket);
    this.wireMicrophone(this.ctx, this.mic, this.socket);
    this.listener.status("live");
  }

  hangUp(): void {
    if (this.done) return;
    this.done = true;
    if (this.socket?.readyState === WebSocket.OPEN) this.socket.send(JSON.stringify({ type: "hangup" }));
    this.socket?.close(1000, "hang up");
    this.cleanup();
    this.listener.status("ended", "You hung up.");
  }

  private wireMicrophone(ctx: AudioContext, mic: MediaStream, socket: WebSocket): void {
    const source = ctx.createMediaStreamSource(mic);
    const capture = new AudioWorkletNode(ctx, CAPTURE_PROCESSOR, {
      numberOfInputs: 1,
      numberOfOutputs: 1,
      channelCount: 1,
      channelCountMode: "explicit",
    });
    capture.port.onmessage = (event: MessageEvent<ArrayBuffer>) => {
      if (socket.readyState === WebSocket.OPEN) socket.send(event.data);
    };
    // A muted path to the speakers keeps the worklet pulled by the audio graph without echoing the mic.
    const mute = ctx.createGain();
    mute.gain.value = 0;
    source.connect(capture).connect(mute).connect(ctx.destination);
  }

  private wireSocket(socket: WebSocket): void {
    socket.onmessage = (event: MessageEvent<ArrayBuffer | string>) => {
      if (typeof event.data === "string") this.onMessage(event.data);
      else if (this.player) {
        this.player.enqueue(event.data);
        this.listener.audio(this.player.receivedS);
      }
    };
    socket.onclose = () => {
      if (this.done) return;
      this.done = true;
      this.cleanup(true);
      this.listener.status("ended", "TOM ended the call.");
    };
  }

  private onMessage(text: string): void {
    let message: ServerMessage;
    try {
      message = JSON.parse(text) as ServerMessage;
    } catch {
      return;
    }
    switch (message.type) {
      case "started":
        this.listener.started(message.call_id);
        break;
      case "clear":
        this.player?.clear();
        this.listener.cleared();
        break;
      case "transcript":
        this.listener.transcript(message.role === "assistant" ? "assistant" : "caller", message.text);
        break;
      case "end":
        this.done = true;
        this.socket?.close(1000, "call ended");
        this.cleanup(true);
        this.listener.status("ended", `Call ended: ${(message.outcome ?? "completed").replaceAll("_", " ")}.`);
        break;
    }
  }

  private fail(message: string): void {
    this.done = true;
    this.socket?.close();
    this.cleanup();
    this.listener.status("error", message);
  }

  /** Stops the microphone; with `letPlaybackFinish`, TOM's last words still play out. */
  private cleanup(letPlaybackFinish = false): void {
    this.mic?.getTracks().forEach((track) => track.stop());
    this.mic = null;
    const ctx = this.ctx;
    this.ctx = null;
    if (!ctx) return;
    const remaining = letPlaybackFinish && this.player ? this.player.remainingS(ctx.currentTime) : 0;
    if (!letPlaybackFinish) this.player?.clear();
    window.setTimeout(() => void ctx.close().catch(() => undefined), remaining * 1000 + 50);
  }
}

function openSocket(url: string): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const socket = new WebSocket(url);
    socket.binaryType = "arraybuffer";
    socket.onopen = () => resolve(socket);
    socket.onerror = () =>
      reject(new Error("Could not connect to TOM's browser line (/ws/browser). Is TOM running and reachable?"));
  });
}
