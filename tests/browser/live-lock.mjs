// Browser test of the live show page: keyboard focus survives a live reorder (someone else's vote
// and one's own), rank changes are announced politely, and the page locks itself at the start: by
// its own timer, and by the server's `locked` event on a page whose clock runs an hour slow.
// Uses Debian's Chromium; never downloads a browser. Every wait is bounded.
import { WAIT, createShow, guard, log, outDir, runBrowserTest, signIn, signUpFan } from "./harness.mjs";
import assert from "node:assert/strict";

const base = process.env.BASE_URL;
if (!base) throw new Error("BASE_URL is not set (run scripts/browser-test.sh)");
const LOCK_IN = 8; // seconds from creating the show to its start

await runBrowserTest(async (browser, fail) => {
  const fanContext = await browser.newContext();
  const adminContext = await browser.newContext();
  const fan = await fanContext.newPage();
  const admin = await adminContext.newPage();
  for (const p of [fan, admin]) await guard(p, base, fail);
  await signIn(admin, base, process.env.ADMIN_EMAIL, process.env.ADMIN_PASSWORD);
  await signUpFan(fan, base, "Keyboard Fan");

  // --- Focus through a live reorder -------------------------------------------------------------
  const later = await createShow(admin, 3 * 86400, "Focus test");
  await fan.goto(`${base}/shows/${later}`);
  await fan.waitForSelector("article.show[data-live-state=connected]");
  assert.match(await fan.locator("#voting-status").textContent(), /^Voting closes in 2 d 23 h|^Voting closes in 3 d 0 h/);
  const ids = await fan.locator("#ranking li").evaluateAll((rows) => rows.map((r) => r.getAttribute("data-song-id")));
  assert.ok(ids.length >= 3, `a seeded list (${ids.length} songs)`);
  const last = ids[ids.length - 1];
  const buttonOf = (id) => `#ranking li[data-song-id="${id}"] button`;
  const focusedSong = () => fan.evaluate(() => document.activeElement?.closest("li")?.getAttribute("data-song-id") ?? document.activeElement?.tagName);
  const indexOf = (id) => fan.evaluate((id) => [...document.querySelectorAll("#ranking li")].findIndex((li) => li.getAttribute("data-song-id") === id), id);
  await fan.locator(buttonOf(last)).focus();

  // Someone else votes for the last song: it moves to the top on the fan's page, focus with it.
  await admin.goto(`${base}/shows/${later}`);
  const voted = await admin.evaluate(async ([slug, song]) => {
    const show = await (await fetch(`/api/v1/shows/${slug}`)).json();
    return (await fetch(`/api/v1/shows/${show.show.id}/songs/${song}/vote`, { method: "POST", headers: { accept: "application/json" } })).status;
  }, [later, last]);
  assert.equal(voted, 200);
  await fan.waitForFunction((id) => document.querySelector("#ranking li")?.getAttribute("data-song-id") === id, last);
  assert.equal(await focusedSong(), last, "focus stays on the moved row's button");
  assert.equal(await fan.evaluate(() => document.activeElement.tagName), "BUTTON");
  assert.match(await fan.locator("#ranking-status").textContent(), /moved up to number 1/);
  log("focus followed the row through someone else's vote");

  // The fan votes with the keyboard on the (new) last song: focus stays on that button.
  const next = await fan.locator("#ranking li").last().getAttribute("data-song-id");
  const from = await indexOf(next);
  await fan.locator(buttonOf(next)).focus();
  await fan.keyboard.press("Enter");
  await fan.waitForFunction(([id, from]) => {
    const rows = [...document.querySelectorAll("#ranking li")];
    const i = rows.findIndex((li) => li.getAttribute("data-song-id") === id);
    return i < from && rows[i].querySelector("button").getAttribute("aria-pressed") === "true";
  }, [next, from]);
  assert.equal(await focusedSong(), next, "focus stays on the button after one's own vote and the reorder");
  assert.match(await fan.locator("#vote-status").textContent(), /^Voted for /);
  log("focus stayed through the fan's own vote");

  // --- The lock at the start -----------------------------------------------------------------------
  const soon = await createShow(admin, LOCK_IN, "Lock test");
  const created = Date.now();
  // The admin's clock runs an hour slow: its timer will not fire, only the server's event can lock it.
  await adminContext.clock.install({ time: Date.now() - 3600_000 });
  for (const p of [fan, admin]) {
    await p.goto(`${base}/shows/${soon}`);
    await p.waitForSelector("article.show[data-live-state=connected]");
  }
  assert.match(await fan.locator("#voting-status").textContent(), /^Voting closes in less than a minute$/);
  assert.ok(await fan.locator("#ranking form.vote").count() > 0, "vote buttons while open");
  assert.ok(await admin.locator("#ranking form.vote").count() > 0, "vote buttons while open");
  const lockWait = LOCK_IN * 1000 + WAIT - (Date.now() - created);
  for (const [name, p] of [["fan", fan], ["admin (slow clock)", admin]]) {
    await p.waitForFunction(() => /^Voting has closed — the setlist will appear here\.$/
      .test(document.getElementById("voting-status")?.textContent ?? ""), null, { timeout: Math.max(lockWait, WAIT) });
    assert.equal(await p.locator("#ranking form.vote, form.add-song").count(), 0, `${name}: no vote buttons`);
    assert.equal(await p.locator("article.show").getAttribute("data-live-state"), "closed");
    log(`${name}'s page locked itself`);
  }
  assert.ok(Date.now() - created >= (LOCK_IN - 1) * 1000, "not before the start");
  // Without JavaScript too: the server's page says the same.
  const html = await (await fan.request.get(`${base}/shows/${soon}`)).text();
  assert.match(html, /Voting has closed — the setlist will appear here\./);
  assert.doesNotMatch(html, /class="vote"/);

  await fan.screenshot({ path: `${outDir}/show-locked.png`, fullPage: true });
});
