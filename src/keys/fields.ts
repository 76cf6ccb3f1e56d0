/**
 * zod building blocks for key fields, shared by the KeyManager's input validation (`inputs.ts`)
 * and the management router's request bodies (`http/router-body.ts`), so both apply the same rules.
 */
import { z } from "zod";
import { checkAllowedIps } from "../core/ip.js";
import { metadataError } from "../core/metadata.js";
import { PROJECT_ID_PATTERN } from "./projects.js";

/**
 * A value checked by a function that returns an error message (or null), typed as `T` once it passes.
 *
 * @example
 * const scope = checked<string>(scopeError); // scopeError(v) is null for a valid scope
 */
export const checked = <T>(errorOf: (value: unknown) => string | null) =>
  z
    .unknown()
    .superRefine((v, ctx) => {
      const error = errorOf(v);
      if (error) ctx.addIssue({ code: "custom", message: error });
    })
    .transform((v) => v as T);

/**
 * A key name on top of `base` (which sets the type error): 1-128 characters after trimming, no control characters.
 *
 * @example
 * const name = keyName(z.string({ error: "must be a string" }));
 */
export const keyName = (base: z.ZodString) =>
  base
    .trim()
    .min(1, "must not be empty")
    .max(128, "must be at most 128 characters")
    .refine((v) => !/[\u0000-\u001f\u007f]/.test(v), "must not contain control characters");

/**
 * A project id on top of `base`, matching {@link PROJECT_ID_PATTERN}.
 *
 * @example
 * const project = projectIdField(z.string());
 */
export const projectIdField = (base: z.ZodString) => base.regex(PROJECT_ID_PATTERN, "must be 1-128 characters from [A-Za-z0-9_.:-]");

/** Key metadata: a JSON object of at most 4 KiB (see `metadataError`). */
export const metadataField = checked<Record<string, unknown>>(metadataError);

/**
 * An IP allow-list: null or an array of at most 64 IPv4/IPv6 addresses and CIDR ranges, turned
 * into the canonical list (`[]` for null: any address). Each bad entry is one issue at its index,
 * its message quoting the entry.
 *
 * @example
 * allowedIpsField.parse(["203.0.113.0/24", "2001:DB8::/32"]); // ["203.0.113.0/24", "2001:db8::/32"]
 */
export const allowedIpsField = z.unknown().transform((value, ctx): string[] => {
  if (value === null) return [];
  const checkedList = checkAllowedIps(value);
  if ("list" in checkedList) return checkedList.list;
  for (const p of checkedList.problems) ctx.addIssue({ code: "custom", message: p.message, path: p.index === null ? [] : [p.index] });
  return z.NEVER;
});
