/**
 * The keys page in headless Chromium against the real keysRouter: sign in, create a key, read the
 * one-time secret, use it, watch usage update, rotate, revoke, and see the API refuse the revoked
 * key. Also: the secret is never rendered again, no CSP violations, router errors inline, phone width.
 */
import { mkdirSync } from "node:fs";
import type { AddressInfo } from "node:net";
import type { Server } from "node:http";
import { KeyManager, MemoryStore } from "keyward";
import type { BrowserContext, Page } from "playwright-core";
import { describeInBrowser, launch } from "./browser";
import { createPageApp, SCOPES } from "./app";

// Browser globals used inside page.evaluate callbacks (module-scoped; the project compiles without the DOM lib).
// biome-ignore lint/suspicious/noExplicitAny: untyped browser globals, read inside page.evaluate only
declare const document: any, window: any, navigator: any, getComputedStyle: any;

const ARTIFACTS = "test-artifacts";
const PAGE = "/settings/api-keys";

// A real browser on a shared, busy machine: allow more than the default 20 s per step (not a timing assertion).
jest.setTimeout(60_000);

describeInBrowser("keys page in Chromium", () => {
  let keys: KeyManager;
  let server: Server;
  let base: string;
  let context: BrowserContext;
  let closeBrowser: () => Promise<void>;
  const cspViolations: string[] = [];

  beforeAll(async () => {
    keys = new KeyManager({ store: new MemoryStore(), scopes: SCOPES, allowedTtls: ["30d", "60d", "90d"], usage: { flushInterval: "1h" } });
    server = createPageApp(keys).app.listen(0, "127.0.0.1");
    await new Promise((resolve) => server.once("listening", resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    ({ context, close: closeBrowser } = await launch({ baseURL: base }));
    await context.grantPermissions(["clipboard-read", "clipboard-write"], { origin: base });
    mkdirSync(ARTIFACTS, { recursive: true });
  });

  afterAll(async () => {
    await closeBrowser?.();
    server?.closeAllConnections();
    await new Promise((resolve) => (server ? server.close(resolve) : resolve(undefined)));
    await keys?.close();
  });

  async function open(path = PAGE): Promise<Page> {
    const page = await context.newPage();
    page.on("console", (msg) => {
      if (/Content.Security.Policy/i.test(msg.text())) cspViolations.push(msg.text());
    });
    page.on("pageerror", (err) => cspViolations.push(`script error: ${err.message}`));
    await page.goto(path);
    await settled(page);
    return page;
  }

  /** Waits until the table (rows and sparklines) has finished its latest load. */
  const settled = (page: Page) => page.locator('.kw-table[aria-busy="false"]').waitFor();
  const refresh = async (page: Page) => {
    await page.getByRole("button", { name: "Refresh" }).click();
    await settled(page);
  };

  /** Signs alice in (a fresh session for the same user; her keys stay hers). */
  const signIn = () => context.request.post("/login/alice");
  const callApi = (secret: string) => fetch(`${base}/v1/notes`, { headers: { authorization: `Bearer ${secret}` } });

  /** Where (if anywhere) the page still shows `secret` or its tail. */
  function secretTraces(page: Page, secret: string) {
    return page.evaluate(
      (needles) => {
        const html = document.documentElement.outerHTML;
        // biome-ignore lint/performance/useDomNodeTextContent: innerText is the text as rendered, which is what must not show the secret
        const text = document.body.innerText;
        const values = Array.from(document.querySelectorAll("input, textarea, select"))
          .map((i) => (i as { value: string }).value)
          .join("\n");
        const selection = String(window.getSelection());
        const found: string[] = [];
        for (const needle of needles) {
          if (html.includes(needle)) found.push("html");
          if (text.includes(needle)) found.push("text");
          if (values.includes(needle)) found.push("inputs");
          if (selection.includes(needle)) found.push("selection");
        }
        return found;
      },
      [secret, secret.slice(-16)],
    );
  }

  async function createKey(page: Page, name: string, choose: { mode?: string; scopes?: string[]; projects?: string[]; expiry?: string } = {}): Promise<string> {
    await page.getByRole("button", { name: "Create key" }).first().click();
    const dialog = page.getByRole("dialog", { name: "Create key" });
    await dialog.getByLabel("Name").fill(name);
    if (choose.mode) await dialog.getByLabel("Mode").selectOption(choose.mode);
    for (const scope of choose.scopes ?? []) await dialog.getByRole("checkbox", { name: scope }).check();
    for (const project of choose.projects ?? []) await dialog.getByRole("checkbox", { name: project }).check();
    if (choose.expiry) await dialog.getByLabel("Expires after").selectOption({ label: choose.expiry });
    await dialog.getByRole("button", { name: "Create key" }).click();
    await page.getByRole("dialog", { name: "Copy your new key" }).waitFor();
    const secret = (await page.locator("#kw-secret-value").textContent()) ?? "";
    await page.getByRole("button", { name: "Done, I've stored it" }).click();
    await settled(page);
    return secret;
  }

  test("signed out: the page says so in plain words and offers to sign in", async () => {
    const page = await open();
    await expect(page.getByRole("alert").first().textContent()).resolves.toContain("You are signed out");
    expect(await page.getByRole("link", { name: "Sign in" }).getAttribute("href")).toBe("/login");
    expect(await page.getByRole("button", { name: "Create key" }).first().isDisabled()).toBe(true);
    await page.close();
  });

  test("create, use, watch usage, rotate, revoke: the whole life of a key", async () => {
    await signIn();
    const page = await open();
    expect(await page.locator("#kw-empty").textContent()).toContain("no API keys yet");

    // Create with the keyboard only: the button opens a labelled dialog focused on Name; Enter submits.
    await page.getByRole("button", { name: "Create key" }).first().focus();
    await page.keyboard.press("Enter");
    const dialog = page.getByRole("dialog", { name: "Create key" });
    await dialog.waitFor();
    expect(await page.evaluate(() => document.activeElement?.id)).toBe("kw-create-name");
    await page.keyboard.type("ci-deploys");
    await dialog.getByLabel("Mode").selectOption("live");
    await dialog.getByRole("checkbox", { name: "notes:read" }).check();
    await dialog.getByRole("checkbox", { name: "proj_alpha" }).check();
    await dialog.getByLabel("Expires after").selectOption({ label: "90 days" });
    await dialog.getByLabel("Name").press("Enter");

    const secretDialog = page.getByRole("dialog", { name: "Copy your new key" });
    await secretDialog.waitFor();
    expect(await secretDialog.textContent()).toContain("You won't see this key again");
    const secret = (await page.locator("#kw-secret-value").textContent()) ?? "";
    expect(secret).toMatch(/^sk_live_[A-Za-z0-9]{30,}$/);
    await page.getByRole("button", { name: "Copy key" }).click();
    await page.locator("#kw-copy-status", { hasText: "Copied to the clipboard." }).waitFor();
    expect(await page.evaluate(() => navigator.clipboard.readText())).toBe(secret);

    // The key works against the protected API (200) while the dialog is still open.
    expect((await callApi(secret)).status).toBe(200);

    // Escape closes the dialog and the secret is gone from the page, then and after a reload.
    await page.keyboard.press("Escape");
    await secretDialog.waitFor({ state: "hidden" });
    expect(await secretTraces(page, secret)).toEqual([]);

    // The row: name, start, mode badge, scopes, projects, and the use we just made (unflushed).
    const row = page.locator("#kw-rows tr", { hasText: "ci-deploys" });
    await refresh(page);
    expect(await row.locator(".kw-count").textContent()).toBe("1");
    expect(await row.locator(".kw-last-used").textContent()).toBe("just now");
    expect(await row.locator(".kw-badge-live").textContent()).toBe("live");
    expect(await row.textContent()).toContain(secret.slice(0, 12));
    expect(await row.textContent()).toContain("notes:read");
    expect(await row.textContent()).toContain("proj_alpha");
    expect(await row.locator(".kw-status").textContent()).toContain("Active");
    const spark = row.getByRole("img");
    expect(await spark.getAttribute("aria-label")).toMatch(/^1 request in the last 30 days; busiest day \d{4}-\d\d-\d\d with 1$/);

    // After a reload neither the page nor anything the router sends it holds the secret.
    const bodies: Array<Promise<string>> = [];
    page.on("response", (response) => {
      bodies.push(response.text().catch(() => ""));
    });
    await page.reload();
    await settled(page);
    expect(await secretTraces(page, secret)).toEqual([]);
    const received = await Promise.all(bodies);
    expect(received.length).toBeGreaterThanOrEqual(4); // page, css, js, list, usage
    for (const body of received) expect(body).not.toContain(secret.slice(-16));
    page.removeAllListeners("response");

    // Rotate with the default 24h overlap: both secrets work until the old one is revoked.
    await page.getByRole("button", { name: "Rotate key ci-deploys" }).click();
    const rotateDialog = page.getByRole("dialog", { name: "Rotate “ci-deploys”" });
    expect(await rotateDialog.getByRole("radio", { name: /Keep it working for 24 hours/ }).isChecked()).toBe(true);
    await rotateDialog.getByRole("button", { name: "Rotate key" }).click();
    await secretDialog.waitFor();
    expect(await page.locator("#kw-secret-note").textContent()).toMatch(/keeps working until/);
    const successor = (await page.locator("#kw-secret-value").textContent()) ?? "";
    expect(successor).toMatch(/^sk_live_/);
    expect(successor).not.toBe(secret);
    await page.getByRole("button", { name: "Done, I've stored it" }).click();
    expect(await secretTraces(page, successor)).toEqual([]);
    await settled(page);
    expect((await callApi(successor)).status).toBe(200);
    expect((await callApi(secret)).status).toBe(200);
    const rows = page.locator("#kw-rows tr", { hasText: "ci-deploys" });
    await expect(rows.count()).resolves.toBe(2);

    // Revoke the old key (confirm in the dialog): the API refuses it at once, the successor still works.
    const oldRow = page.locator(`#kw-rows tr:has(code:text-is("${secret.slice(0, 12)}…"))`);
    await oldRow.getByRole("button", { name: "Revoke key ci-deploys" }).click();
    const revokeDialog = page.getByRole("dialog", { name: "Revoke “ci-deploys”?" });
    expect(await revokeDialog.textContent()).toContain("cannot be undone");
    expect(await page.evaluate(() => document.activeElement?.textContent)).toBe("Cancel");
    await revokeDialog.getByRole("button", { name: "Revoke key" }).click();
    await revokeDialog.waitFor({ state: "hidden" });
    await settled(page);
    expect(await oldRow.locator(".kw-status").textContent()).toContain("Revoked");
    await page.waitForFunction(() => document.activeElement?.tagName === "TR");
    expect(await page.evaluate(() => document.activeElement?.textContent)).toContain("Revoked");
    const refused = await callApi(secret);
    expect(refused.status).toBe(401);
    expect(((await refused.json()) as { error: { code: string } }).error.code).toBe("key_revoked");
    expect((await callApi(successor)).status).toBe(200);
    expect(await oldRow.getByRole("button", { name: /Revoke|Rotate/ }).count()).toBe(0);

    // Filters: revoked only, then live active only.
    await page.getByLabel("Status").selectOption("revoked");
    await settled(page);
    await expect(page.locator("#kw-rows tr").count()).resolves.toBe(1);
    expect(await page.locator("#kw-rows tr .kw-status").textContent()).toContain("Revoked");
    await page.getByLabel("Status").selectOption("");
    await settled(page);

    // A few more keys so the screenshot shows a realistic table.
    const testKey = await createKey(page, "local-dev", { mode: "test", scopes: ["notes:read", "notes:write"], expiry: "30 days" });
    for (let i = 0; i < 3; i++) await callApi(testKey);
    await createKey(page, "billing-export", { mode: "live", scopes: ["billing:read"], projects: ["proj_beta"], expiry: "60 days" });
    await refresh(page);
    expect(await page.locator("#kw-rows tr", { hasText: "local-dev" }).locator(".kw-count").textContent()).toBe("3");
    await expect(page.locator("#kw-rows tr .kw-usage svg").count()).resolves.toBe(4);
    await page.screenshot({ path: `${ARTIFACTS}/keys-page.png`, fullPage: true });

    // Mode filter.
    await page.getByRole("group", { name: "Filter keys" }).getByLabel("Mode").selectOption("test");
    await settled(page);
    expect(await page.locator("#kw-rows tr").textContent()).toContain("local-dev");
    await expect(page.locator("#kw-rows tr").count()).resolves.toBe(1);
    expect(cspViolations).toEqual([]);
    await page.close();
  });

  test("router errors appear inline next to the field, in plain words", async () => {
    await signIn();
    const page = await open();
    await page.getByRole("button", { name: "Create key" }).first().click();
    await page.getByLabel("Name").fill("forever");
    await page.getByLabel("Expires after").selectOption({ label: "Never" });
    await page.locator("#kw-create-submit").click();
    const error = page.locator("#kw-create-expiry-error");
    await error.waitFor();
    expect(await error.textContent()).toMatch(/allowed|lifetime/i);
    expect(await page.getByLabel("Expires after").getAttribute("aria-invalid")).toBe("true");
    expect(await page.getByRole("dialog", { name: "Create key" }).isVisible()).toBe(true);

    // A key revoked elsewhere while its rotate dialog is open: the conflict is explained in the dialog.
    await page.getByLabel("Expires after").selectOption({ label: "30 days" });
    await page.locator("#kw-create-submit").click();
    await page.getByRole("button", { name: "Done, I've stored it" }).click();
    await page.getByRole("button", { name: "Rotate key forever" }).click();
    const {
      keys: [victim],
    } = await keys.list({ ownerId: "alice", limit: 1 });
    expect(victim!.name).toBe("forever");
    await keys.revoke(victim!.id);
    await page.getByRole("dialog", { name: "Rotate “forever”" }).getByRole("button", { name: "Rotate key" }).click();
    const conflict = page.locator("#kw-rotate-error");
    await conflict.waitFor();
    expect(await conflict.textContent()).toBe("Only an active key can be rotated; this one is revoked.");
    await page.locator("#kw-rotate-cancel").click();

    // An empty name is caught before any request, next to the field.
    await page.getByRole("button", { name: "Create key" }).first().click();
    await page.getByLabel("Name").fill("   ");
    await page.locator("#kw-create-submit").click();
    expect(await page.locator("#kw-create-name-error").textContent()).toBe("Give the key a name.");
    await page.getByRole("button", { name: "Cancel" }).click();
    expect(cspViolations).toEqual([]);
    await page.close();
  });

  test("works with a { data, error } envelope (formatBody / formatError) and pages through long lists", async () => {
    const routerOptions = {
      formatBody: (data: unknown) => ({ data, error: null }),
      formatError: (e: Error) => ({ data: null, error: e.message }),
      maxPageSize: 2,
    };
    for (const name of ["older-1", "older-2"]) await keys.create({ name, ownerId: "erin", expiresIn: "30d" });
    const envelope = createPageApp(keys, {}, routerOptions).app.listen(0, "127.0.0.1");
    await new Promise((resolve) => envelope.once("listening", resolve));
    const origin = `http://127.0.0.1:${(envelope.address() as AddressInfo).port}`;
    try {
      const signedOut = await open(`${origin}${PAGE}`);
      expect(await signedOut.locator("#kw-alert").textContent()).toMatch(/sign/i);
      await signedOut.close();
      await context.request.post(`${origin}/login/erin`);
      const page = await open(`${origin}${PAGE}`);
      const secret = await createKey(page, "enveloped", { scopes: ["notes:read"], expiry: "60 days" });
      expect(secret).toMatch(/^sk_live_/);
      expect((await callApi(secret)).status).toBe(200);
      const row = page.locator("#kw-rows tr", { hasText: "enveloped" });
      await row.getByRole("img").waitFor();
      expect(await row.locator(".kw-status").textContent()).toContain("Active");
      await expect(page.locator("#kw-rows tr").count()).resolves.toBe(2);
      await page.getByRole("button", { name: "Load more keys" }).click();
      await settled(page);
      const names = await page.locator("#kw-rows tr .kw-name").allTextContents();
      expect(names[0]).toBe("enveloped"); // newest first; the two older ones may share a millisecond
      expect(names.slice(1).sort()).toEqual(["older-1", "older-2"]);
      expect(await page.locator("#kw-rows tr .kw-usage svg").count()).toBe(3);
      expect(await page.getByRole("button", { name: "Load more keys" }).isVisible()).toBe(false);
      await page.close();
    } finally {
      envelope.closeAllConnections();
      await new Promise((resolve) => envelope.close(resolve));
      await signIn(); // cookies ignore ports: erin's cookie replaced alice's
    }
  });

  test("names are shown as text, never as markup", async () => {
    await signIn();
    const page = await open();
    const hostile = `<img src=x id=pwned onerror="document.title='pwned'">`;
    await createKey(page, hostile, { expiry: "30 days" });
    await page.locator("#kw-rows tr", { hasText: hostile }).waitFor();
    expect(await page.locator("#pwned").count()).toBe(0);
    expect(await page.title()).toBe("API keys");
    await page.close();
  });

  test("readable at phone width: no sideways scrolling, every row labelled", async () => {
    await signIn();
    const page = await open();
    await page.setViewportSize({ width: 390, height: 844 });
    await page.locator("#kw-rows tr .kw-usage svg").first().waitFor();
    expect(await page.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth)).toBe(true);
    expect(
      await page
        .locator("#kw-rows td.kw-last-used")
        .first()
        .evaluate((td: unknown) => getComputedStyle(td, "::before").content),
    ).toBe('"Last used"');
    await page.screenshot({ path: `${ARTIFACTS}/keys-page-phone.png`, fullPage: true });
    await page.close();
  });
});
