/** The browser-call WebSocket next to the page: ws:// for http pages, wss:// for https. */
export function browserSocketUrl(pageHref: string): string {
  const url = new URL("ws/browser", pageHref);
  url.protocol = url.protocol === "https:" ? "wss:" : "ws:";
  url.hash = "";
  url.search = "";
  return url.toString();
}
