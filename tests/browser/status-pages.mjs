// Browser test of the admin status pages against a running server (started by
// scripts/browser-test.sh, which created the admin with `mysetlist admin create-user --role admin`):
// the admin signs in through the form, then /admin/status and /admin/status/technical render with
// their SVG charts, without console errors, page errors or Content-Security-Policy violations.
// Uses Debian's Chromium; never downloads a browser. Every wait is bounded.
import { WAIT, log, outDir, runBrowserTest } from "./harness.mjs";
import assert from "node:assert/strict";

const base = process.env.BASE_URL;
const email = process.env.ADMIN_EMAIL;
const password = process.env.ADMIN_PASSWORD;
if (!base || !email || !password) throw new Error("BASE_URL, ADMIN_EMAIL and ADMIN_PASSWORD must be set (run scripts/browser-test.sh)");

const problems = [];
await runBrowserTest(async (browser) => {
  const context = await browser.newContext();
  const page = await context.newPage();
  page.setDefaultTimeout(WAIT);
  // Only the server under test may be contacted: anything else fails the test.
  await page.route("**/*", (route) => route.request().url().startsWith(base) ? route.continue() : route.abort());
  page.on("pageerror", (e) => problems.push(`page error: ${e.message}`));
  // Chromium reports CSP violations (inline style or script, foreign origins) as console errors.
  page.on("console", (m) => { if (m.type() === "error") problems.push(`console error: ${m.text()}`); });
  // And as events, caught before any page script runs.
  await page.addInitScript(() => {
    window.__cspViolations = [];
    document.addEventListener("securitypolicyviolation",
      (e) => window.__cspViolations.push(`${e.violatedDirective} ${e.blockedURI}`));
  });

  // Signed out, the status page sends the visitor to the sign-in form, which comes back to it.
  await page.goto(`${base}/admin/status`);
  await page.waitForURL(/\/login\?next=/);
  await page.getByLabel("Email").fill(email);
  await page.getByLabel("Password").fill(password);
  await Promise.all([page.waitForURL(`${base}/admin/status`), page.getByRole("button", { name: "Sign in" }).click()]);
  log("admin signed in through the form");

  for (const [path, heading, shot] of [
    ["/admin/status", "Status", "status"],
    ["/admin/status/technical", "Technical status", "status-technical"],
  ]) {
    const response = await page.goto(`${base}${path}`);
    assert.equal(response.status(), 200, `${path} status`);
    assert.equal((await page.locator("h1").first().textContent()).trim(), heading);
    // The charts are inline SVG: present, laid out with a size, and drawn (paths or polylines).
    const charts = page.locator("main svg");
    const n = await charts.count();
    assert.ok(n >= 1, `${path} has SVG charts`);
    for (let i = 0; i < n; i++) {
      const box = await charts.nth(i).boundingBox();
      assert.ok(box && box.width > 50 && box.height > 20, `${path} chart ${i} is rendered (${JSON.stringify(box)})`);
    }
    const stylesheets = await page.evaluate(() => document.styleSheets.length);
    assert.ok(stylesheets >= 1, `${path} loaded its stylesheet`);
    const csp = await page.evaluate(() => window.__cspViolations);
    assert.deepEqual(csp, [], `${path}: CSP violations`);
    await page.screenshot({ path: `${outDir}/${shot}.png`, fullPage: true });
    log(`${path}: ${n} charts, no CSP violation`);
  }
  assert.deepEqual(problems, [], "console errors or page errors");
  log(`screenshots in ${outDir}`);
}, () => { for (const p of problems) console.error(p); });
