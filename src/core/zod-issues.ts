/**
 * The one mapping from zod's issues to keyward's errors, in two modes: options (the first issue
 * becomes a `KeywardConfigError` naming the option, thrown at start-up) and request (every issue
 * becomes a `{ path, message }` detail of one 422 `validation_failed`, for API input, management
 * bodies and queries alike; an unknown field gets a detail of its own).
 */
import type { z } from "zod";
import { KeywardConfigError, KeywardError } from "./errors.js";

/** One bad field of a request. */
export interface IssueDetail {
  /** The field's path, dot-separated (`""` for the whole value). */
  path: string;
  /** What is wrong with it. */
  message: string;
}

type Issues = readonly z.core.$ZodIssue[];

const pathOf = (issue: z.core.$ZodIssue): string => issue.path.map(String).join(".");

/**
 * Options mode: the `KeywardConfigError` for the first issue, its option named `owner.path`.
 *
 * @example
 * throw optionsError(result.error.issues, "apiKeyAuth"); // "apiKeyAuth.header: must be an HTTP header name …"
 */
export function optionsError(issues: Issues, owner: string): KeywardConfigError {
  const issue = issues[0]!;
  const path = pathOf(issue);
  const message =
    issue.code === "unrecognized_keys"
      ? `unknown option${issue.keys.length > 1 ? "s" : ""} ${issue.keys.map((k) => `"${k}"`).join(", ")}; check the spelling against the ${owner} options`
      : issue.message;
  return new KeywardConfigError(path ? `${owner}.${path}` : owner, message);
}

/**
 * Request mode: the 422 `validation_failed` naming every bad field; `summary` prefixes the message
 * (e.g. "Invalid body: "); `unknownField(key)` words the detail of a field the schema does not know.
 *
 * @example
 * throw requestError(result.error.issues, "Invalid body: ");
 */
export function requestError(issues: Issues, summary = "", unknownField: (key: string) => string = () => "unknown field"): KeywardError {
  const details: IssueDetail[] = [];
  for (const issue of issues) {
    const base = pathOf(issue);
    if (issue.code === "unrecognized_keys") {
      for (const key of issue.keys) details.push({ path: base ? `${base}.${key}` : key, message: unknownField(key) });
    } else details.push({ path: base, message: issue.message });
  }
  return new KeywardError("validation_failed", `${summary}${details.map((d) => (d.path ? `${d.path}: ${d.message}` : d.message)).join("; ")}`, { details });
}
