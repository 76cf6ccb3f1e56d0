/** Project resolution for a request: project keys are bound; user keys pick one within their allow-list. */
import type { KeyKind } from "../core/types.js";

/**
 * Project ids: 1-128 characters from [A-Za-z0-9_.:-], starting with a letter or digit (UUIDs fit).
 *
 * @example
 * PROJECT_ID_PATTERN.test("proj_1"); // true
 * PROJECT_ID_PATTERN.test("-x"); // false
 */
export const PROJECT_ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$/;

/**
 * The project a request acts on, or `false` when the key may not act on the requested project.
 * Project keys ignore what was requested. User keys take the requested project, else the fallback;
 * a non-empty allow-list must contain it.
 *
 * @example
 * resolveProject({ kind: "user", projectId: null, projects: ["a"] }, "b"); // false (not in the allow-list)
 */
export function resolveProject(key: { kind: KeyKind; projectId: string | null; projects: readonly string[] }, requested: string | null): string | null | false {
  if (key.kind === "project") return key.projectId;
  if (requested === null) return null;
  if (key.projects.length === 0) return requested;
  for (let i = 0; i < key.projects.length; i++) if (key.projects[i] === requested) return requested;
  return false;
}
