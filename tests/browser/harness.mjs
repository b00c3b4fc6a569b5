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

// Runs one browser test: launches Chromium, awaits `body(browser, fail)` (`fail()` marks the test as
// failed without stopping it, e.g. from a page error), closes the browser whatever happens, and prints
// the closing line the test runner reads; exits 1 on failure. `onFailure` prints what helps debugging.
export async function runBrowserTest(body, onFailure = () => {}) {
  const browser = await launchChromium();
  let failed = false;
  try {
    await body(browser, () => { failed = true; });
  } catch (e) {
    failed = true;
    console.error(e);
    onFailure();
  } finally {
    await browser.close();
  }
  if (failed) {
    console.log("0 passed, 1 failed");
    process.exit(1);
  }
  console.log("1 passed, 0 failed");
}

// Only the server under test may be contacted; a script error on the page fails the test.
export async function guard(page, base, onError) {
  page.setDefaultTimeout(WAIT);
  await page.route("**/*", (route) => route.request().url().startsWith(base) ? route.continue() : route.abort());
  page.on("pageerror", (e) => { onError(); console.error(`page error: ${e.message}`); });
}

// Signs in through the form and waits for the page it leads to.
export async function signIn(page, base, email, password, next = "/") {
  await page.goto(`${base}/login?next=${encodeURIComponent(next)}`);
  await page.getByLabel("Email").fill(email);
  await page.getByLabel(/^Password/).fill(password);
  await Promise.all([page.waitForURL(`${base}${next}`), page.getByRole("button", { name: "Sign in" }).click()]);
}

// A new fan through the sign-up form (which does not sign in), then signed in.
export async function signUpFan(page, base, name, next = "/") {
  const email = `fan-${Date.now()}-${Math.floor(Math.random() * 1e6)}@example.org`;
  const password = "a long enough secret";
  await page.goto(`${base}/signup?next=${encodeURIComponent(next)}`);
  await page.getByLabel("Email").fill(email);
  await page.getByLabel("Display name").fill(name);
  await page.getByLabel(/^Password/).fill(password);
  await Promise.all([page.waitForURL(/\/login\?/), page.getByRole("button", { name: "Create an account" }).click()]);
  await signIn(page, base, email, password, next);
  return { email, password };
}

// As a signed-in admin page: a new show of an existing artist and venue, starting `inSeconds` from
// now, created over the JSON API (the admin form only takes whole minutes). Returns its slug.
export async function createShow(adminPage, inSeconds, title) {
  return adminPage.evaluate(async ([inSeconds, title]) => {
    const shows = await (await fetch("/api/v1/shows?limit=1")).json();
    const startsAt = new Date(Date.now() + inSeconds * 1000).toISOString().replace(/\.\d+Z$/, "Z");
    const res = await fetch("/api/v1/shows", {
      method: "POST", headers: { "content-type": "application/json", "accept": "application/json" },
      body: JSON.stringify({ artist_id: shows[0].artist_id, venue_id: shows[0].venue_id, starts_at: startsAt, title }),
    });
    if (!res.ok) throw new Error(`create show: ${res.status} ${await res.text()}`);
    const { id } = await res.json();
    return (await (await fetch(`/api/v1/shows/${id}`)).json()).show.slug;
  }, [inSeconds, title]);
}
