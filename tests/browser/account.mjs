// Browser test of account recovery and changes: an admin issues a one-time reset link for a fan, who
// opens it in another browser, sets a new password (a too-short one is refused next to the field,
// focusable and described) and lands signed in; the fan's old session is gone, and the fan then
// changes the password on the account page. Uses Debian's Chromium; every wait is bounded.
import { guard, log, runBrowserTest, signIn, signUpFan } from "./harness.mjs";
import assert from "node:assert/strict";

const base = process.env.BASE_URL;
const adminEmail = process.env.ADMIN_EMAIL;
const adminPassword = process.env.ADMIN_PASSWORD;
if (!base || !adminEmail || !adminPassword) throw new Error("BASE_URL, ADMIN_EMAIL, ADMIN_PASSWORD must be set");

await runBrowserTest(async (browser, fail) => {
  const fanPage = await (await browser.newContext()).newPage();
  await guard(fanPage, base, fail);
  const fan = await signUpFan(fanPage, base, "Forgetful Fan", "/account");

  const adminPage = await (await browser.newContext()).newPage();
  await guard(adminPage, base, fail);
  await signIn(adminPage, base, adminEmail, adminPassword, "/admin/users");
  await Promise.all([
    adminPage.waitForURL(/\/admin\/users\/\d+\/reset-link$/),
    adminPage.getByRole("button", { name: `Reset link for ${fan.email}` }).click(),
  ]);
  const link = await adminPage.getByLabel("Reset link").inputValue();
  assert.match(link, /\/reset\/[A-Za-z0-9_-]{20,}$/);

  // Another browser (the fan's new phone) opens the link.
  const phone = await (await browser.newContext()).newPage();
  await guard(phone, base, fail);
  await phone.goto(link);
  assert.ok(await phone.getByText(fan.email).isVisible());
  const field = phone.getByLabel(/^New password/);
  await field.fill("short");
  // The browser's own minlength check would stop the form; the server's message is what is tested.
  await phone.locator("form:has(#new_password)").evaluate((form) => { form.noValidate = true; });
  await phone.getByRole("button", { name: "Set password and sign in" }).click();
  await phone.waitForSelector("#new_password-error");
  assert.equal(await field.getAttribute("aria-invalid"), "true");
  assert.equal(await field.getAttribute("aria-describedby"), "new_password-error");
  const fresh = "a fresh passphrase for the phone";
  await phone.getByLabel(/^New password/).fill(fresh);
  await Promise.all([
    phone.waitForURL(`${base}/account?done=reset`),
    phone.getByRole("button", { name: "Set password and sign in" }).click(),
  ]);
  assert.ok(await phone.getByText("Your new password is set, and you are signed in.").isVisible());

  // The old browser was signed out; the link does not work twice.
  const old = await fanPage.goto(`${base}/account`);
  assert.match(old.url(), /\/login\?next=%2Faccount$/);
  const again = await fanPage.goto(link);
  assert.equal(again.status(), 404);
  assert.ok(await fanPage.getByText("This reset link has expired or was already used.").isVisible());

  // A password change on the account page.
  await phone.getByLabel("Current password", { exact: true }).fill(fresh);
  await phone.getByLabel(/^New password/).fill("yet another good passphrase");
  await Promise.all([
    phone.waitForURL(`${base}/account?done=password#password`),
    phone.getByRole("button", { name: "Change password" }).click(),
  ]);
  assert.ok(await phone.getByText("Your password is changed.").isVisible());
  log("reset link used once, old session ended, password changed on the account page");
});
