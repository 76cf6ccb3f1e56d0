/**
 * The keys page's controls for least privilege and incident response, in headless Chromium against
 * the real keysRouter: never-used scopes and narrowing a key to the scopes it used (with a
 * confirmation), disabling and enabling a key, and editing its IP allow-list; each checked against
 * what the protected API then answers.
 */
import type { AddressInfo } from "node:net";
import type { Server } from "node:http";
import { KeyManager, MemoryStore } from "keyward";
import type { BrowserContext, Page } from "playwright-core";
import { describeInBrowser, launch } from "./browser";
import { createPageApp, SCOPES } from "./app";

// Browser globals used inside page.evaluate callbacks (module-scoped; the project compiles without the DOM lib).
declare const document: { activeElement: { textContent: string | null; id: string } | null };

const PAGE = "/settings/api-keys";

// A real browser on a shared, busy machine: allow more than the default 20 s per step (not a timing assertion).
jest.setTimeout(60_000);

describeInBrowser("keys page controls in Chromium", () => {
  let keys: KeyManager;
  let server: Server;
  let base: string;
  let context: BrowserContext;
  let closeBrowser: () => Promise<void>;
  const pageErrors: string[] = [];

  beforeAll(async () => {
    keys = new KeyManager({ store: new MemoryStore(), scopes: SCOPES, usage: { flushInterval: "1h" } });
    server = createPageApp(keys).app.listen(0, "127.0.0.1");
    await new Promise((resolve) => server.once("listening", resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    ({ context, close: closeBrowser } = await launch({ baseURL: base }));
    await context.request.post("/login/dana");
  });

  afterAll(async () => {
    await closeBrowser?.();
    server?.closeAllConnections();
    await new Promise((resolve) => (server ? server.close(resolve) : resolve(undefined)));
    await keys?.close();
  });

  const settled = (page: Page) => page.locator('.kw-table[aria-busy="false"]').waitFor();
  async function open(): Promise<Page> {
    const page = await context.newPage();
    page.on("console", (msg) => {
      if (/Content.Security.Policy/i.test(msg.text())) pageErrors.push(msg.text());
    });
    page.on("pageerror", (err) => pageErrors.push(`script error: ${err.message}`));
    await page.goto(PAGE);
    await settled(page);
    return page;
  }
  const callApi = async (secret: string) => {
    const res = await fetch(`${base}/v1/notes`, { headers: { authorization: `Bearer ${secret}` } });
    const body = (await res.json()) as { error?: { code: string } };
    return { status: res.status, code: body.error?.code ?? null };
  };

  test("shows never-used scopes and narrows a key to the scopes it used, after confirming", async () => {
    const { secret, key } = await keys.create({ name: "reporting", ownerId: "dana", scopes: ["notes:read", "notes:write", "billing:read"] });
    const idle = await keys.create({ name: "idle", ownerId: "dana", scopes: ["notes:read"] });
    for (let i = 0; i < 3; i++) expect((await callApi(secret)).status).toBe(200);
    const page = await open();
    const row = page.locator(`#kw-rows tr[data-key-id="${key.id}"]`);
    expect(await row.locator(".kw-scope-review").textContent()).toContain("Never used in 30 days:");
    expect(await row.locator(".kw-tag-unused").allTextContents()).toEqual(["notes:write", "billing:read"]);
    // A key that used nothing shows its scopes as never used, but offers no narrowing (to nothing).
    const idleRow = page.locator(`#kw-rows tr[data-key-id="${idle.key.id}"]`);
    expect(await idleRow.locator(".kw-tag-unused").allTextContents()).toEqual(["notes:read"]);
    expect(await idleRow.getByRole("button", { name: /Narrow/ }).count()).toBe(0);

    // Cancel changes nothing.
    await row.getByRole("button", { name: "Narrow scopes of key reporting" }).click();
    const dialog = page.getByRole("dialog", { name: "Narrow “reporting”?" });
    expect(await dialog.textContent()).toContain("keep only notes:read");
    expect(await dialog.textContent()).toContain("It loses notes:write, billing:read");
    expect(await page.evaluate(() => document.activeElement?.textContent)).toBe("Cancel");
    await dialog.getByRole("button", { name: "Cancel" }).click();
    await dialog.waitFor({ state: "hidden" });
    expect((await keys.get(key.id))!.scopes).toEqual(["notes:read", "notes:write", "billing:read"]);

    // Confirm: the key keeps only notes:read, the API still answers it, and the offer is gone.
    await row.getByRole("button", { name: "Narrow scopes of key reporting" }).click();
    await dialog.getByRole("button", { name: "Narrow scopes" }).click();
    await dialog.waitFor({ state: "hidden" });
    await settled(page);
    expect((await keys.get(key.id))!.scopes).toEqual(["notes:read"]);
    expect(await row.locator(".kw-tag").allTextContents()).toEqual(["notes:read"]);
    expect(await row.locator(".kw-tag-unused").count()).toBe(0);
    expect(await row.getByRole("button", { name: /Narrow/ }).count()).toBe(0);
    expect((await callApi(secret)).status).toBe(200);
    expect(pageErrors).toEqual([]);
    await page.close();
  });

  test("disables a key after confirming (the API refuses it), then enables it again", async () => {
    const { secret, key } = await keys.create({ name: "cron", ownerId: "dana", scopes: ["notes:read"] });
    const page = await open();
    const row = page.locator(`#kw-rows tr[data-key-id="${key.id}"]`);
    await row.getByRole("button", { name: "Disable key cron" }).click();
    const dialog = page.getByRole("dialog", { name: "Disable “cron”?" });
    expect(await dialog.textContent()).toContain(`Programs using ${key.start}… will be refused until you enable the key again`);
    await dialog.getByRole("button", { name: "Disable key" }).click();
    await dialog.waitFor({ state: "hidden" });
    await settled(page);
    expect(await row.locator(".kw-status").textContent()).toContain("Disabled");
    expect(await row.getByRole("button", { name: "Disable key cron" }).count()).toBe(0);
    expect(await callApi(secret)).toEqual({ status: 401, code: "key_disabled" });

    // The status filter finds it under Disabled.
    await page.getByLabel("Status").selectOption("disabled");
    await settled(page);
    expect(await page.locator("#kw-rows tr .kw-name").allTextContents()).toEqual(["cron"]);
    await page.getByLabel("Status").selectOption("");
    await settled(page);

    await row.getByRole("button", { name: "Enable key cron" }).click();
    await row.locator(".kw-status", { hasText: "Active" }).waitFor();
    await settled(page);
    expect((await callApi(secret)).status).toBe(200);

    // A key revoked elsewhere meanwhile: the refusal is explained in the dialog, nothing else changes.
    await row.getByRole("button", { name: "Disable key cron" }).click();
    await keys.revoke(key.id);
    await dialog.getByRole("button", { name: "Disable key" }).click();
    const error = page.locator("#kw-confirm-error");
    await error.waitFor();
    expect(await error.textContent()).toMatch(/revoked/i);
    await dialog.getByRole("button", { name: "Cancel" }).click();
    expect(pageErrors).toEqual([]);
    await page.close();
  });

  test("edits the IP allow-list: bad entries explained inline, the list enforced, cleared for any address", async () => {
    const { secret, key } = await keys.create({ name: "office", ownerId: "dana", scopes: ["notes:read"] });
    const page = await open();
    const row = page.locator(`#kw-rows tr[data-key-id="${key.id}"]`);
    const dialog = page.getByRole("dialog", { name: "IP allow-list of “office”" });

    await row.getByRole("button", { name: "Edit IP allow-list of key office" }).click();
    const input = dialog.getByLabel("Allowed addresses");
    expect(await input.inputValue()).toBe("");
    await input.fill("203.0.113.0/24\n999.1.1.1");
    await dialog.getByRole("button", { name: "Save allow-list" }).click();
    const fieldError = page.locator("#kw-ips-error");
    await fieldError.waitFor();
    expect(await fieldError.textContent()).toContain("999.1.1.1");
    expect(await input.getAttribute("aria-invalid")).toBe("true");
    expect((await keys.get(key.id))!.allowedIps).toEqual([]); // nothing written

    // Only an address the test client does not use: refused with 403 ip_forbidden.
    await input.fill("203.0.113.0/24, 2001:db8::/32");
    await dialog.getByRole("button", { name: "Save allow-list" }).click();
    await dialog.waitFor({ state: "hidden" });
    await settled(page);
    expect(await row.locator(".kw-ips").textContent()).toBe("Only from 203.0.113.0/24, 2001:db8::/32");
    expect(await callApi(secret)).toEqual({ status: 403, code: "ip_forbidden" });

    // The editor shows the current list; adding this machine's address lets the key in again.
    await row.getByRole("button", { name: "Edit IP allow-list of key office" }).click();
    expect(await input.inputValue()).toBe("203.0.113.0/24\n2001:db8::/32");
    await input.fill("127.0.0.1");
    await dialog.getByRole("button", { name: "Save allow-list" }).click();
    await dialog.waitFor({ state: "hidden" });
    await settled(page);
    expect((await callApi(secret)).status).toBe(200);

    // Empty: any address again, and the row says nothing about addresses.
    await row.getByRole("button", { name: "Edit IP allow-list of key office" }).click();
    await input.fill("");
    await dialog.getByRole("button", { name: "Save allow-list" }).click();
    await dialog.waitFor({ state: "hidden" });
    await settled(page);
    expect(await row.locator(".kw-ips").count()).toBe(0);
    expect((await keys.get(key.id))!.allowedIps).toEqual([]);
    expect(pageErrors).toEqual([]);
    await page.close();
  });
});
