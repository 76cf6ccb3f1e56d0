/** Helpers for the keys tests: secret checks and a day in ms (the counting store is test/counting-store.ts). */
import request from "supertest";
import { createHasher } from "keyward";
import { makeApp, makeKeys } from "../helpers";

/** Every substring a leak could show: the secret, its body after the prefix, its hash. */
export function secretTraces(secret: string, pepper?: string): string[] {
  const body = secret.slice(secret.lastIndexOf("_") + 1);
  return [secret, body, body.slice(0, 16), body.slice(-16), createHasher(pepper)(secret)];
}

/** Asserts that no trace of any of `secrets` appears in `JSON.stringify(value)`. */
export function expectNoSecrets(value: unknown, secrets: string[]): void {
  const text = JSON.stringify(value);
  for (const secret of secrets) for (const trace of secretTraces(secret)) expect(text).not.toContain(trace);
}

export const DAY = 86_400_000;

/**
 * A key whose verification is cached: made with a one-hour cache TTL on `storeKind`, sent once
 * through `makeApp` (200), so a later refusal proves the cached entry was dropped.
 */
export async function cachedKey(storeKind: "memory" | "sqlite") {
  const made = makeKeys({ storeKind, cache: { ttl: "1h" } });
  const { secret, key } = await made.keys.create({ name: "ci" });
  const app = makeApp(made.keys);
  const auth = { Authorization: `Bearer ${secret}` };
  await request(app).get("/whoami").set(auth).expect(200);
  expect(made.keys.cacheSize.keys).toBe(1);
  return { ...made, secret, key, app, auth };
}
