/**
 * The page's HTML shell: headings, filters, the empty table and the dialogs (create, secret,
 * rotate, revoke, a confirmation for narrowing scopes and pausing, the IP allow-list editor), with the
 * per-request choices (scopes, projects) rendered as labelled controls. No inline script or style;
 * the client script fills the table from the router. Every interpolated value is escaped.
 */
import type { Choice, PageConfig } from "./options.js";

/** Escapes text for HTML element content and quoted attribute values. */
export function escapeHtml(value: string): string {
  return value.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** What one render needs beyond the static config. */
export interface RenderInput {
  /** Asset URLs with their content versions. */
  cssHref: string;
  jsSrc: string;
  scopes: Choice[];
  projects: Choice[] | null;
}

const e = escapeHtml;

function checkboxes(name: string, choices: Choice[]): string {
  return choices
    .map((c, i) => {
      const id = `kw-${name}-${i}`;
      const hint = c.description ? `<span class="kw-choice-hint" id="${id}-hint">${e(c.description)}</span>` : "";
      const described = c.description ? ` aria-describedby="${id}-hint"` : "";
      return `<div class="kw-choice"><input type="checkbox" id="${id}" name="${name}" value="${e(c.value)}"${described}><label for="${id}"><span class="kw-choice-label">${e(c.label)}</span>${hint}</label></div>`;
    })
    .join("");
}

function fieldError(id: string): string {
  return `<p class="kw-field-error" id="${id}" hidden></p>`;
}

/** The full HTML document for one request. */
export function renderPage(config: PageConfig, input: RenderInput): string {
  const modes = config.modes;
  const clientConfig = { router: config.router, loginUrl: config.loginUrl, modes: modes.length > 0, projects: input.projects !== null };
  const modeOptions = modes.map((m) => `<option value="${e(m)}">${e(m)}</option>`).join("");
  const modeFilter = modes.length
    ? `<div class="kw-filter"><label for="kw-filter-mode">Mode</label><select id="kw-filter-mode" name="mode"><option value="">All modes</option>${modeOptions}</select></div>`
    : "";
  const modeField = modes.length
    ? `<div class="kw-field"><label for="kw-create-mode">Mode</label><select id="kw-create-mode" name="mode" aria-describedby="kw-create-mode-hint kw-create-mode-error">${modeOptions}</select>
<p class="kw-hint" id="kw-create-mode-hint">Test keys never work on live data, and live keys never work on test data.</p>${fieldError("kw-create-mode-error")}</div>`
    : "";
  const scopeField = input.scopes.length
    ? `<fieldset class="kw-field kw-choices" aria-describedby="kw-create-scopes-hint kw-create-scopes-error"><legend>Scopes</legend>
<p class="kw-hint" id="kw-create-scopes-hint">What the key may do. Leave all unchecked to give it the default access for new keys.</p>
<div class="kw-choice-list">${checkboxes("scopes", input.scopes)}</div>${fieldError("kw-create-scopes-error")}</fieldset>`
    : "";
  const projectField = input.projects?.length
    ? `<fieldset class="kw-field kw-choices" aria-describedby="kw-create-projects-hint kw-create-projects-error"><legend>Projects</legend>
<p class="kw-hint" id="kw-create-projects-hint">Limit the key to these projects. Leave all unchecked to allow every project you can access.</p>
<div class="kw-choice-list">${checkboxes("projects", input.projects)}</div>${fieldError("kw-create-projects-error")}</fieldset>`
    : "";
  const expiryOptions = config.expiries.map((x, i) => `<option value="${i}">${e(x.label)}</option>`).join("");
  const modeHeader = modes.length ? `<th scope="col">Mode</th>` : "";
  const projectHeader = input.projects !== null ? `<th scope="col">Projects</th>` : "";

  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>${e(config.title)}</title>
<link rel="stylesheet" href="${e(input.cssHref)}">
<script src="${e(input.jsSrc)}" defer></script>
</head>
<body>
<main id="kw-app" class="kw" data-config="${e(JSON.stringify(clientConfig))}" data-expiries="${e(JSON.stringify(config.expiries.map((x) => x.value)))}">
<header class="kw-header">
<div>
<h1 id="kw-title">${e(config.title)}</h1>
<p class="kw-intro">Keys let your programs call the API as you. Keep them secret, like passwords.</p>
</div>
<button type="button" class="kw-btn kw-btn-primary" id="kw-create-open" disabled>Create key</button>
</header>
<div class="kw-alert" id="kw-alert" role="alert" hidden></div>
<p class="kw-visually-hidden" id="kw-live" role="status" aria-live="polite"></p>
<div class="kw-toolbar" role="group" aria-label="Filter keys">
${modeFilter}
<div class="kw-filter"><label for="kw-filter-status">Status</label><select id="kw-filter-status" name="status"><option value="">All statuses</option><option value="active">Active</option><option value="expired">Expired</option><option value="revoked">Revoked</option><option value="disabled">Disabled</option></select></div>
<button type="button" class="kw-btn" id="kw-refresh">Refresh</button>
</div>
<div class="kw-table-wrap">
<table class="kw-table" aria-labelledby="kw-title" aria-busy="true">
<thead><tr><th scope="col">Name</th>${modeHeader}<th scope="col">Scopes</th>${projectHeader}<th scope="col">Created</th><th scope="col">Expires</th><th scope="col">Last used</th><th scope="col">Requests</th><th scope="col">Status</th><th scope="col"><span class="kw-visually-hidden">Actions</span></th></tr></thead>
<tbody id="kw-rows"></tbody>
</table>
</div>
<p class="kw-empty" id="kw-empty" hidden></p>
<p class="kw-loading" id="kw-loading">Loading keys…</p>
<div class="kw-more"><button type="button" class="kw-btn" id="kw-more" hidden>Load more keys</button></div>
<noscript><p class="kw-alert">This page needs JavaScript to list and manage your keys.</p></noscript>

<dialog class="kw-dialog" id="kw-create-dialog" aria-labelledby="kw-create-title">
<form id="kw-create-form" novalidate>
<h2 id="kw-create-title">Create key</h2>
<div class="kw-alert" id="kw-create-error" role="alert" hidden></div>
<div class="kw-field"><label for="kw-create-name">Name</label><input type="text" id="kw-create-name" name="name" maxlength="128" autocomplete="off" required aria-describedby="kw-create-name-hint kw-create-name-error">
<p class="kw-hint" id="kw-create-name-hint">Something that tells you where the key is used, e.g. “ci-deploys”.</p>${fieldError("kw-create-name-error")}</div>
${modeField}
${scopeField}
${projectField}
<div class="kw-field"><label for="kw-create-expiry">Expires after</label><select id="kw-create-expiry" name="expiry" aria-describedby="kw-create-expiry-error">${expiryOptions}</select>${fieldError("kw-create-expiry-error")}</div>
<div class="kw-actions"><button type="button" class="kw-btn" id="kw-create-cancel">Cancel</button><button type="submit" class="kw-btn kw-btn-primary" id="kw-create-submit">Create key</button></div>
</form>
</dialog>

<dialog class="kw-dialog" id="kw-secret-dialog" aria-labelledby="kw-secret-title" aria-describedby="kw-secret-warning">
<h2 id="kw-secret-title">Copy your new key</h2>
<p class="kw-warning" id="kw-secret-warning"><strong>You won't see this key again.</strong> Copy it now and store it somewhere safe, such as a secrets manager. Only a fingerprint of it is kept, so nobody can show it to you later; if you lose it, rotate the key.</p>
<div class="kw-secret-box"><code class="kw-secret" id="kw-secret-value"></code></div>
<p class="kw-hint" id="kw-secret-note"></p>
<div class="kw-actions"><span class="kw-copy-status" id="kw-copy-status" role="status" aria-live="polite"></span><button type="button" class="kw-btn" id="kw-secret-copy">Copy key</button><button type="button" class="kw-btn kw-btn-primary" id="kw-secret-done">Done, I've stored it</button></div>
</dialog>

<dialog class="kw-dialog" id="kw-rotate-dialog" aria-labelledby="kw-rotate-title">
<form id="kw-rotate-form">
<h2 id="kw-rotate-title">Rotate key</h2>
<p id="kw-rotate-text">A new key replaces this one, with the same name, scopes and projects.</p>
<div class="kw-alert" id="kw-rotate-error" role="alert" hidden></div>
<fieldset class="kw-field kw-choices"><legend>What happens to the old key?</legend>
<div class="kw-choice"><input type="radio" id="kw-rotate-overlap" name="overlap" value="24h" checked><label for="kw-rotate-overlap"><span class="kw-choice-label">Keep it working for 24 hours</span><span class="kw-choice-hint">Time to switch your programs over (recommended).</span></label></div>
<div class="kw-choice"><input type="radio" id="kw-rotate-now" name="overlap" value="0"><label for="kw-rotate-now"><span class="kw-choice-label">Stop it now</span><span class="kw-choice-hint">For a leaked key: programs still using it fail at once.</span></label></div>
</fieldset>
<div class="kw-actions"><button type="button" class="kw-btn" id="kw-rotate-cancel">Cancel</button><button type="submit" class="kw-btn kw-btn-primary" id="kw-rotate-submit">Rotate key</button></div>
</form>
</dialog>

<dialog class="kw-dialog" id="kw-revoke-dialog" aria-labelledby="kw-revoke-title" aria-describedby="kw-revoke-text">
<form id="kw-revoke-form">
<h2 id="kw-revoke-title">Revoke key?</h2>
<p id="kw-revoke-text">Programs using this key will be refused at once. This cannot be undone.</p>
<div class="kw-alert" id="kw-revoke-error" role="alert" hidden></div>
<div class="kw-actions"><button type="button" class="kw-btn" id="kw-revoke-cancel" autofocus>Cancel</button><button type="submit" class="kw-btn kw-btn-danger" id="kw-revoke-submit">Revoke key</button></div>
</form>
</dialog>

<dialog class="kw-dialog" id="kw-confirm-dialog" aria-labelledby="kw-confirm-title" aria-describedby="kw-confirm-text">
<form id="kw-confirm-form">
<h2 id="kw-confirm-title">Are you sure?</h2>
<p id="kw-confirm-text"></p>
<div class="kw-alert" id="kw-confirm-error" role="alert" hidden></div>
<div class="kw-actions"><button type="button" class="kw-btn" id="kw-confirm-cancel">Cancel</button><button type="submit" class="kw-btn kw-btn-primary" id="kw-confirm-submit">Confirm</button></div>
</form>
</dialog>

<dialog class="kw-dialog" id="kw-ips-dialog" aria-labelledby="kw-ips-title">
<form id="kw-ips-form" novalidate>
<h2 id="kw-ips-title">IP allow-list</h2>
<div class="kw-alert" id="kw-ips-alert" role="alert" hidden></div>
<div class="kw-field"><label for="kw-ips-input">Allowed addresses</label><textarea id="kw-ips-input" name="allowedIps" rows="5" spellcheck="false" autocomplete="off" aria-describedby="kw-ips-hint kw-ips-error"></textarea>
<p class="kw-hint" id="kw-ips-hint">One IPv4 or IPv6 address or CIDR range per line, e.g. 203.0.113.0/24. Requests from other addresses are refused. Leave empty to allow any address.</p>${fieldError("kw-ips-error")}</div>
<div class="kw-actions"><button type="button" class="kw-btn" id="kw-ips-cancel">Cancel</button><button type="submit" class="kw-btn kw-btn-primary" id="kw-ips-submit">Save allow-list</button></div>
</form>
</dialog>
</main>
</body>
</html>
`;
}
