// Shared by the dashboard's browser scenarios: launch Debian's chromium headless through
// playwright-core (installed with the dashboard), watch the console, report to the pytest side.
//
// Protocol with tests/e2e/test_dashboard_browser.py: each line on stdout is one JSON object,
// {"event": "..."}; the last one is {"event": "result", "ok": bool, ...}. Exit code 0 = passed.

import { mkdtempSync, mkdirSync, rmSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
export const repoRoot = resolve(here, "..", "..", "..");
const requireFromDashboard = createRequire(join(repoRoot, "dashboard", "package.json"));
const { chromium } = requireFromDashboard("playwright-core");

export const CHROMIUM = process.env.CHROMIUM_PATH || "/usr/bin/chromium";
export const BASE_FLAGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];

export function env(name, fallback) {
  const value = process.env[name];
  if (value === undefined || value === "") {
    if (fallback === undefined) throw new Error(`environment variable ${name} is required`);
    return fallback;
  }
  return value;
}

export function report(event, fields = {}) {
  process.stdout.write(JSON.stringify({ event, ...fields }) + "\n");
}

/** Browser messages that are expected and harmless: a not-ready /readyz (503), no message store (404). */
function tolerated(message) {
  const text = message.text();
  const url = message.location()?.url ?? "";
  if (!text.startsWith("Failed to load resource")) return false;
  return (/\/readyz$/.test(url) && /status of 503/.test(text)) || (/\/api\/messages$/.test(url) && /status of 404/.test(text));
}

/**
 * Opens a fresh chromium (own --user-data-dir, removed afterwards) and one page at `url`.
 * Returns {page, context, consoleErrors, close}.
 */
export async function openDashboard(url, { extraFlags = [], viewport = { width: 1280, height: 900 }, initScript } = {}) {
  const profile = mkdtempSync(join(tmpdir(), "tom-dashboard-chromium-"));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: [...BASE_FLAGS, ...extraFlags],
    viewport,
    locale: "de-DE",
  });
  const consoleErrors = [];
  const page = context.pages()[0] ?? (await context.newPage());
  page.on("console", (message) => {
    if (message.type() === "error" && !tolerated(message)) {
      consoleErrors.push(`${message.text()} @ ${message.location()?.url ?? ""}`);
    }
  });
  page.on("pageerror", (error) => consoleErrors.push(`uncaught: ${error.message}`));
  if (initScript) await page.addInitScript(initScript);
  await page.goto(url, { waitUntil: "load" });
  await page.locator('[data-live="open"]').waitFor({ timeout: 15_000 });
  const close = async () => {
    await context.close().catch(() => undefined);
    rmSync(profile, { recursive: true, force: true });
  };
  return { page, context, consoleErrors, close };
}

export function artifactsDir() {
  const dir = resolve(env("ARTIFACTS_DIR", join(repoRoot, "test-artifacts")));
  mkdirSync(dir, { recursive: true });
  return dir;
}

/** True when nothing sticks out sideways (the layout fits the viewport). */
export async function fitsWidth(page) {
  return page.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth + 1);
}

/** Runs a scenario; any thrown error becomes a failed result with the reason and a screenshot. */
export async function runScenario(name, body) {
  let session = null;
  const started = Date.now();
  try {
    const result = await body((s) => (session = s));
    const errors = session?.consoleErrors ?? [];
    const ok = errors.length === 0;
    report("result", { ok, scenario: name, consoleErrors: errors, seconds: (Date.now() - started) / 1000, ...result, ...(ok ? {} : { reason: "console errors" }) });
    process.exitCode = ok ? 0 : 1;
  } catch (error) {
    let shot = null;
    if (session?.page) {
      shot = join(artifactsDir(), `${name}-failure.png`);
      await session.page.screenshot({ path: shot, fullPage: true }).catch(() => (shot = null));
    }
    report("result", { ok: false, scenario: name, reason: String(error?.stack ?? error), screenshot: shot, consoleErrors: session?.consoleErrors ?? [] });
    process.exitCode = 1;
  } finally {
    await session?.close();
  }
}

/**
 * Runs axe-core (installed with the dashboard) on the page; returns the serious and critical
 * accessibility violations as short strings.
 */
export async function accessibilityProblems(page) {
  const axePath = requireFromDashboard.resolve("axe-core/axe.min.js");
  await page.addScriptTag({ path: axePath });
  const violations = await page.evaluate(async () => {
    const result = await window.axe.run(document, { resultTypes: ["violations"] });
    return result.violations.map((v) => ({ id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.map((n) => n.target.join(" ")).slice(0, 5) }));
  });
  return violations
    .filter((v) => v.impact === "serious" || v.impact === "critical")
    .map((v) => `${v.id} (${v.impact}): ${v.help} — ${v.nodes.join(", ")}`);
}
