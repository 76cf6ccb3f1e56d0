/**
 * keysPage over HTTP (no browser): the strict CSP and security headers, no inline script or style,
 * assets served from the mount path with caching, escaping, per-request choices, mounting under
 * Express 4/5 and Connect, option validation; and the router's CSRF refusals for cookie sessions.
 */
import connect from "connect";
import express from "express";
import express4 from "express4";
import request from "supertest";
import { KeyManager, KeywardConfigError, MemoryStore, keysPage, KEYS_PAGE_CSP } from "keyward";
import { createPageApp, SCOPES } from "./app";

const html = (text: string) => text;

describe("keysPage: the document", () => {
  const keys = new KeyManager({ store: new MemoryStore(), scopes: SCOPES, modes: ["live", "test"] });
  afterAll(() => keys.close());

  test("is served with a strict CSP and no inline script, style or handlers", async () => {
    const app = express().use("/keys", keysPage({ keys }));
    const res = await request(app).get("/keys").expect(200);
    expect(res.headers["content-type"]).toBe("text/html; charset=utf-8");
    expect(res.headers["content-security-policy"]).toBe(KEYS_PAGE_CSP);
    expect(KEYS_PAGE_CSP).toContain("script-src 'self'");
    expect(KEYS_PAGE_CSP).toContain("style-src 'self'");
    expect(KEYS_PAGE_CSP).toContain("frame-ancestors 'none'");
    expect(KEYS_PAGE_CSP).not.toContain("unsafe");
    expect(res.headers["x-frame-options"]).toBe("DENY");
    expect(res.headers["x-content-type-options"]).toBe("nosniff");
    expect(res.headers["cache-control"]).toBe("no-store");
    const page = html(res.text);
    for (const tag of page.match(/<script\b[^>]*>/g) ?? []) expect(tag).toMatch(/ src="\/keys\/keys-page\.js\?v=[0-9a-f]{16}"/);
    expect(page).toMatch(/<script\b[^>]*><\/script>/);
    expect(page).not.toMatch(/<style\b/);
    expect(page).not.toMatch(/\sstyle=/);
    expect(page).not.toMatch(/\son[a-z]+=/);
    expect(page).not.toMatch(/https?:\/\//);
  });

  test("asset URLs follow the mount path, with or without a trailing slash", async () => {
    const app = express().use("/settings/developer/keys", keysPage({ keys }));
    for (const path of ["/settings/developer/keys", "/settings/developer/keys/"]) {
      const res = await request(app).get(path).expect(200);
      expect(res.text).toContain('href="/settings/developer/keys/keys-page.css?v=');
      expect(res.text).toContain('src="/settings/developer/keys/keys-page.js?v=');
    }
  });

  test("serves its CSS and JS with nosniff, long caching when versioned, and 304 on a matching ETag", async () => {
    const app = express().use("/keys", keysPage({ keys }));
    const page = await request(app).get("/keys");
    const src = /src="([^"]+)"/.exec(page.text)![1]!;
    const js = await request(app).get(src).expect(200);
    expect(js.headers["content-type"]).toBe("text/javascript; charset=utf-8");
    expect(js.headers["x-content-type-options"]).toBe("nosniff");
    expect(js.headers["cache-control"]).toBe("public, max-age=31536000, immutable");
    expect(js.text).toContain('credentials: "same-origin"');
    expect(js.text).not.toMatch(/\beval\(|new Function|innerHTML/);
    expect(() => new Function(js.text)).not.toThrow();
    await request(app).get(src).set("If-None-Match", js.headers.etag!).expect(304);
    const css = await request(app).get("/keys/keys-page.css").expect(200);
    expect(css.headers["content-type"]).toBe("text/css; charset=utf-8");
    expect(css.headers["cache-control"]).toBe("no-cache");
    expect(css.text).toContain(".kw-table");
  });

  test("leaves other paths and methods to the app", async () => {
    const app = express().use("/keys", keysPage({ keys }));
    await request(app).get("/keys/nope").expect(404);
    await request(app).post("/keys").expect(404);
    await request(app).head("/keys").expect(200);
  });

  test("renders labelled scope checkboxes from the catalogue and modes from the manager", async () => {
    const res = await request(express().use("/keys", keysPage({ keys, router: "/api/v2/keys/" }))).get("/keys");
    for (const [i, scope] of SCOPES.entries()) {
      expect(res.text).toContain(`<input type="checkbox" id="kw-scopes-${i}" name="scopes" value="${scope}"><label for="kw-scopes-${i}">`);
    }
    expect(res.text).toContain('<option value="live">live</option><option value="test">test</option>');
    expect(res.text).toContain("&#34;router&#34;:&#34;/api/v2/keys&#34;");
    expect(res.text).not.toContain('name="projects"');
    expect(res.text).toMatch(/<option value="3">Never<\/option>/);
  });

  test("asks for projects per request, and escapes everything it renders", async () => {
    const seen: string[] = [];
    const page = keysPage({
      keys,
      title: `Keys <script>alert("t")</script>`,
      scopes: [{ scope: "notes:read", description: `Read <b>notes</b>` }],
      projects: (req) => {
        seen.push(String(req.headers["x-user"]));
        return [{ id: "proj_1", name: `Alpha "&" <Beta>` }];
      },
      modes: [],
      expiries: ["7d", "1h", null],
    });
    const res = await request(express().use("/keys", page)).get("/keys").set("x-user", "u1").expect(200);
    expect(seen).toEqual(["u1"]);
    expect(res.text).toContain("<title>Keys &#60;script&#62;alert(&#34;t&#34;)&#60;/script&#62;</title>");
    expect(res.text).toContain("Read &#60;b&#62;notes&#60;/b&#62;");
    expect(res.text).toContain('value="proj_1"');
    expect(res.text).toContain("Alpha &#34;&#38;&#34; &#60;Beta&#62;");
    expect(res.text).not.toContain("kw-create-mode");
    expect(res.text).not.toContain("kw-filter-mode");
    expect(res.text).toContain('<option value="0">7 days</option><option value="1">1 hour</option><option value="2">Never</option>');
  });

  test("a failing projects function goes to the app's error handler", async () => {
    const app = express().use("/keys", keysPage({ projects: () => Promise.reject(new Error("db down")) }));
    app.use((err: Error, _req: express.Request, res: express.Response, _next: express.NextFunction) => {
      res.status(503).json({ error: err.message });
    });
    const res = await request(app).get("/keys").expect(503);
    expect(res.body).toEqual({ error: "db down" });
  });

  test("mounts under Express 4 and Connect too", async () => {
    const four = express4().use("/keys", keysPage({ keys }));
    expect((await request(four).get("/keys/")).text).toContain('src="/keys/keys-page.js?v=');
    const plain = connect().use("/account/keys", keysPage({ keys }) as connect.NextHandleFunction);
    const res = await request(plain).get("/account/keys").expect(200);
    expect(res.text).toContain('src="/account/keys/keys-page.js?v=');
    await request(plain).get("/account/keys/keys-page.js").expect(200);
  });

  test.each([
    [{ router: "https://evil.example/api/keys" }, "keysPage.router"],
    [{ router: "//evil.example/keys" }, "keysPage.router"],
    [{ scopes: ["Not A Scope!"] }, "keysPage.scopes.0"],
    [{ expiries: ["soon"] }, "keysPage.expiries.0"],
    [{ expiries: [] }, "keysPage.expiries"],
    [{ loginUrl: "javascript:alert(1)" }, "keysPage.loginUrl"],
    [{ titel: "typo" }, "keysPage"],
  ])("refuses bad options at start-up: %j", (options, option) => {
    let error: unknown;
    try {
      keysPage(options as never);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(KeywardConfigError);
    expect((error as KeywardConfigError).option).toBe(option);
  });
});

describe("keysRouter refuses cross-site requests made with the session cookie (CSRF)", () => {
  const keys = new KeyManager({ store: new MemoryStore(), scopes: SCOPES });
  const { app } = createPageApp(keys);
  let cookie: string;
  let keyId: string;

  beforeAll(async () => {
    cookie = (await request(app).post("/login/mallory-victim")).headers["set-cookie"]![0]!.split(";")[0]!;
    const created = await request(app).post("/api/keys").set("Cookie", cookie).send({ name: "victim-key" }).expect(201);
    keyId = created.body.key.id;
  });
  afterAll(() => keys.close());

  const count = async () => (await keys.list({ ownerId: "mallory-victim" })).keys.length;

  test.each([
    ["Sec-Fetch-Site: cross-site", { "Sec-Fetch-Site": "cross-site" }],
    ["Sec-Fetch-Site: same-site", { "Sec-Fetch-Site": "same-site" }],
    ["a foreign Origin", { Origin: "http://evil.example" }],
  ])("a JSON POST with %s is refused with 403 forbidden and creates nothing", async (_label, headers) => {
    const res = await request(app).post("/api/keys").set("Cookie", cookie).set(headers).send({ name: "stolen" });
    expect(res.status).toBe(403);
    expect(res.body.error.code).toBe("forbidden");
    expect(await count()).toBe(1);
  });

  test("an HTML form post (form-encoded, as a cross-site <form> sends it) is refused and creates nothing", async () => {
    const res = await request(app).post("/api/keys").set("Cookie", cookie).type("form").send({ name: "stolen" });
    expect(res.status).toBe(415);
    expect(res.body.error.code).toBe("unsupported_media_type");
    expect(await count()).toBe(1);
    const crossSite = await request(app)
      .post("/api/keys")
      .set("Cookie", cookie)
      .set({ "Sec-Fetch-Site": "cross-site", Origin: "http://evil.example" })
      .type("form")
      .send({ name: "stolen" });
    expect(crossSite.status).toBe(403);
    expect(await count()).toBe(1);
  });

  test("cross-site revoke and rotate are refused; the key stays active", async () => {
    await request(app).delete(`/api/keys/${keyId}`).set("Cookie", cookie).set("Sec-Fetch-Site", "cross-site").expect(403);
    await request(app).post(`/api/keys/${keyId}/rotate`).set("Cookie", cookie).set("Origin", "http://evil.example").send({ overlap: 0 }).expect(403);
    expect((await keys.get(keyId))!.status).toBe("active");
    expect((await keys.get(keyId))!.rotatedTo).toBeNull();
  });

  test("the same requests from the page itself (same-origin) go through", async () => {
    const host = "127.0.0.1:3000";
    const res = await request(app)
      .post("/api/keys")
      .set({ Cookie: cookie, Host: host, Origin: `http://${host}`, "Sec-Fetch-Site": "same-origin" })
      .send({ name: "legit" });
    expect(res.status).toBe(201);
    expect(await count()).toBe(2);
  });
});
