/** Helpers for the keys tests: secret checks and a day in ms (the counting store is test/counting-store.ts). */
import { createHasher } from "keyward";

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
