/**
 * The keys page script, served as `keys-page.js` from the page's mount path. Plain DOM code (no
 * framework, no eval, no inline handlers) so it runs under `script-src 'self'`. It lists keys from
 * `keysRouter`, draws usage sparklines, shows each key's never-used scopes (offering to narrow the
 * key to the scopes it used), and drives the create / rotate / revoke / disable / enable dialogs and
 * the IP allow-list editor. A new
 * secret lives only in one variable and one text node while its dialog is open, and is wiped when
 * the dialog closes. Every value from the server is inserted as text, never as HTML.
 *
 * A browser script, not a module: it has no imports or exports at runtime (the `import("…")` types
 * below are erased), is type-checked with the DOM library by `src/page/client/tsconfig.json`, and
 * `scripts/build-client.mjs` turns it into the string `CLIENT_JS` in `src/page/assets/client-bundle.ts`.
 */

/** A key as `keysRouter` returns it (the server's own JSON type; dates are ISO strings). */
type KeyJson = import("../../http/key-json.js").ApiKeyJson;
/** Requests on one UTC day, from `GET /:id/usage`. */
type UsageDay = import("../../core/types.js").DailyUsage;

/** The `data-config` attribute of `#kw-app`, written by `renderPage`. */
interface PageConfig {
  router?: string;
  loginUrl?: string | null;
  modes?: boolean;
  projects?: boolean;
}

/** One lifetime choice from `data-expiries`: a duration (`"30d"`, milliseconds) or `null` for never. */
type Expiry = string | number | null;

/** A refusal from the router (or the network), normalised. */
interface Refusal {
  code: string | null;
  message: string;
  details: Array<{ path?: unknown; message?: unknown }>;
}

/** What `call` resolves to: never a rejection. */
type CallResult<T> = { ok: true; status: number; data: T; error: null } | { ok: false; status: number; data: null; error: Refusal };
type Failure = Extract<CallResult<unknown>, { ok: false }>;

/** The bodies of the router's successful answers. */
interface ListBody {
  keys: KeyJson[];
  next: string | null;
}
interface CreateBody {
  secret: string;
  key: KeyJson;
}
interface RotateBody {
  secret: string;
  key: KeyJson;
  previous: KeyJson;
}
interface UsageBody {
  usage: UsageDay[];
}
interface KeyBody {
  key: KeyJson;
}
/** `GET /:id/scope-usage`: the scopes requests were admitted for, and the key's never-used scopes. */
interface ScopeUsageBody {
  used: Array<{ scope: string; count: number; lastUsedAt: string | null }>;
  unused: string[];
}
/** What the confirmation dialog does when confirmed. */
interface Confirmation {
  key: KeyJson;
  run: () => Promise<CallResult<KeyBody>>;
  done: string;
}

/** `el()` attributes: `text` becomes the text content; `null`/`undefined`/`false` are left out, `true` is an empty attribute. */
type Attrs = Record<string, string | number | boolean | null | undefined>;

