/**
 * The options every request adapter (`apiKeyAuth`, `fetchAuth`) shares, as one set of zod schemas
 * and checks: header names, the malformed-credential status, the realm, RateLimit and lifecycle
 * header settings, the deprecation link, the counter-store failure mode, the credit cost, and the
 * accepted modes; and the one project step (resolver, header, default) every adapter's policy uses.
 * Each adapter spreads these into its own strict schema and adds what only it has.
 */
import { z } from "zod";
import { KeywardConfigError } from "../core/errors.js";
import { modeError } from "../core/key-format.js";
import { fn, storeErrorOption } from "../core/options.js";
import { BAD_PROJECT, badProjectHeader, missingKey } from "../core/refusals.js";
import type { KeywardError } from "../core/errors.js";
import type { AuthenticatedKey } from "../core/types.js";
import type { VerifiedKey } from "../keys/authenticator.js";
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

/** How an adapter's user names the project a user key's request acts on, and who may act on it (each is optional). */
export interface ProjectOptions<R> {
  /** Picks the project from the request first; a non-id answer is a 400. */
  project?: (request: R) => string | null | undefined;
  /** The header naming the project when `project` names none. */
  projectHeader?: string;
  /** The project when the request names none: an id, or a function of the key. */
  defaultProject?: string | ((key: AuthenticatedKey, request: R) => string | null | undefined);
  /** Whether a user key's owner may act on the resolved project (403 `project_forbidden` when false). */
  memberOf?: (ownerId: string | null, project: string, request: R) => boolean | Promise<boolean>;
}

/**
 * The schema fields of {@link ProjectOptions} for an adapter whose requests are `R`.
 *
 * @example
 * const schema = z.strictObject({ ...projectOptionFields<Request>(), projectHeader: headerName.optional() });
 */
export function projectOptionFields<R>() {
  return {
    project: fn<(request: R) => string | null | undefined>().optional(),
    defaultProject: z
      .union([z.string().regex(PROJECT_ID_PATTERN, "must be a project id"), fn<(key: AuthenticatedKey, request: R) => string | null | undefined>()])
      .optional(),
    memberOf: fn<(ownerId: string | null, project: string, request: R) => boolean | Promise<boolean>>().optional(),
  };
}

/**
 * The project step of an adapter's verify policy: the project a user key's request names, tried
 * in order: `project(request)`, the `projectHeader` (read with `readHeader`), `defaultProject`.
 * Answers the id, null for none, or a 400 refusal (a resolver's answer is checked like the
 * header, since it may come from client input). Null when none of the three is set: the
 * pipeline then skips projects.
 *
 * @example
 * const project = projectStep({ projectHeader: "x-project" }, (req: IncomingMessage, name) => req.headers[name]);
 */
export function projectStep<R>(
  options: ProjectOptions<R>,
  readHeader: (request: R, name: string) => unknown,
): ((request: R, key: VerifiedKey) => string | null | KeywardError) | null {
  const { project: pickProject, defaultProject } = options;
  const projectHeader = options.projectHeader ?? null;
  if (!pickProject && projectHeader === null && defaultProject === undefined) return null;
  const checkProjectHeader = projectHeader === null ? null : projectHeaderCheck(projectHeader);
  return (request: R, key: VerifiedKey): string | null | KeywardError => {
    let chosen: string | null | undefined = pickProject ? pickProject(request) : undefined;
    if (chosen == null && projectHeader !== null) {
      const value = readHeader(request, projectHeader);
      if (value != null) return checkProjectHeader!(value);
    }
    if (chosen == null && defaultProject !== undefined) chosen = typeof defaultProject === "string" ? defaultProject : defaultProject(key.principal, request);
    if (chosen == null) return null;
    return typeof chosen === "string" && PROJECT_ID_PATTERN.test(chosen) ? chosen : BAD_PROJECT;
  };
}
