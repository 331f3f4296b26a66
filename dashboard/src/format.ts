// Small text formatters shared by the views.

export function formatDuration(seconds: number): string {
  const s = Math.max(0, Math.floor(seconds));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const rest = String(s % 60).padStart(2, "0");
  return h ? `${h}:${String(m).padStart(2, "0")}:${rest}` : `${m}:${rest}`;
}

export function humanize(value: string | null | undefined): string {
  return value ? value.replaceAll("_", " ") : "";
}

export function callerLabel(caller: string | null | undefined): string {
  return caller?.trim() ? caller : "Unknown caller";
}

export function formatClock(unixSeconds: number | null | undefined): string {
  if (!unixSeconds) return "";
  return new Date(unixSeconds * 1000).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit", second: "2-digit" });
}
