// What to tell a person when the browser cannot give us a microphone.

export function microphoneErrorMessage(error: unknown): string {
  const name = error instanceof Error || isDomLike(error) ? (error as { name: string }).name : "";
  switch (name) {
    case "NotAllowedError":
    case "PermissionDeniedError":
    case "SecurityError":
      return "Microphone access was denied. Allow the microphone for this page in the browser's site settings, then press Talk to TOM again.";
    case "NotFoundError":
    case "DevicesNotFoundError":
    case "OverconstrainedError":
      return "No microphone was found. Connect a microphone (or headset), then press Talk to TOM again.";
    case "NotReadableError":
    case "TrackStartError":
    case "AbortError":
      return "The microphone is busy or could not be started. Close other apps that use it, then try again.";
    default:
      return `Could not start the microphone${messageOf(error)}. Check the browser's microphone settings and try again.`;
  }
}

/** Microphones need a secure page (https or localhost) and a browser with AudioWorklet. */
export function unsupportedReason(win: {
  isSecureContext?: boolean;
  navigator?: { mediaDevices?: { getUserMedia?: unknown } };
  AudioWorkletNode?: unknown;
}): string | null {
  if (win.isSecureContext === false) {
    return "The microphone only works when the dashboard is opened over https or on localhost.";
  }
  if (typeof win.navigator?.mediaDevices?.getUserMedia !== "function") {
    return "This browser offers no microphone access (getUserMedia is missing).";
  }
  if (typeof win.AudioWorkletNode !== "function") {
    return "This browser lacks AudioWorklet, which Talk to TOM needs; use a current Chrome, Edge, Firefox or Safari.";
  }
  return null;
}

function isDomLike(error: unknown): boolean {
  return typeof error === "object" && error !== null && typeof (error as { name?: unknown }).name === "string";
}

function messageOf(error: unknown): string {
  const message = typeof error === "object" && error !== null ? (error as { message?: unknown }).message : error;
  return typeof message === "string" && message ? ` (${message})` : "";
}
