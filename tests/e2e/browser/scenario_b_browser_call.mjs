// Scenario B: a person presses "Talk to TOM"; chromium's fake microphone plays a WAV file.
// Passes when the caller's words come back as a transcript (mic → worklet → /ws/browser → STT)
// and TOM's answer reaches the page as transcript and audio, then Hang up ends the call.
//
// env: TOM_URL, FAKE_MIC_WAV (16-bit PCM WAV), ARTIFACTS_DIR, TIMEOUT_MS, MIN_AUDIO_S

import { join } from "node:path";
import { accessibilityProblems, artifactsDir, env, openDashboard, report, runScenario } from "./browser.mjs";

const url = env("TOM_URL");
const wav = env("FAKE_MIC_WAV");
const timeout = Number(env("TIMEOUT_MS", "120000"));
const minAudioS = Number(env("MIN_AUDIO_S", "0.5"));

await runScenario("scenario-b", async (keep) => {
  const session = keep(
    await openDashboard(url, {
      extraFlags: [
        "--use-fake-ui-for-media-stream",
        "--use-fake-device-for-media-stream",
        // %noloop: play the file once, then silence (a looping caller would keep barging in).
        `--use-file-for-fake-audio-capture=${wav}%noloop`,
        "--autoplay-policy=no-user-gesture-required",
      ],
    }),
  );
  const { page } = session;
  report("ready");

  const talk = page.locator("section.talk");
  await talk.getByRole("button", { name: "Talk to TOM" }).click();
  await page.locator('section.talk[data-phone-status="live"]').waitFor({ timeout: 20_000 });
  report("connected");

  // The caller's own words, recognised by TOM, then TOM's answer after them.
  await talk.locator('.bubble[data-role="caller"]').first().waitFor({ timeout });
  await talk.locator('.bubble[data-role="caller"] ~ .bubble[data-role="assistant"]').first().waitFor({ timeout });
  await page.waitForFunction(
    (min) => Number(document.querySelector("[data-audio-seconds]")?.getAttribute("data-audio-seconds") ?? 0) >= min,
    minAudioS,
    { timeout },
  );
  const audioS = Number(await talk.locator("[data-audio-seconds]").getAttribute("data-audio-seconds"));
  const lines = await talk.locator(".bubble").evaluateAll((els) =>
    els.map((el) => ({ role: el.getAttribute("data-role"), text: el.querySelector(".bubble-text")?.innerText ?? "" })),
  );
  report("answered", { audioS, lines });

  // The same call is on the dashboard as a browser call.
  const browserCall = page.locator(".call-item", { hasText: "browser" }).first();
  await browserCall.waitFor({ timeout: 10_000 });

  const a11y = await accessibilityProblems(page);
  if (a11y.length) throw new Error(`accessibility problems during a call:\n${a11y.join("\n")}`);

  const shot = join(artifactsDir(), "talk-to-tom.png");
  await page.screenshot({ path: shot, fullPage: true });

  const status = await talk.getAttribute("data-phone-status");
  if (status === "live") {
    await talk.getByRole("button", { name: "Hang up" }).click();
    await page.locator('section.talk[data-phone-status="ended"]').waitFor({ timeout: 5000 });
  }
  return { audioS, lines, statusBeforeHangUp: status, screenshot: shot };
});
