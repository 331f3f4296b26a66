// Scenario A: an operator watches a phone call arrive on the dashboard.
// The pytest side places the call once this script reports "ready"; here we check the call
// appears, its transcript (with a German line, umlauts intact) and waterfall fill, the layout
// holds at 1280 px and 390 px, and the browser console stays clean.
//
// env: TOM_URL, EXPECT_GERMAN (exact text of one transcript line), ARTIFACTS_DIR, TIMEOUT_MS

import { join } from "node:path";
import { accessibilityProblems, artifactsDir, env, fitsWidth, openDashboard, report, runScenario } from "./browser.mjs";

const url = env("TOM_URL");
const german = env("EXPECT_GERMAN");
const timeout = Number(env("TIMEOUT_MS", "120000"));

await runScenario("scenario-a", async (keep) => {
  const session = keep(await openDashboard(url));
  const { page } = session;
  report("ready");

  // The new call shows up among the active calls (calls already there are not ours) and we open it.
  const calls = page.locator(".call-item");
  const known = await calls.evaluateAll((els) => els.map((el) => el.getAttribute("data-call-id")));
  const handle = await page.waitForFunction(
    (before) =>
      Array.from(document.querySelectorAll('[data-list="active"] .call-item'))
        .map((el) => el.getAttribute("data-call-id"))
        .find((id) => !before.includes(id)),
    known,
    { timeout },
  );
  const callId = await handle.jsonValue();
  const item = page.locator(`.call-item[data-call-id="${callId}"]`);
  await item.click();
  await page.locator(`section.selected[data-call-id="${callId}"]`).waitFor({ timeout: 5000 });
  report("call_seen", { callId });

  const selected = page.locator("section.selected");
  await selected.locator('.bubble[data-role="caller"]').first().waitFor({ timeout });
  await selected.locator('.bubble[data-role="assistant"]').first().waitFor({ timeout });
  const germanLine = selected.locator(".bubble-text", { hasText: german });
  await germanLine.first().waitFor({ timeout });
  const germanText = await germanLine.first().innerText();
  if (germanText !== german) throw new Error(`German line rendered as ${JSON.stringify(germanText)}, expected ${JSON.stringify(german)}`);

  const bars = selected.locator(".waterfall-bar");
  await bars.first().waitFor({ timeout });
  const widths = await bars.evaluateAll((els) => els.map((el) => el.getBoundingClientRect().width));
  if (!widths.some((w) => w > 1)) throw new Error(`waterfall bars have no width: ${widths}`);

  const lines = await selected.locator(".bubble").evaluateAll((els) =>
    els.map((el) => ({ role: el.getAttribute("data-role"), text: el.querySelector(".bubble-text")?.innerText ?? "" })),
  );
  const tiles = await page.locator(".tile").count();

  const a11yWide = await accessibilityProblems(page);

  const dir = artifactsDir();
  const wide = join(dir, "dashboard-1280.png");
  await page.screenshot({ path: wide, fullPage: true });
  const fitsWide = await fitsWidth(page);

  await page.setViewportSize({ width: 390, height: 844 });
  await page.waitForTimeout(300);
  const phone = join(dir, "dashboard-390.png");
  await page.screenshot({ path: phone, fullPage: true });
  const fitsPhone = await fitsWidth(page);
  if (!fitsWide || !fitsPhone) throw new Error(`layout overflows sideways (1280 px: ${fitsWide}, 390 px: ${fitsPhone})`);
  const a11yPhone = await accessibilityProblems(page);
  await page.emulateMedia({ colorScheme: "dark" });
  const a11yDark = await accessibilityProblems(page);
  await page.emulateMedia({ colorScheme: "light" });
  const a11y = [...new Set([...a11yWide, ...a11yPhone, ...a11yDark.map((p) => `dark mode: ${p}`)])];
  if (a11y.length) throw new Error(`accessibility problems:\n${a11y.join("\n")}`);

  // The call list answers the keyboard: focus the call, press Enter, it stays selected.
  await page.locator(`.call-item[data-call-id="${callId}"]`).focus();
  await page.keyboard.press("Enter");
  const current = await page.locator(`.call-item[data-call-id="${callId}"]`).getAttribute("aria-current");
  if (current !== "true") throw new Error("keyboard selection of the call did not work");

  return { callId, lines, germanText, barWidths: widths, tiles, screenshots: [wide, phone] };
});
