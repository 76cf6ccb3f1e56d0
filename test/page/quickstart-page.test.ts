/** The quickstart example serves the keys page behind its demo login, with the router behind the session. */
import request from "supertest";
import { KeyManager, MemoryStore } from "keyward";
import { createApp } from "../../examples/quickstart/app";

describe("quickstart: keys page behind the demo login", () => {
  const keys = new KeyManager({ store: new MemoryStore() });
  const app = createApp(keys);
  afterAll(() => keys.close());

  test("signed out: the page redirects to the demo login and the router answers 401", async () => {
    await request(app).get("/keys").expect(302).expect("Location", "/login");
    const res = await request(app).get("/api/keys").expect(401);
    expect(res.body.error.code).toBe("unauthenticated");
  });

  test("after /login the page and the router work for the demo user", async () => {
    const login = await request(app).get("/login").expect(302).expect("Location", "/keys");
    const cookie = login.headers["set-cookie"]![0]!.split(";")[0]!;
    const page = await request(app).get("/keys").set("Cookie", cookie).expect(200);
    expect(page.headers["content-security-policy"]).toContain("script-src 'self'");
    expect(page.text).toContain('value="notes:write"');
    const created = await request(app)
      .post("/api/keys")
      .set("Cookie", cookie)
      .send({ name: "from-page", mode: "test", scopes: ["notes:read"] })
      .expect(201);
    expect(created.body.key.ownerId).toBe("demo");
    await request(app).get("/v1/whoami").set("Authorization", `Bearer ${created.body.secret}`).expect(200);
    const listed = await request(app).get("/api/keys").set("Cookie", cookie).expect(200);
    expect(listed.body.keys.map((k: { name: string }) => k.name)).toEqual(["from-page"]);
  });
});
