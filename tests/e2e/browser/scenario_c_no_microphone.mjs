// Scenario C: no usable microphone. Talk to TOM must explain what went wrong and what to do (an
// alert), offer the button again, and leave the console clean.
//   MIC=denied:  a (fake) microphone exists but the permission prompt is blocked → "…denied…"
//   MIC=missing: the browser finds no audio input (getUserMedia rejects with NotFoundError, made
//                certain by a page script so a machine with a real microphone gives the same)
//
// env: TOM_URL, MIC, ARTIFACTS_DIR

import { join } from "node:path";
import { artifactsDir, env, openDashboard, report, runScenario } from "./browser.mjs";

const url = env("TOM_URL");
const mic = env("MIC", "missing");
const expected = { missing: /no microphone was found/i, denied: /microphone access was denied/i }[mic];
if (!expected) throw new Error(`MIC must be "missing" or "denied", got ${mic}`);
const flags = ["--use-fake-device-for-media-stream", "--deny-permission-prompts"];
const noDevice = () => {
  navigator.mediaDevices.getUserMedia = () => Promise.reject(new DOMException("Requested device not found", "NotFoundError"));
};

await runScenario(`scenario-c-${mic}`, async (keep) => {
  // "--deny-permission-prompts" answers the microphone prompt with "block", as a person might.
  const session = keep(await openDashboard(url, { extraFlags: flags, initScript: mic === "missing" ? noDevice : undefined }));
  const { page } = session;
  report("ready");

  const talk = page.locator("section.talk");
  await talk.getByRole("button", { name: "Talk to TOM" }).click();
  const alert = talk.getByRole("alert");
  await alert.waitFor({ timeout: 15_000 });
  const message = await alert.innerText();
  if (!expected.test(message)) throw new Error(`expected ${expected} in the alert, got ${JSON.stringify(message)}`);
  await talk.getByRole("button", { name: "Talk to TOM" }).waitFor({ timeout: 5000 });
  const shot = join(artifactsDir(), `talk-to-tom-microphone-${mic}.png`);
  await talk.screenshot({ path: shot });
  return { message, screenshot: shot };
});
