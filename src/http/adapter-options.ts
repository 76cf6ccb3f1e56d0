/**
 * The options every request adapter (`apiKeyAuth`, `fetchAuth`) shares, as one set of zod schemas
 * and checks: header names, the malformed-credential status, the realm, RateLimit and lifecycle
 * header settings, the deprecation link, the counter-store failure mode, the credit cost, and the accepted modes. Each adapter spreads these into
 * its own strict schema and adds what only it has.
 */
import { z } from "zod";
import { KeywardConfigError } from "../core/errors.js";
import { modeError } from "../core/key-format.js";
import { storeErrorOption } from "../core/options.js";
import { badProjectHeader, missingKey } from "../core/refusals.js";
import type { KeywardError } from "../core/errors.js";
import { costOption } from "../keys/limit-options.js";
import { PROJECT_ID_PATTERN } from "../keys/projects.js";
import type { MalformedStatus } from "./credentials.js";

/** An HTTP header name (RFC 9110 token), lower-cased. */
export const headerName = z
  .string()
  .regex(/^[A-Za-z0-9!#$%&'*+.^_`|~-]{1,64}$/, 'must be an HTTP header name such as "x-api-key"')
  .transform((h) => h.toLowerCase());

/** The schema fields both adapters take, with their defaults. */
export const sharedAdapterOptions = {
  header: headerName.optional(),
  bearer: z.boolean().default(false),
  required: z.boolean().default(true),
  modes: z.array(z.string()).min(1, "list at least one mode, or leave modes out").optional(),
  projectHeader: headerName.optional(),
  malformedStatus: z.union([z.literal(400), z.literal(401)], { message: "must be 400 or 401" }).optional(),
  realm: z
    .string()
    .max(100)
    .regex(/^[^"\\\r\n]*$/, "must not contain quotes, backslashes or line breaks")
    .default("api"),
  rateLimitHeaders: z.union([z.enum(["draft", "legacy", "both"]), z.literal(false)]).default("draft"),
  lifecycleHeaders: z.boolean().default(true),
  onStoreError: storeErrorOption.optional(),
  cost: costOption.default(1),
  deprecationLink: z
    .string()
    .max(2000)
    .refine((u) => /^https?:\/\/[^\s<>"]+$/.test(u) && URL.canParse(u), "must be an absolute http(s) URL without spaces, quotes or angle brackets")
    .optional(),
};

/**
 * Throws a KeywardConfigError naming `owner.modes` when an accepted mode is not one of `known`.
 *
 * @example
 * checkModesOption("apiKeyAuth", ["prod"], ["live", "test"]); // throws: unknown mode "prod": must be one of live, test
 */
export function checkModesOption(owner: string, modes: readonly string[] | undefined, known: readonly string[]): void {
  for (const mode of modes ?? []) {
    const error = modeError(known, mode);
    if (error !== null) throw new KeywardConfigError(`${owner}.modes`, `unknown mode "${mode}": ${error}`);
  }
}

/**
 * The credential settings every adapter derives from its parsed options: the custom header (null:
 * `Authorization: Bearer`), the statuses for malformed credentials, the `WWW-Authenticate` scheme
 * and the refusal when no key was sent.
 *
 * @example
 * const { header, status, scheme, missing } = credentialSettings({ header: "x-api-key" }); // scheme "ApiKey"
 */
export function credentialSettings(o: { header?: string; malformedStatus?: MalformedStatus }): {
  header: string | null;
  status: { bearer: MalformedStatus; header: MalformedStatus };
  scheme: "Bearer" | "ApiKey";
  missing: KeywardError;
} {
  const header = o.header === "authorization" ? null : (o.header ?? null);
  return {
    header,
    status: { bearer: o.malformedStatus ?? 400, header: o.malformedStatus ?? 401 },
    scheme: header === null ? "Bearer" : "ApiKey",
    missing: missingKey(header),
  };
}

/**
 * Checks the value of the `projectHeader` a request sent: the project id, or the 400 refusal naming
 * the header (a non-string value, e.g. the header sent twice, is refused too).
 *
 * @example
 * const project = projectHeaderCheck("x-project-id");
 * project("proj_1"); // "proj_1"
 */
export function projectHeaderCheck(name: string): (value: unknown) => string | KeywardError {
  const refusal = badProjectHeader(name);
  return (value) => (typeof value === "string" && PROJECT_ID_PATTERN.test(value) ? value : refusal);
}
