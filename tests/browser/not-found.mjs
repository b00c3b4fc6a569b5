// Browser test of a mistyped address: an HTML page (not raw JSON) with a search that works, even
// with a misspelt word.
// Uses Debian's Chromium; never downloads a browser. Every wait is bounded.
import { guard, log, runBrowserTest } from "./harness.mjs";
import assert from "node:assert/strict";

const base = process.env.BASE_URL;
if (!base) throw new Error("BASE_URL is not set (run scripts/browser-test.sh)");

await runBrowserTest(async (browser, fail) => {
  const page = await (await browser.newContext()).newPage();
  await guard(page, base, fail);
  const res = await page.goto(`${base}/artsits/the-paper-lanterns`);
  assert.equal(res.status(), 404);
  assert.match(res.headers()["content-type"], /^text\/html/);
  assert.equal(await page.getByRole("heading", { level: 1 }).textContent(), "Page not found");
  // A misspelt search still finds the artist, and says what it searched for instead.
  await page.getByLabel("Search for an artist, song or venue").fill("lantren");
  await Promise.all([page.waitForURL(/\/search\?q=lantren$/), page.getByRole("button", { name: "Search" }).click()]);
  assert.ok(await page.getByRole("link", { name: /The Paper Lanterns/ }).first().isVisible());
  assert.match(await page.getByRole("status").first().textContent(), /No results for “lantren”\. Showing \d+ results? for “lantern/);
  log("a mistyped address offered a search that found the artist through a typo");
});
