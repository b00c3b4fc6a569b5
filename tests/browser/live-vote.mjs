// Browser test of the show page against a running server (started by scripts/browser-test.sh):
// fan A signs up through the form and votes; fan B, watching the same show in another browser
// context, sees the count change and a newly added song appear without reloading (live SSE).
// Uses Debian's Chromium; never downloads a browser. Every wait is bounded.
import { WAIT, log, outDir, runBrowserTest } from "./harness.mjs";
import assert from "node:assert/strict";

const base = process.env.BASE_URL;
if (!base) throw new Error("BASE_URL is not set (run scripts/browser-test.sh)");

await runBrowserTest(async (browser, fail) => {
  const contextA = await browser.newContext();
  const contextB = await browser.newContext();
  const a = await contextA.newPage();
  const b = await contextB.newPage();
  for (const p of [a, b]) {
    p.setDefaultTimeout(WAIT);
    // Only the server under test may be contacted: anything else fails the test.
    await p.route("**/*", (route) => route.request().url().startsWith(base) ? route.continue() : route.abort());
    p.on("pageerror", (e) => { fail(); console.error(`page error: ${e.message}`); });
  }

  // An upcoming show (voting open) from the home page.
  await a.goto(`${base}/`);
  const showPath = await a.locator("section[aria-labelledby=upcoming] .card a").first().getAttribute("href");
  assert.match(showPath, /^\/shows\//);
  log(`show ${showPath}`);

  // Fan A signs up through the form, signs in on the page sign-up leads to (sign-up answers alike
  // for new and taken addresses, so it does not sign in), and lands on the show.
  await a.goto(`${base}/signup?next=${encodeURIComponent(showPath)}`);
  const email = `fan-${Date.now()}@example.org`;
  await a.getByLabel("Email").fill(email);
  await a.getByLabel("Display name").fill("Browser Fan");
  await a.getByLabel(/^Password/).fill("a long enough secret");
  await Promise.all([a.waitForURL(/\/login\?/), a.getByRole("button", { name: "Create an account" }).click()]);
  await a.getByLabel("Email").fill(email);
  await a.getByLabel(/^Password/).fill("a long enough secret");
  await Promise.all([a.waitForURL(`${base}${showPath}`), a.getByRole("button", { name: "Sign in" }).click()]);
  assert.ok(await a.getByRole("link", { name: "Browser Fan" }).isVisible(), "A is signed in");

  // Fan B watches the same show, signed out; wait until the live stream delivered its first ranking.
  await b.goto(`${base}${showPath}`);
  await b.waitForSelector("article.show[data-live-state=connected]", { timeout: WAIT });
  await b.evaluate(() => { window.__sameDocument = true; });

  // Rows move when the ranking changes, so the song is followed by its id, not its position.
  const songId = await a.locator("#ranking li").nth(2).getAttribute("data-song-id");
  const row = a.locator(`#ranking li[data-song-id="${songId}"]`);
  const countIn = (page) => page.locator(`#ranking li[data-song-id="${songId}"] .votes .n`).textContent().then(Number);
  const before = await countIn(b);
  log(`song ${songId} has ${before} votes`);

  // A votes with JavaScript (no reload): the button turns pressed and B's count goes up live.
  const button = row.getByRole("button");
  assert.equal(await button.getAttribute("aria-pressed"), "false");
  await a.evaluate(() => { window.__sameDocument = true; });
  await button.click();
  await a.waitForFunction((id) => document.querySelector(`#ranking li[data-song-id="${id}"] button`)
    ?.getAttribute("aria-pressed") === "true", songId, { timeout: WAIT });
  assert.match(await row.getByRole("button").textContent(), /^Voted/);
  assert.equal(await a.evaluate(() => window.__sameDocument), true, "A voted without a reload");
  await b.waitForFunction(([id, n]) => Number(document.querySelector(`#ranking li[data-song-id="${id}"] .votes .n`)
    ?.textContent) === n, [songId, before + 1], { timeout: WAIT });
  assert.match(await a.locator("#vote-status").textContent(), /Voted for/);
  log(`B saw ${before + 1} votes without reloading`);
  // The count sits in the vote button (and in its accessible name), the share bar follows the
  // count, and B sees that two are watching (A and B).
  assert.equal(await row.getByRole("button").locator(".votes .n").count(), 1);
  assert.match(await row.getByRole("button").getAttribute("aria-pressed"), /true/);
  assert.match(await row.getByRole("button").evaluate((e) => e.textContent.replace(/\s+/g, " ")), /Voted for .*, \d+ votes/);
  const bar = await b.locator(`#ranking li[data-song-id="${songId}"] meter.share`).evaluate((m) => [m.value, m.max]);
  assert.equal(bar[0], before + 1);
  assert.ok(bar[1] >= bar[0], `share bar ${bar}`);
  await b.waitForFunction(() => /live, [2-9]\d* watching/.test(document.getElementById("live-note")?.textContent || ""),
    null, { timeout: WAIT });
  log(`B's page says: ${await b.locator("#live-note").textContent()}`);

  // A song added by A (plain form, A's page reloads) appears on B's page as a new row.
  // The add-song field is a type-ahead over the catalog (the browser's datalist suggests titles).
  const addedTitle = await a.locator("#add-song-titles option").first().getAttribute("value");
  await a.locator("#add-song").fill(addedTitle);
  await Promise.all([a.waitForURL(/#song-\d+$/), a.getByRole("button", { name: "Add", exact: true }).click()]);
  await b.waitForFunction((t) => [...document.querySelectorAll("#ranking li .title")]
    .some((e) => e.firstChild && e.firstChild.textContent === t), addedTitle, { timeout: WAIT });
  log(`B saw "${addedTitle}" appear`);

  // A takes the vote back; B follows.
  await a.locator(`#ranking li[data-song-id="${songId}"] button`).click();
  await b.waitForFunction(([id, n]) => Number(document.querySelector(`#ranking li[data-song-id="${id}"] .votes .n`)
    ?.textContent) === n, [songId, before], { timeout: WAIT });
  assert.equal(await b.evaluate(() => window.__sameDocument), true, "B never reloaded");

  await a.screenshot({ path: `${outDir}/show-fan-a.png`, fullPage: true });
  await b.screenshot({ path: `${outDir}/show-fan-b.png`, fullPage: true });
  log(`screenshots in ${outDir}`);
});