(() => {
  const app = document.getElementById("kw-app");
  if (!app) return;
  const config = JSON.parse(app.getAttribute("data-config") || "{}") as PageConfig;
  const expiries = JSON.parse(app.getAttribute("data-expiries") || "[null]") as Expiry[];
  const api = String(config.router || "/api/keys").replace(/\/+$/, "");
  const SVG_NS = "http://www.w3.org/2000/svg";

  const state: { keys: KeyJson[]; next: string | null; loading: boolean; generation: number; secret: string | null; target: KeyJson | null } = {
    keys: [],
    next: null,
    loading: false,
    generation: 0,
    secret: null,
    target: null,
  };

  /** An element the page may leave out (e.g. the mode filter without modes). */
  function optional<T extends HTMLElement>(id: string, type: new () => T): T | null {
    const node = document.getElementById(id);
    if (node === null) return null;
    if (!(node instanceof type)) throw new Error(`keys page: #${id} is a <${node.tagName.toLowerCase()}>, expected a ${type.name}`);
    return node;
  }
  /** An element the page always renders: a clear error if it is missing or of the wrong kind. */
  function required<T extends HTMLElement>(id: string, type: new () => T): T {
    const node = optional(id, type);
    if (node === null) throw new Error(`keys page: the element #${id} is missing`);
    return node;
  }
  function requiredIn<T extends Element>(root: ParentNode, selector: string, type: new () => T): T {
    const node = root.querySelector(selector);
    if (!(node instanceof type)) throw new Error(`keys page: no ${type.name} matches ${selector}`);
    return node;
  }

  const rows = required("kw-rows", HTMLTableSectionElement);
  const alertBox = required("kw-alert", HTMLElement);
  const live = required("kw-live", HTMLElement);
  const table = requiredIn(app, ".kw-table", HTMLTableElement);
  const empty = required("kw-empty", HTMLElement);
  const loading = required("kw-loading", HTMLElement);
  const more = required("kw-more", HTMLButtonElement);
  const refresh = required("kw-refresh", HTMLButtonElement);
  const createOpen = required("kw-create-open", HTMLButtonElement);
  const createDialog = required("kw-create-dialog", HTMLDialogElement);
  const createForm = required("kw-create-form", HTMLFormElement);
  const createError = required("kw-create-error", HTMLElement);
  const createName = required("kw-create-name", HTMLInputElement);
  const createMode = optional("kw-create-mode", HTMLSelectElement);
  const createExpiry = required("kw-create-expiry", HTMLSelectElement);
  const createSubmit = required("kw-create-submit", HTMLButtonElement);
  const createCancel = required("kw-create-cancel", HTMLButtonElement);
  const secretDialog = required("kw-secret-dialog", HTMLDialogElement);
  const secretValue = required("kw-secret-value", HTMLElement);
  const secretNote = required("kw-secret-note", HTMLElement);
  const secretCopy = required("kw-secret-copy", HTMLButtonElement);
  const secretDone = required("kw-secret-done", HTMLButtonElement);
  const copyStatus = required("kw-copy-status", HTMLElement);
  const rotateDialog = required("kw-rotate-dialog", HTMLDialogElement);
  const rotateForm = required("kw-rotate-form", HTMLFormElement);
  const rotateError = required("kw-rotate-error", HTMLElement);
  const rotateTitle = required("kw-rotate-title", HTMLElement);
  const rotateOverlap = required("kw-rotate-overlap", HTMLInputElement);
  const rotateNow = required("kw-rotate-now", HTMLInputElement);
  const rotateSubmit = required("kw-rotate-submit", HTMLButtonElement);
  const rotateCancel = required("kw-rotate-cancel", HTMLButtonElement);
  const revokeDialog = required("kw-revoke-dialog", HTMLDialogElement);
  const revokeForm = required("kw-revoke-form", HTMLFormElement);
  const revokeError = required("kw-revoke-error", HTMLElement);
  const revokeTitle = required("kw-revoke-title", HTMLElement);
  const revokeText = required("kw-revoke-text", HTMLElement);
  const revokeSubmit = required("kw-revoke-submit", HTMLButtonElement);
  const revokeCancel = required("kw-revoke-cancel", HTMLButtonElement);
  const confirmDialog = required("kw-confirm-dialog", HTMLDialogElement);
  const confirmForm = required("kw-confirm-form", HTMLFormElement);
  const confirmTitle = required("kw-confirm-title", HTMLElement);
  const confirmText = required("kw-confirm-text", HTMLElement);
  const confirmError = required("kw-confirm-error", HTMLElement);
  const confirmSubmit = required("kw-confirm-submit", HTMLButtonElement);
  const confirmCancel = required("kw-confirm-cancel", HTMLButtonElement);
  const ipsDialog = required("kw-ips-dialog", HTMLDialogElement);
  const ipsForm = required("kw-ips-form", HTMLFormElement);
  const ipsTitle = required("kw-ips-title", HTMLElement);
  const ipsAlert = required("kw-ips-alert", HTMLElement);
  const ipsInput = required("kw-ips-input", HTMLTextAreaElement);
  const ipsError = required("kw-ips-error", HTMLElement);
  const ipsSubmit = required("kw-ips-submit", HTMLButtonElement);
  const ipsCancel = required("kw-ips-cancel", HTMLButtonElement);
  let confirmation: Confirmation | null = null;
  const filterMode = optional("kw-filter-mode", HTMLSelectElement);
  const filterStatus = required("kw-filter-status", HTMLSelectElement);

  // ------------------------------------------------------------------ helpers

  function el<K extends keyof HTMLElementTagNameMap>(tag: K, attrs?: Attrs | null, children?: ReadonlyArray<Node | null>): HTMLElementTagNameMap[K] {
    const node = document.createElement(tag);
    if (attrs)
      for (const name of Object.keys(attrs)) {
        const value = attrs[name];
        if (value === null || value === undefined || value === false) continue;
        if (name === "text") node.textContent = String(value);
        else node.setAttribute(name, value === true ? "" : String(value));
      }
    if (children) for (const child of children) if (child) node.appendChild(child);
    return node;
  }
  function svg<K extends keyof SVGElementTagNameMap>(tag: K, attrs: Record<string, string | number>): SVGElementTagNameMap[K] {
    const node = document.createElementNS(SVG_NS, tag);
    for (const name of Object.keys(attrs)) node.setAttribute(name, String(attrs[name]));
    return node;
  }
  function announce(text: string): void {
    live.textContent = "";
    window.setTimeout(() => {
      live.textContent = text;
    }, 30);
  }
  function plural(n: number, word: string): string {
    return n + " " + word + (n === 1 ? "" : "s");
  }

  const dateFormat = new Intl.DateTimeFormat(undefined, { year: "numeric", month: "short", day: "numeric" });
  const fullFormat = new Intl.DateTimeFormat(undefined, { dateStyle: "full", timeStyle: "long" });
  const relativeFormat = typeof Intl.RelativeTimeFormat === "function" ? new Intl.RelativeTimeFormat("en", { numeric: "auto" }) : null;
  const numberFormat = new Intl.NumberFormat();
  const UNITS: ReadonlyArray<readonly [Intl.RelativeTimeFormatUnit, number]> = [
    ["year", 31536000],
    ["month", 2592000],
    ["week", 604800],
    ["day", 86400],
    ["hour", 3600],
    ["minute", 60],
  ];

  function relative(iso: string): string {
    const seconds = (new Date(iso).getTime() - Date.now()) / 1000;
    if (Math.abs(seconds) < 45) return "just now";
    for (const [unit, size] of UNITS) {
      if (Math.abs(seconds) >= size || unit === "minute") {
        const n = Math.round(seconds / size);
        if (relativeFormat) return relativeFormat.format(n, unit);
        return n < 0 ? plural(-n, unit) + " ago" : "in " + plural(n, unit);
      }
    }
    return "just now";
  }
  function timeNode(iso: string, text: string): HTMLTimeElement {
    return el("time", { datetime: iso, title: fullFormat.format(new Date(iso)), text });
  }
  function relativeNode(iso: string): HTMLTimeElement {
    const node = timeNode(iso, relative(iso));
    node.setAttribute("data-relative", "");
    return node;
  }
  // Relative times ("5 minutes ago") stay true while the page is open.
  window.setInterval(() => {
    for (const node of Array.from(rows.querySelectorAll("time[data-relative]"))) {
      const iso = node.getAttribute("datetime");
      if (iso) node.textContent = relative(iso);
    }
  }, 30000);

  // ------------------------------------------------------------------ talking to keysRouter

  const isObject = (value: unknown): value is Record<string, unknown> => value !== null && typeof value === "object";

  /** Calls the router; resolves { ok, status, data, error } and never rejects. */
  function call<T>(method: string, path: string, body?: unknown): Promise<CallResult<T>> {
    const headers: Record<string, string> = { Accept: "application/json" };
    const init: RequestInit = { method, credentials: "same-origin", cache: "no-store", headers };
    if (body !== undefined) {
      headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(body);
    }
    return fetch(api + path, init).then(
      (res) =>
        res.text().then((text): CallResult<T> => {
          let parsed: unknown = null;
          try {
            parsed = text ? JSON.parse(text) : null;
          } catch {
            parsed = null;
          }
          let data: unknown = parsed;
          let error: unknown = null;
          if (isObject(parsed) && "error" in parsed && ("data" in parsed || !res.ok)) {
            data = parsed.data;
            error = parsed.error;
          }
          if (res.ok && !error) return { ok: true, status: res.status, data: (data || {}) as T, error: null };
          if (typeof error === "string") error = { message: error };
          const e = isObject(error) ? error : {};
          return {
            ok: false,
            status: res.status,
            data: null,
            error: {
              code: typeof e.code === "string" && e.code ? e.code : null,
              message: typeof e.message === "string" ? e.message : "",
              details: Array.isArray(e.details) ? e.details : [],
            },
          };
        }),
      (): CallResult<T> => ({ ok: false, status: 0, data: null, error: { code: "network", message: "", details: [] } }),
    );
  }

  /** A refusal in plain words. */
  function explain(result: Failure): string {
    const m = result.error.message;
    switch (result.error.code) {
      case "network":
        return "Could not reach the server. Check your connection and try again.";
      case "unauthenticated":
        return "You are signed out. Sign in again, then reload this page.";
      case "forbidden":
        return "The server refused this request" + (m ? ": " + m : ".");
      case "not_found":
        return "That key no longer exists, or it belongs to another account. Refresh the list.";
      case "validation_failed":
        return "Some details need fixing" + (m ? ": " + m : ".");
      case "key_limit_reached":
        return m || "You already have the maximum number of active keys. Revoke one first.";
      case "conflict":
        return m || "That key changed in the meantime. Refresh the list and try again.";
      case "rate_limited":
        return "Too many requests. Wait a moment and try again.";
      case "store_unavailable":
        return "Keys cannot be loaded or changed right now. Try again in a moment.";
    }
    if (m) return m;
    return result.status ? "Something went wrong (HTTP " + result.status + "). Try again." : "Something went wrong. Try again.";
  }

  function showError(box: HTMLElement, result: Failure): void {
    box.textContent = explain(result);
    if (result.error.code === "unauthenticated" && config.loginUrl) {
      box.appendChild(document.createTextNode(" "));
      box.appendChild(el("a", { href: config.loginUrl, text: "Sign in" }));
    }
    box.hidden = false;
  }
  function clearError(box: HTMLElement): void {
    box.hidden = true;
    box.textContent = "";
  }

  // ------------------------------------------------------------------ the table

  function badge(kind: string, text: string): HTMLSpanElement {
    return el("span", { class: "kw-badge kw-badge-" + kind, text });
  }
  function tags(list: readonly string[] | null | undefined, emptyText: string): HTMLSpanElement {
    if (!list || list.length === 0) return el("span", { class: "kw-sub", text: emptyText });
    return el(
      "span",
      { class: "kw-tags" },
      list.map((s) =>
        s === "*" ? el("span", { class: "kw-tag", title: "Scope *: every scope", text: "* (full access)" }) : el("span", { class: "kw-tag", text: s }),
      ),
    );
  }
  function cell(label: string, className: string | null, children: ReadonlyArray<Node | null>): HTMLTableCellElement {
    return el("td", { "data-label": label, class: className || null }, children);
  }

  function expiresNode(key: KeyJson): HTMLSpanElement {
    if (!key.expiresAt) return el("span", { text: "Never" });
    const at = new Date(key.expiresAt);
    const wrap = el("span", null, [timeNode(key.expiresAt, dateFormat.format(at))]);
    if (key.status === "active") wrap.appendChild(el("span", { class: "kw-sub" }, [relativeNode(key.expiresAt)]));
    return wrap;
  }

  function statusNode(key: KeyJson): HTMLSpanElement {
    const node = el("span", null, [badge(key.status, key.status.charAt(0).toUpperCase() + key.status.slice(1))]);
    if (key.status === "active" && key.rotatedTo) node.appendChild(el("span", { class: "kw-sub", text: "Replaced; stops at expiry" }));
    if (key.status === "revoked" && key.revokedAt) node.appendChild(el("span", { class: "kw-sub" }, [relativeNode(key.revokedAt)]));
    return node;
  }

  function actionsNode(key: KeyJson): HTMLDivElement {
    const box = el("div", { class: "kw-row-actions" });
    if (key.status === "active" && !key.rotatedTo) {
      const rotate = el("button", { type: "button", class: "kw-btn kw-btn-small", "aria-label": "Rotate key " + key.name, text: "Rotate" });
      rotate.addEventListener("click", () => {
        openRotate(key);
      });
      box.appendChild(rotate);
    }
    if (key.status === "active") {
      const disable = el("button", { type: "button", class: "kw-btn kw-btn-small", "aria-label": "Disable key " + key.name, text: "Disable" });
      disable.addEventListener("click", () => {
        openDisable(key);
      });
      box.appendChild(disable);
    }
    if (key.status === "disabled") {
      const enable = el("button", { type: "button", class: "kw-btn kw-btn-small", "aria-label": "Enable key " + key.name, text: "Enable" });
      enable.addEventListener("click", () => {
        enableKey(key, enable);
      });
      box.appendChild(enable);
    }
    if (key.status === "active" || key.status === "disabled") {
      const ips = el("button", { type: "button", class: "kw-btn kw-btn-small", "aria-label": "Edit IP allow-list of key " + key.name, text: "IPs" });
      ips.addEventListener("click", () => {
        openIps(key);
      });
      box.appendChild(ips);
    }
    if (key.status !== "revoked") {
      const revoke = el("button", { type: "button", class: "kw-btn kw-btn-small", "aria-label": "Revoke key " + key.name, text: "Revoke" });
      revoke.addEventListener("click", () => {
        openRevoke(key);
      });
      box.appendChild(revoke);
    }
    return box;
  }

  function row(key: KeyJson): HTMLTableRowElement {
    const nameCell = cell("Name", "kw-cell-name", [
      el("span", { class: "kw-name", text: key.name }),
      el("code", { class: "kw-start", title: "The start of the key", text: key.start + "…" }),
      key.allowedIps && key.allowedIps.length ? el("span", { class: "kw-sub kw-ips", text: "Only from " + key.allowedIps.join(", ") }) : null,
    ]);
    const projects = key.kind === "project" ? [key.projectId ?? ""] : key.projects;
    const cells = [nameCell];
    if (config.modes)
      cells.push(
        cell("Mode", null, [
          key.mode ? badge(key.mode === "live" || key.mode === "test" ? key.mode : "other", key.mode) : el("span", { class: "kw-sub", text: "—" }),
        ]),
      );
    const review = key.kind === "user" && (key.status === "active" || key.status === "disabled") ? el("div", { class: "kw-scope-review" }) : null;
    cells.push(cell("Scopes", "kw-scopes", [key.kind === "project" ? el("span", { class: "kw-sub", text: "Project key" }) : tags(key.scopes, "None"), review]));
    if (config.projects) cells.push(cell("Projects", null, [tags(projects, "All projects")]));
    cells.push(cell("Created", "kw-nowrap", [timeNode(key.createdAt, dateFormat.format(new Date(key.createdAt)))]));
    cells.push(cell("Expires", "kw-nowrap", [expiresNode(key)]));
    cells.push(cell("Last used", "kw-nowrap kw-last-used", [key.lastUsedAt ? relativeNode(key.lastUsedAt) : el("span", { class: "kw-sub", text: "Never" })]));
    const usage = el("div", null, [
      el("span", { class: "kw-count", text: numberFormat.format(key.requestCount || 0) }),
      el("span", { class: "kw-usage" }, [el("span", { class: "kw-sub", text: "…" })]),
    ]);
    cells.push(cell("Requests", "kw-requests", [usage]));
    cells.push(cell("Status", "kw-status", [statusNode(key)]));
    cells.push(cell("Actions", "kw-cell-actions", [actionsNode(key)]));
    return el("tr", { "data-key-id": key.id, class: key.status === "active" ? null : "kw-inactive" }, cells);
  }

  // ------------------------------------------------------------------ sparklines

  function sparkline(usage: readonly UsageDay[]): SVGSVGElement {
    const w = 100,
      h = 28,
      pad = 2,
      n = usage.length;
    let max = 0,
      total = 0;
    let peak: UsageDay | null = null;
    for (const day of usage) {
      total += day.count;
      if (day.count > max) {
        max = day.count;
        peak = day;
      }
    }
    const label =
      plural(total, "request") + " in the last " + plural(n, "day") + (peak ? "; busiest day " + peak.date + " with " + numberFormat.format(peak.count) : "");
    const node = svg("svg", { class: "kw-spark", viewBox: "0 0 " + w + " " + h, width: w, height: h, role: "img", "aria-label": label, focusable: "false" });
    const title = svg("title", {});
    title.textContent = label;
    node.appendChild(title);
    node.appendChild(svg("line", { class: "kw-spark-base", x1: 0, y1: h - 0.5, x2: w, y2: h - 0.5 }));
    if (n === 0) return node;
    const points: string[] = [];
    let lastX = 0,
      lastY = 0;
    usage.forEach((day, j) => {
      lastX = n === 1 ? w / 2 : (j * w) / (n - 1);
      lastY = h - pad - (max ? (day.count / max) * (h - 2 * pad) : 0);
      points.push(lastX.toFixed(1) + "," + lastY.toFixed(1));
    });
    node.appendChild(svg("polygon", { class: "kw-spark-area", points: "0," + h + " " + points.join(" ") + " " + w + "," + h }));
    node.appendChild(svg("polyline", { class: "kw-spark-line", points: points.join(" ") }));
    node.appendChild(svg("circle", { class: "kw-spark-dot", cx: lastX.toFixed(1), cy: lastY.toFixed(1), r: 2 }));
    return node;
  }

  /** The never-used scopes of `key` and, when it used some, the offer to narrow it to those. */
  function scopeReview(key: KeyJson, usage: ScopeUsageBody): Node[] {
    const used = usage.used.map((u) => u.scope);
    const out: Node[] = [];
    if (usage.unused.length) {
      out.push(el("span", { class: "kw-sub", text: "Never used in 30 days:" }));
      out.push(
        el(
          "span",
          { class: "kw-tags" },
          usage.unused.map((s) => el("span", { class: "kw-tag kw-tag-unused", text: s })),
        ),
      );
    }
    const same = used.length === key.scopes.length && used.every((s) => key.scopes.includes(s));
    if (used.length && !same) {
      const narrow = el("button", {
        type: "button",
        class: "kw-btn kw-btn-small",
        "aria-label": "Narrow scopes of key " + key.name,
        text: "Narrow to used scopes",
      });
      narrow.addEventListener("click", () => {
        openNarrow(key, used);
      });
      out.push(narrow);
    }
    return out;
  }

  /** Fetches and draws each key's 30-day usage and scope review into its row (skipped once a reload replaced the row). */
  function loadSparklines(keys: readonly KeyJson[]): Promise<void> {
    const queue: Array<{ key: KeyJson; cell: Element; review: Element | null }> = [];
    for (const key of keys) {
      const tr = rows.querySelector('tr[data-key-id="' + CSS.escape(key.id) + '"]');
      const cellNode = tr && tr.querySelector(".kw-usage");
      if (tr && cellNode) queue.push({ key, cell: cellNode, review: tr.querySelector(".kw-scope-review") });
    }
    function review(job: { key: KeyJson; review: Element | null }): Promise<void> {
      const box = job.review;
      if (!box) return Promise.resolve();
      return call<ScopeUsageBody>("GET", "/" + encodeURIComponent(job.key.id) + "/scope-usage?days=30").then((result) => {
        if (!box.isConnected || !result.ok || !Array.isArray(result.data.used) || !Array.isArray(result.data.unused)) return;
        box.textContent = "";
        for (const node of scopeReview(job.key, result.data)) box.appendChild(node);
      });
    }
    function worker(): Promise<void> {
      const job = queue.shift();
      if (!job) return Promise.resolve();
      if (!job.cell.isConnected) return worker();
      return call<UsageBody>("GET", "/" + encodeURIComponent(job.key.id) + "/usage?days=30")
        .then((result) => {
          if (!job.cell.isConnected) return;
          job.cell.textContent = "";
          if (result.ok && Array.isArray(result.data.usage)) job.cell.appendChild(sparkline(result.data.usage));
          else job.cell.appendChild(el("span", { class: "kw-sub", text: "Unavailable" }));
        })
        .then(() => review(job))
        .then(worker);
    }
    return Promise.all([worker(), worker(), worker(), worker()]).then(() => undefined);
  }

  // ------------------------------------------------------------------ loading the list

  function listQuery(before: string | null): string {
    const params = new URLSearchParams();
    if (filterMode?.value) params.set("mode", filterMode.value);
    if (filterStatus.value) params.set("status", filterStatus.value);
    if (before) params.set("before", before);
    return "?" + params.toString();
  }

  function renderEmpty(): void {
    const filtered = filterMode?.value || filterStatus.value;
    empty.textContent = filtered ? "No keys match these filters." : "You have no API keys yet. Create one to get started.";
    empty.hidden = state.keys.length > 0;
  }

  /** After an action re-renders the table, move focus to that key's row (its buttons are gone). */
  function focusRow(id: string): void {
    const tr = rows.querySelector<HTMLTableRowElement>('tr[data-key-id="' + CSS.escape(id) + '"]');
    if (!tr) {
      createOpen.focus();
      return;
    }
    tr.setAttribute("tabindex", "-1");
    tr.focus();
  }

  function load(append: boolean, focusId?: string): Promise<void> {
    const generation = ++state.generation;
    state.loading = true;
    table.setAttribute("aria-busy", "true");
    more.disabled = true;
    return call<ListBody>("GET", "/" + listQuery(append ? state.next : null)).then((result) => {
      if (generation !== state.generation) return;
      state.loading = false;
      loading.hidden = true;
      more.disabled = false;
      if (!result.ok) {
        showError(alertBox, result);
        if (!append) {
          rows.textContent = "";
          state.keys = [];
        }
        more.hidden = true;
        createOpen.disabled = result.error.code === "unauthenticated";
        table.setAttribute("aria-busy", "false");
        return;
      }
      clearError(alertBox);
      createOpen.disabled = false;
      const page = Array.isArray(result.data.keys) ? result.data.keys : [];
      if (!append) {
        rows.textContent = "";
        state.keys = [];
      }
      for (const key of page) {
        state.keys.push(key);
        rows.appendChild(row(key));
      }
      state.next = result.data.next || null;
      more.hidden = !state.next;
      renderEmpty();
      announce(plural(state.keys.length, "key") + " shown.");
      if (focusId) focusRow(focusId);
      // The table stays aria-busy until its sparklines are drawn too.
      return loadSparklines(page).then(() => {
        if (generation === state.generation) table.setAttribute("aria-busy", "false");
      });
    });
  }

  // ------------------------------------------------------------------ dialogs

  function openDialog(dialog: HTMLDialogElement): void {
    if (!dialog.open) dialog.showModal();
  }
  function setBusy(button: HTMLButtonElement, busy: boolean): void {
    button.disabled = busy;
    button.setAttribute("aria-busy", busy ? "true" : "false");
  }

  const FIELD_ERRORS: Readonly<Record<string, string>> = {
    name: "kw-create-name-error",
    mode: "kw-create-mode-error",
    scopes: "kw-create-scopes-error",
    projects: "kw-create-projects-error",
    expiresIn: "kw-create-expiry-error",
    expiresAt: "kw-create-expiry-error",
  };
  const FIELD_INPUTS: Readonly<Record<string, string>> = {
    name: "kw-create-name",
    mode: "kw-create-mode",
    expiresIn: "kw-create-expiry",
    expiresAt: "kw-create-expiry",
  };

  function clearFieldErrors(): void {
    for (const box of Array.from(createForm.querySelectorAll<HTMLElement>(".kw-field-error"))) {
      box.hidden = true;
      box.textContent = "";
    }
    for (const node of Array.from(createForm.querySelectorAll("[aria-invalid]"))) node.removeAttribute("aria-invalid");
    clearError(createError);
  }

  /** Puts each validation detail next to its field; returns the details no field could take. */
  function showFieldErrors(details: Refusal["details"]): Refusal["details"] {
    const rest: Refusal["details"] = [];
    let first: HTMLElement | null = null;
    for (const detail of details) {
      const field = String(detail.path || "").split(".")[0] ?? "";
      const boxId = Object.hasOwn(FIELD_ERRORS, field) ? FIELD_ERRORS[field] : undefined;
      const box = boxId ? document.getElementById(boxId) : null;
      if (!box) {
        rest.push(detail);
        continue;
      }
      box.textContent = (box.textContent ? box.textContent + " " : "") + sentence(detail.message);
      box.hidden = false;
      const inputId = Object.hasOwn(FIELD_INPUTS, field) ? FIELD_INPUTS[field] : undefined;
      const input = inputId ? document.getElementById(inputId) : null;
      if (input) {
        input.setAttribute("aria-invalid", "true");
        if (!first) first = input;
      }
    }
    if (first) first.focus();
    return rest;
  }
  function sentence(message: unknown): string {
    const text = String(message || "is not valid");
    return text.charAt(0).toUpperCase() + text.slice(1) + (/[.!?]$/.test(text) ? "" : ".");
  }

  function checked(name: string): string[] {
    return Array.from(createForm.querySelectorAll<HTMLInputElement>('input[name="' + name + '"]:checked'), (box) => box.value);
  }

  createOpen.addEventListener("click", () => {
    createForm.reset();
    clearFieldErrors();
    openDialog(createDialog);
    createName.focus();
  });
  createCancel.addEventListener("click", () => {
    createDialog.close();
  });

  createForm.addEventListener("submit", (event) => {
    event.preventDefault();
    clearFieldErrors();
    const name = createName.value.trim();
    if (!name) {
      showFieldErrors([{ path: "name", message: "Give the key a name" }]);
      return;
    }
    const body: { name: string; mode?: string; scopes?: string[]; projects?: string[]; expiresIn: Expiry } = { name, expiresIn: null };
    if (createMode) body.mode = createMode.value;
    const scopes = checked("scopes");
    if (scopes.length) body.scopes = scopes;
    const projects = checked("projects");
    if (projects.length) body.projects = projects;
    const expiresIn = expiries[Number(createExpiry.value)];
    body.expiresIn = expiresIn === undefined ? null : expiresIn;
    setBusy(createSubmit, true);
    void call<CreateBody>("POST", "/", body).then((result) => {
      setBusy(createSubmit, false);
      if (!result.ok) {
        const rest = result.error.code === "validation_failed" ? showFieldErrors(result.error.details) : [result];
        if (rest.length) showError(createError, result);
        return;
      }
      createDialog.close();
      showSecret(result.data.secret, "Key “" + result.data.key.name + "” was created.");
      announce("Key created.");
      void load(false);
    });
  });

  function showSecret(secret: string, note: string): void {
    state.secret = secret;
    secretValue.textContent = secret;
    secretNote.textContent = note;
    copyStatus.textContent = "";
    openDialog(secretDialog);
    secretCopy.focus();
  }
  function forgetSecret(): void {
    state.secret = null;
    secretValue.textContent = "";
    secretNote.textContent = "";
    copyStatus.textContent = "";
  }
  // Wiped synchronously on Done and on Escape ("cancel"); "close" (dispatched later) is the safety net.
  secretDialog.addEventListener("cancel", forgetSecret);
  secretDialog.addEventListener("close", () => {
    forgetSecret();
    createOpen.focus();
  });
  secretDone.addEventListener("click", () => {
    forgetSecret();
    secretDialog.close();
  });
  secretCopy.addEventListener("click", () => {
    if (!state.secret) return;
    const done = (): void => {
      copyStatus.textContent = "Copied to the clipboard.";
    };
    const fallback = (): void => {
      const range = document.createRange();
      range.selectNodeContents(secretValue);
      const selection = window.getSelection();
      let ok = false;
      if (selection) {
        selection.removeAllRanges();
        selection.addRange(range);
        try {
          ok = document.execCommand("copy");
        } catch {
          ok = false;
        }
      }
      copyStatus.textContent = ok ? "Copied to the clipboard." : "Select the key and copy it by hand.";
    };
    // Older browsers and insecure origins have no navigator.clipboard, although the DOM types always declare it.
    const clipboard = navigator.clipboard as Clipboard | undefined;
    if (clipboard?.writeText) clipboard.writeText(state.secret).then(done, fallback);
    else fallback();
  });

  function openRotate(key: KeyJson): void {
    state.target = key;
    rotateForm.reset();
    clearError(rotateError);
    rotateTitle.textContent = "Rotate “" + key.name + "”";
    openDialog(rotateDialog);
    rotateOverlap.focus();
  }
  rotateCancel.addEventListener("click", () => {
    rotateDialog.close();
  });
  rotateForm.addEventListener("submit", (event) => {
    event.preventDefault();
    const key = state.target;
    if (!key) return;
    const overlap = rotateNow.checked ? 0 : "24h";
    setBusy(rotateSubmit, true);
    void call<RotateBody>("POST", "/" + encodeURIComponent(key.id) + "/rotate", { overlap }).then((result) => {
      setBusy(rotateSubmit, false);
      if (!result.ok) {
        showError(rotateError, result);
        return;
      }
      rotateDialog.close();
      const previous = result.data.previous;
      const note =
        overlap === 0 || !previous || !previous.expiresAt
          ? "The old key (" + key.start + "…) has stopped working."
          : "The old key (" + key.start + "…) keeps working until " + fullFormat.format(new Date(previous.expiresAt)) + ".";
      showSecret(result.data.secret, note);
      announce("Key rotated.");
      void load(false);
    });
  });

  function openRevoke(key: KeyJson): void {
    state.target = key;
    clearError(revokeError);
    revokeTitle.textContent = "Revoke “" + key.name + "”?";
    revokeText.textContent = "Programs using " + key.start + "… will be refused at once. This cannot be undone.";
    openDialog(revokeDialog);
    revokeCancel.focus();
  }
  revokeCancel.addEventListener("click", () => {
    revokeDialog.close();
  });
  revokeForm.addEventListener("submit", (event) => {
    event.preventDefault();
    const key = state.target;
    if (!key) return;
    setBusy(revokeSubmit, true);
    void call<KeyBody>("DELETE", "/" + encodeURIComponent(key.id)).then((result) => {
      setBusy(revokeSubmit, false);
      if (!result.ok) {
        showError(revokeError, result);
        return;
      }
      revokeDialog.close();
      announce("Key “" + key.name + "” revoked.");
      void load(false, key.id);
    });
  });
  for (const dialog of [rotateDialog, revokeDialog, ipsDialog]) {
    dialog.addEventListener("close", () => {
      state.target = null;
    });
  }

  /** Asks before `run`: narrowing scopes and pausing a key change what its programs may do. */
  function openConfirm(next: Confirmation, title: string, text: string, submit: string): void {
    confirmation = next;
    clearError(confirmError);
    confirmTitle.textContent = title;
    confirmText.textContent = text;
    confirmSubmit.textContent = submit;
    openDialog(confirmDialog);
    confirmCancel.focus();
  }
  confirmCancel.addEventListener("click", () => {
    confirmDialog.close();
  });
  confirmDialog.addEventListener("close", () => {
    confirmation = null;
  });
  confirmForm.addEventListener("submit", (event) => {
    event.preventDefault();
    const pending = confirmation;
    if (!pending) return;
    setBusy(confirmSubmit, true);
    void pending.run().then((result) => {
      setBusy(confirmSubmit, false);
      if (!result.ok) {
        showError(confirmError, result);
        return;
      }
      confirmDialog.close();
      announce(pending.done);
      void load(false, pending.key.id);
    });
  });

  function openNarrow(key: KeyJson, used: string[]): void {
    const dropped = key.scopes.filter((s) => !used.includes(s));
    openConfirm(
      { key, run: () => call<KeyBody>("PATCH", "/" + encodeURIComponent(key.id), { scopes: used }), done: "Key “" + key.name + "” narrowed." },
      "Narrow “" + key.name + "”?",
      "The key will keep only " +
        used.join(", ") +
        ": the scopes its requests used in the last 30 days." +
        (dropped.length ? " It loses " + dropped.join(", ") + "; requests that need them will be refused." : "") +
        " Scopes can only be narrowed, not widened again.",
      "Narrow scopes",
    );
  }

  function openDisable(key: KeyJson): void {
    openConfirm(
      { key, run: () => call<KeyBody>("POST", "/" + encodeURIComponent(key.id) + "/disable"), done: "Key “" + key.name + "” disabled." },
      "Disable “" + key.name + "”?",
      "Programs using " + key.start + "… will be refused until you enable the key again. Nothing else changes.",
      "Disable key",
    );
  }

  /** Resuming needs no confirmation: it gives back what the key had. */
  function enableKey(key: KeyJson, button: HTMLButtonElement): void {
    setBusy(button, true);
    void call<KeyBody>("POST", "/" + encodeURIComponent(key.id) + "/enable").then((result) => {
      if (!result.ok) {
        setBusy(button, false);
        showError(alertBox, result);
        return;
      }
      announce("Key “" + key.name + "” enabled.");
      void load(false, key.id);
    });
  }

  function openIps(key: KeyJson): void {
    state.target = key;
    clearError(ipsAlert);
    ipsError.hidden = true;
    ipsError.textContent = "";
    ipsInput.removeAttribute("aria-invalid");
    ipsTitle.textContent = "IP allow-list of “" + key.name + "”";
    ipsInput.value = (key.allowedIps || []).join("\n");
    openDialog(ipsDialog);
    ipsInput.focus();
  }
  ipsCancel.addEventListener("click", () => {
    ipsDialog.close();
  });
  ipsForm.addEventListener("submit", (event) => {
    event.preventDefault();
    const key = state.target;
    if (!key) return;
    clearError(ipsAlert);
    ipsError.hidden = true;
    ipsError.textContent = "";
    ipsInput.removeAttribute("aria-invalid");
    const list = ipsInput.value
      .split(/[\s,]+/)
      .map((s) => s.trim())
      .filter(Boolean);
    setBusy(ipsSubmit, true);
    void call<KeyBody>("PATCH", "/" + encodeURIComponent(key.id), { allowedIps: list }).then((result) => {
      setBusy(ipsSubmit, false);
      if (!result.ok) {
        const mine = result.error.code === "validation_failed" ? result.error.details.filter((d) => String(d.path || "").split(".")[0] === "allowedIps") : [];
        if (!mine.length) {
          showError(ipsAlert, result);
          return;
        }
        ipsError.textContent = mine.map((d) => sentence(d.message)).join(" ");
        ipsError.hidden = false;
        ipsInput.setAttribute("aria-invalid", "true");
        ipsInput.focus();
        return;
      }
      ipsDialog.close();
      announce(
        list.length
          ? "Key “" + key.name + "” now works only from " + (list.length === 1 ? "1 address" : list.length + " addresses") + "."
          : "Key “" + key.name + "” works from any address.",
      );
      void load(false, key.id);
    });
  });

  // ------------------------------------------------------------------ filters and start

  if (filterMode)
    filterMode.addEventListener("change", () => {
      void load(false);
    });
  filterStatus.addEventListener("change", () => {
    void load(false);
  });
  refresh.addEventListener("click", () => {
    void load(false);
  });
  more.addEventListener("click", () => {
    void load(true);
  });
  // Coming back to the tab (e.g. after trying a key elsewhere) shows fresh usage, unless a dialog is open.
  document.addEventListener("visibilitychange", () => {
    if (document.visibilityState === "visible" && !app.querySelector("dialog[open]")) void load(false);
  });
  void load(false);
})();
