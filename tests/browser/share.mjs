// Browser test of sharing a show: with JavaScript the share button replaces the plain link in the
// same place (the links after it do not move), and where the browser has no Web Share API it copies
// the show's address and says "Link copied"; without JavaScript the plain link is there instead.
// Uses Debian's Chromium; never downloads a browser. Every wait is bounded.
import { guard, log, outDir, runBrowserTest } from "./harness.mjs";
import assert from "node:assert/strict";

const base = process.env.BASE_URL;
if (!base) throw new Error("BASE_URL is not set (run scripts/browser-test.sh)");

await runBrowserTest(async (browser, fail) => {
  const probe = await (await browser.newContext()).newPage();
  await guard(probe, base, fail);
  await probe.goto(`${base}/`);
  const show = await probe.evaluate(async () => (await (await fetch("/api/v1/shows?limit=1")).json())[0]);
  const url = `${base}/shows/${show.slug}`;
  // The viewer in the venue's zone: no "your time" line that could move the page on its own.
  const options = { timezoneId: show.venue_timezone, viewport: { width: 1000, height: 800 } };
  const calendarBox = (page) => page.getByRole("link", { name: "Add to calendar" }).boundingBox();

  // Without JavaScript: the plain link, no button.
  const plain = await (await browser.newContext({ ...options, javaScriptEnabled: false })).newPage();
  await guard(plain, base, fail);
  await plain.goto(url);
  assert.ok(await plain.getByRole("link", { name: "Link to this show" }).isVisible());
  assert.equal(await plain.getByRole("button", { name: "Share this show" }).count(), 0, "hidden without script");
  const before = await calendarBox(plain);

  // With JavaScript, a browser without navigator.share: copy to the clipboard.
  const context = await browser.newContext(options);
  await context.grantPermissions(["clipboard-read", "clipboard-write"], { origin: base });
  await context.addInitScript(() => { delete Navigator.prototype.share; });
  const page = await context.newPage();
  await guard(page, base, fail);
  await page.goto(url);
  const button = page.getByRole("button", { name: "Share this show" });
  await button.waitFor();
  assert.equal(await page.getByRole("link", { name: "Link to this show" }).count(), 0, "the link gives way");
  const after = await calendarBox(page);
  assert.deepEqual([after.x, after.y], [before.x, before.y], "the button takes the link's place: nothing moves");
  await button.click();
  const status = page.locator("#share-status");
  await page.waitForFunction(() => document.getElementById("share-status").textContent === "Link copied");
  assert.equal(await status.getAttribute("aria-live"), "polite");
  assert.ok(await status.isVisible(), "the confirmation is visible");
  assert.equal(await page.evaluate(() => navigator.clipboard.readText()), url);
  await page.screenshot({ path: `${outDir}/share-copied.png` });
  log("the share button copied the show's address and said so; without script a plain link stood there");
});
