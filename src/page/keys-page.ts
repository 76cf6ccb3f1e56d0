/**
 * keysPage(): the self-service API keys page. Serves one HTML document and its stylesheet and
 * script from its own mount path, under a strict Content-Security-Policy; the script talks to
 * `keysRouter` with the app's cookie session. Uses only Node's `req`/`res`, so it mounts under
 * Express 4/5 and Connect.
 */
import { createHash } from "node:crypto";
import type { IncomingMessage, ServerResponse } from "node:http";
import type { Middleware } from "../http/api-key-auth.js";
import { CLIENT_JS } from "./assets/client-bundle.js";
import { STYLES_CSS } from "./assets/styles.js";
import { projectChoices, resolvePageOptions, scopeChoices, type KeysPageOptions } from "./options.js";
import { renderPage } from "./render.js";

/**
 * The Content-Security-Policy sent with the page: only this origin's script, style and fetches;
 * no inline code, no plugins, no framing.
 *
 * @example
 * // Allow the same policy on a page of your own that embeds nothing else:
 * res.setHeader("Content-Security-Policy", KEYS_PAGE_CSP);
 */
export const KEYS_PAGE_CSP =
  "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; " +
  "form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

interface Asset {
  name: string;
  type: string;
  body: Buffer;
  version: string;
}

function asset(name: string, type: string, text: string): Asset {
  const body = Buffer.from(text, "utf8");
  return { name, type, body, version: createHash("sha256").update(body).digest("hex").slice(0, 16) };
}

const ASSETS: Record<string, Asset> = {
  "/keys-page.css": asset("keys-page.css", "text/css; charset=utf-8", STYLES_CSS),
  "/keys-page.js": asset("keys-page.js", "text/javascript; charset=utf-8", CLIENT_JS),
};

/** The path the page is mounted at (no trailing slash), from Express's `baseUrl` or Connect's `originalUrl`. */
function mountBase(req: IncomingMessage & { baseUrl?: string; originalUrl?: string }): string {
  if (typeof req.baseUrl === "string") return req.baseUrl.replace(/\/+$/, "");
  const full = (req.originalUrl ?? req.url ?? "/").split("?")[0]!;
  const rel = (req.url ?? "/").split("?")[0]!;
  if (full.endsWith(rel)) return full.slice(0, full.length - rel.length).replace(/\/+$/, "");
  return full.replace(/\/+$/, "");
}

function sendAsset(req: IncomingMessage, res: ServerResponse, file: Asset, query: string): void {
  const etag = `"${file.version}"`;
  const versioned = new URLSearchParams(query).get("v") === file.version;
  res.setHeader("Content-Type", file.type);
  res.setHeader("X-Content-Type-Options", "nosniff");
  res.setHeader("Cache-Control", versioned ? "public, max-age=31536000, immutable" : "no-cache");
  res.setHeader("ETag", etag);
  if (req.headers["if-none-match"] === etag) {
    res.statusCode = 304;
    res.end();
    return;
  }
  res.statusCode = 200;
  res.setHeader("Content-Length", file.body.length);
  res.end(file.body);
}

function sendHtml(res: ServerResponse, html: string): void {
  const body = Buffer.from(html, "utf8");
  res.statusCode = 200;
  res.setHeader("Content-Type", "text/html; charset=utf-8");
  res.setHeader("Content-Security-Policy", KEYS_PAGE_CSP);
  res.setHeader("X-Frame-Options", "DENY");
  res.setHeader("X-Content-Type-Options", "nosniff");
  res.setHeader("Referrer-Policy", "no-referrer");
  res.setHeader("Cache-Control", "no-store");
  res.setHeader("Content-Length", body.length);
  res.end(body);
}

/**
 * The self-service API keys page for the signed-in user: a table of their keys with usage
 * sparklines, filters, and create / rotate / revoke dialogs, talking to `keysRouter` at `router`
 * with the session cookie. Serves `GET /` (the page, with a strict `Content-Security-Policy`),
 * `GET /keys-page.css` and `GET /keys-page.js`; anything else goes to `next()`. The page holds no
 * user data itself (the script fetches it), so put your login check in front of it only if you want
 * signed-out users redirected; the router answers 401 either way.
 *
 * @example
 * import { keysPage, keysRouter } from "keyward";
 * app.use("/api/keys", keysRouter({ keys, owner: (req) => req.session?.userId }));
 * app.use("/settings/api-keys", requireLogin, keysPage({ router: "/api/keys", keys, projects: (req) => req.user.projects }));
 */
export function keysPage(options: KeysPageOptions = {}): Middleware {
  const config = resolvePageOptions(options);
  return function keysPageHandler(req, res, next) {
    if (req.method !== "GET" && req.method !== "HEAD") return next();
    const [path = "/", query = ""] = (req.url ?? "/").split("?", 2);
    const file = ASSETS[path];
    if (file) return sendAsset(req, res, file, query);
    if (path !== "/" && path !== "") return next();
    const base = mountBase(req);
    const css = ASSETS["/keys-page.css"]!;
    const js = ASSETS["/keys-page.js"]!;
    Promise.all([config.scopes(req), config.projects ? config.projects(req) : null])
      .then(([scopes, projects]) => {
        sendHtml(
          res,
          renderPage(config, {
            cssHref: `${base}/${css.name}?v=${css.version}`,
            jsSrc: `${base}/${js.name}?v=${js.version}`,
            scopes: scopeChoices(scopes ?? []),
            projects: projects === null ? null : projectChoices(projects ?? []),
          }),
        );
      })
      .catch(next);
  };
}
