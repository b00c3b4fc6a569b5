// What every browser test shares: the screenshot directory, the bound on each wait, the log prefix,
// and launching Debian's Chromium headless (never a downloaded browser).
import { chromium } from "playwright-core";
import { mkdirSync } from "node:fs";

export const outDir = process.env.SCREENSHOT_DIR || "target/browser-test";
mkdirSync(outDir, { recursive: true });

export const WAIT = 10_000; // bound for every single wait, in ms
export const log = (msg) => console.log(`browser-test: ${msg}`);

export function launchChromium() {
  return chromium.launch({
    executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
    headless: true,
    timeout: 30_000,
    args: ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
           "--disable-sync", "--no-first-run"],
  });
}
