/**
 * The project step every adapter shares, asserted once: the project comes from the route's
 * resolver, then the project header, then the default; `memberOf` false is 403 and an id that is
 * not one is 400. Each adapter's test passes how it asks for a path's project.
 */

/** The project a request for `path` (with `headers`) is admitted for, or the refusal's status. */
export type ProjectOf = (path: string, headers?: Record<string, string>) => Promise<string | number | null | undefined>;

/**
 * Expects the resolver/header/default order and the refusals on `/projects/<id>/<route>` and
 * `/<route>`, for a key of owner u1 whose default is `home_u1` and a `memberOf` that refuses
 * `gamma` and records what it was asked in `asked`.
 */
export async function expectProjectSteps(projectOf: ProjectOf, route: string, asked: readonly string[]): Promise<void> {
  expect(await projectOf(`/projects/alpha/${route}`, { "x-project": "beta" })).toBe("alpha"); // the resolver first
  expect(await projectOf(`/${route}`, { "x-project": "beta" })).toBe("beta");
  expect(await projectOf(`/${route}`)).toBe("home_u1");
  expect(await projectOf(`/projects/gamma/${route}`)).toBe(403);
  expect(await projectOf(`/projects/not%20an%20id/${route}`)).toBe(400);
  expect(asked).toEqual(["u1:alpha", "u1:beta", "u1:home_u1", "u1:gamma"]);
}
