// Browser test with JavaScript off: a fan signs up and in through the forms, votes with the plain
// form (the page reloads at the song), and finds the pick under "Your votes" on the account page.
// Uses Debian's Chromium; never downloads a browser. Every wait is bounded.
import { guard, log, runBrowserTest, signUpFan } from "./harness.mjs";
import assert from "node:assert/strict";

const base = process.env.BASE_URL;
if (!base) throw new Error("BASE_URL is not set (run scripts/browser-test.sh)");

await runBrowserTest(async (browser, fail) => {
  const page = await (await browser.newContext({ javaScriptEnabled: false })).newPage();
  await guard(page, base, fail);
  await page.goto(`${base}/`);
  const showPath = await page.locator("section[aria-labelledby=upcoming] .card a").first().getAttribute("href");
  await signUpFan(page, base, "No Script Fan", showPath);
  assert.equal(await page.locator("article.show").getAttribute("data-live-state"), null, "no script ran");

  const row = page.locator("#ranking li").nth(1);
  const songId = await row.getAttribute("data-song-id");
  const title = (await row.locator(".title").evaluate((t) => t.firstChild.textContent)).trim();
  assert.equal(await row.getByRole("button").getAttribute("aria-pressed"), "false");
  await Promise.all([page.waitForURL(new RegExp(`#song-${songId}$`)), row.getByRole("button").click()]);
  const voted = page.locator(`#ranking li[data-song-id="${songId}"] button`);
  assert.equal(await voted.getAttribute("aria-pressed"), "true");
  assert.match(await voted.textContent(), /^Voted/);
  log(`voted for "${title}" without JavaScript`);

  await page.goto(`${base}/account`);
  const mine = page.locator("section[aria-labelledby=my-votes]");
  assert.ok(await mine.locator(`a[href="${showPath}"]`).isVisible(), "the show is under Your votes");
  assert.match(await mine.textContent(), new RegExp(`Your picks: .*${title.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}`));
  log("the pick is under Your votes on the account page");
});
