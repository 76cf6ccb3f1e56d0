/**
 * The keys page script, served as `keys-page.js` from the page's mount path. Plain DOM code (no
 * framework, no eval, no inline handlers) so it runs under `script-src 'self'`. It lists keys from
 * `keysRouter`, draws usage sparklines, and drives the create / rotate / revoke dialogs. A new
 * secret lives only in one variable and one text node while its dialog is open, and is wiped when
 * the dialog closes. Every value from the server is inserted as text, never as HTML.
 * (Written without template literals: this file is itself a template string.)
 */
export const CLIENT_JS = String.raw`(function () {
  "use strict";
  var app = document.getElementById("kw-app");
  if (!app) return;
  var config = JSON.parse(app.getAttribute("data-config") || "{}");
  var expiries = JSON.parse(app.getAttribute("data-expiries") || "[null]");
  var api = String(config.router || "/api/keys").replace(/\/+$/, "");
  var SVG_NS = "http://www.w3.org/2000/svg";

  var state = { keys: [], next: null, loading: false, generation: 0, secret: null, target: null };

  function $(id) { return document.getElementById(id); }
  var rows = $("kw-rows"), alertBox = $("kw-alert"), live = $("kw-live"), table = app.querySelector(".kw-table");
  var createOpen = $("kw-create-open"), createDialog = $("kw-create-dialog"), createForm = $("kw-create-form");
  var secretDialog = $("kw-secret-dialog"), secretValue = $("kw-secret-value"), secretNote = $("kw-secret-note"), copyStatus = $("kw-copy-status");
  var rotateDialog = $("kw-rotate-dialog"), revokeDialog = $("kw-revoke-dialog");
  var filterMode = $("kw-filter-mode"), filterStatus = $("kw-filter-status");

  // ------------------------------------------------------------------ helpers

  function el(tag, attrs, children) {
    var node = document.createElement(tag);
    if (attrs) for (var name in attrs) {
      if (attrs[name] === null || attrs[name] === undefined || attrs[name] === false) continue;
      if (name === "text") node.textContent = String(attrs[name]);
      else node.setAttribute(name, attrs[name] === true ? "" : String(attrs[name]));
    }
    if (children) for (var i = 0; i < children.length; i++) if (children[i]) node.appendChild(children[i]);
    return node;
  }
  function svg(tag, attrs) {
    var node = document.createElementNS(SVG_NS, tag);
    for (var name in attrs) node.setAttribute(name, String(attrs[name]));
    return node;
  }
  function announce(text) { live.textContent = ""; window.setTimeout(function () { live.textContent = text; }, 30); }
  function plural(n, word) { return n + " " + word + (n === 1 ? "" : "s"); }

  var dateFormat = new Intl.DateTimeFormat(undefined, { year: "numeric", month: "short", day: "numeric" });
  var fullFormat = new Intl.DateTimeFormat(undefined, { dateStyle: "full", timeStyle: "long" });
  var relativeFormat = typeof Intl.RelativeTimeFormat === "function" ? new Intl.RelativeTimeFormat("en", { numeric: "auto" }) : null;
  var numberFormat = new Intl.NumberFormat();
  var UNITS = [["year", 31536000], ["month", 2592000], ["week", 604800], ["day", 86400], ["hour", 3600], ["minute", 60]];

  function relative(iso) {
    var seconds = (new Date(iso).getTime() - Date.now()) / 1000;
    if (Math.abs(seconds) < 45) return "just now";
    for (var i = 0; i < UNITS.length; i++) {
      var unit = UNITS[i];
      if (Math.abs(seconds) >= unit[1] || unit[0] === "minute") {
        var n = Math.round(seconds / unit[1]);
        if (relativeFormat) return relativeFormat.format(n, unit[0]);
        return n < 0 ? plural(-n, unit[0]) + " ago" : "in " + plural(n, unit[0]);
      }
    }
    return "just now";
  }
  function timeNode(iso, text) {
    return el("time", { datetime: iso, title: fullFormat.format(new Date(iso)), text: text });
  }
  function relativeNode(iso) {
    var node = timeNode(iso, relative(iso));
    node.setAttribute("data-relative", "");
    return node;
  }
  // Relative times ("5 minutes ago") stay true while the page is open.
  window.setInterval(function () {
    var nodes = rows.querySelectorAll("time[data-relative]");
    for (var i = 0; i < nodes.length; i++) nodes[i].textContent = relative(nodes[i].getAttribute("datetime"));
  }, 30000);

  // ------------------------------------------------------------------ talking to keysRouter

  /** Calls the router; resolves { ok, status, data, error } and never rejects. */
  function call(method, path, body) {
    var init = { method: method, credentials: "same-origin", cache: "no-store", headers: { Accept: "application/json" } };
    if (body !== undefined) { init.headers["Content-Type"] = "application/json"; init.body = JSON.stringify(body); }
    return fetch(api + path, init).then(function (res) {
      return res.text().then(function (text) {
        var parsed = null;
        try { parsed = text ? JSON.parse(text) : null; } catch (e) { parsed = null; }
        var data = parsed, error = null;
        if (parsed && typeof parsed === "object" && "error" in parsed && ("data" in parsed || !res.ok)) { data = parsed.data; error = parsed.error; }
        if (res.ok && !error) return { ok: true, status: res.status, data: data || {}, error: null };
        if (typeof error === "string") error = { message: error };
        if (!error || typeof error !== "object") error = {};
        return { ok: false, status: res.status, data: null, error: { code: error.code || null, message: error.message || "", details: Array.isArray(error.details) ? error.details : [] } };
      });
    }, function () {
      return { ok: false, status: 0, data: null, error: { code: "network", message: "", details: [] } };
    });
  }

  /** A refusal in plain words. */
  function explain(result) {
    var e = result.error, m = e.message;
    switch (e.code) {
      case "network": return "Could not reach the server. Check your connection and try again.";
      case "unauthenticated": return "You are signed out. Sign in again, then reload this page.";
      case "forbidden": return "The server refused this request" + (m ? ": " + m : ".");
      case "not_found": return "That key no longer exists, or it belongs to another account. Refresh the list.";
      case "validation_failed": return "Some details need fixing" + (m ? ": " + m : ".");
      case "key_limit_reached": return m || "You already have the maximum number of active keys. Revoke one first.";
      case "conflict": return m || "That key changed in the meantime. Refresh the list and try again.";
      case "rate_limited": return "Too many requests. Wait a moment and try again.";
      case "store_unavailable": return "Keys cannot be loaded or changed right now. Try again in a moment.";
    }
    if (m) return m;
    return result.status ? "Something went wrong (HTTP " + result.status + "). Try again." : "Something went wrong. Try again.";
  }

  function showError(box, result) {
    box.textContent = explain(result);
    if (result.error.code === "unauthenticated" && config.loginUrl) {
      box.appendChild(document.createTextNode(" "));
      box.appendChild(el("a", { href: config.loginUrl, text: "Sign in" }));
    }
    box.hidden = false;
  }
  function clearError(box) { box.hidden = true; box.textContent = ""; }

  // ------------------------------------------------------------------ the table

  function badge(kind, text) { return el("span", { class: "kw-badge kw-badge-" + kind, text: text }); }
  function tags(list, empty) {
    if (!list || list.length === 0) return el("span", { class: "kw-sub", text: empty });
    return el("span", { class: "kw-tags" }, list.map(function (s) {
      return s === "*" ? el("span", { class: "kw-tag", title: "Scope *: every scope", text: "* (full access)" }) : el("span", { class: "kw-tag", text: s });
    }));
  }
  function cell(label, className, children) {
    return el("td", { "data-label": label, class: className || null }, children);
  }

  function expiresNode(key) {
    if (!key.expiresAt) return el("span", { text: "Never" });
    var at = new Date(key.expiresAt);
    var wrap = el("span", null, [timeNode(key.expiresAt, dateFormat.format(at))]);
    if (key.status === "active") wrap.appendChild(el("span", { class: "kw-sub" }, [relativeNode(key.expiresAt)]));
    return wrap;
  }

  function statusNode(key) {
    var node = el("span", null, [badge(key.status, key.status.charAt(0).toUpperCase() + key.status.slice(1))]);
    if (key.status === "active" && key.rotatedTo) node.appendChild(el("span", { class: "kw-sub", text: "Replaced; stops at expiry" }));
    if (key.status === "revoked" && key.revokedAt) node.appendChild(el("span", { class: "kw-sub" }, [relativeNode(key.revokedAt)]));
    return node;
  }

  function actionsNode(key) {
    var box = el("div", { class: "kw-row-actions" });
    if (key.status === "active" && !key.rotatedTo) {
      var rotate = el("button", { type: "button", class: "kw-btn kw-btn-small", "aria-label": "Rotate key " + key.name, text: "Rotate" });
      rotate.addEventListener("click", function () { openRotate(key); });
      box.appendChild(rotate);
    }
    if (key.status !== "revoked") {
      var revoke = el("button", { type: "button", class: "kw-btn kw-btn-small", "aria-label": "Revoke key " + key.name, text: "Revoke" });
      revoke.addEventListener("click", function () { openRevoke(key); });
      box.appendChild(revoke);
    }
    return box;
  }

  function row(key) {
    var nameCell = cell("Name", "kw-cell-name", [el("span", { class: "kw-name", text: key.name }), el("code", { class: "kw-start", title: "The start of the key", text: key.start + "…" })]);
    var projects = key.kind === "project" ? [key.projectId] : key.projects;
    var cells = [nameCell];
    if (config.modes) cells.push(cell("Mode", null, [key.mode ? badge(key.mode === "live" || key.mode === "test" ? key.mode : "other", key.mode) : el("span", { class: "kw-sub", text: "—" })]));
    cells.push(cell("Scopes", null, [key.kind === "project" ? el("span", { class: "kw-sub", text: "Project key" }) : tags(key.scopes, "None")]));
    if (config.projects) cells.push(cell("Projects", null, [tags(projects, "All projects")]));
    cells.push(cell("Created", "kw-nowrap", [timeNode(key.createdAt, dateFormat.format(new Date(key.createdAt)))]));
    cells.push(cell("Expires", "kw-nowrap", [expiresNode(key)]));
    cells.push(cell("Last used", "kw-nowrap kw-last-used", [key.lastUsedAt ? relativeNode(key.lastUsedAt) : el("span", { class: "kw-sub", text: "Never" })]));
    var usage = el("div", null, [el("span", { class: "kw-count", text: numberFormat.format(key.requestCount || 0) }), el("span", { class: "kw-usage" }, [el("span", { class: "kw-sub", text: "…" })])]);
    cells.push(cell("Requests", "kw-requests", [usage]));
    cells.push(cell("Status", "kw-status", [statusNode(key)]));
    cells.push(cell("Actions", "kw-cell-actions", [actionsNode(key)]));
    return el("tr", { "data-key-id": key.id, class: key.status === "active" ? null : "kw-inactive" }, cells);
  }

  // ------------------------------------------------------------------ sparklines

  function sparkline(usage) {
    var w = 100, h = 28, pad = 2, n = usage.length, max = 0, total = 0, peak = null;
    for (var i = 0; i < n; i++) { total += usage[i].count; if (usage[i].count > max) { max = usage[i].count; peak = usage[i]; } }
    var label = plural(total, "request") + " in the last " + plural(n, "day") + (peak ? "; busiest day " + peak.date + " with " + numberFormat.format(peak.count) : "");
    var node = svg("svg", { class: "kw-spark", viewBox: "0 0 " + w + " " + h, width: w, height: h, role: "img", "aria-label": label, focusable: "false" });
    var title = svg("title", {});
    title.textContent = label;
    node.appendChild(title);
    node.appendChild(svg("line", { class: "kw-spark-base", x1: 0, y1: h - 0.5, x2: w, y2: h - 0.5 }));
    if (n === 0) return node;
    var points = [];
    for (var j = 0; j < n; j++) {
      var x = n === 1 ? w / 2 : (j * w) / (n - 1);
      var y = h - pad - (max ? (usage[j].count / max) * (h - 2 * pad) : 0);
      points.push(x.toFixed(1) + "," + y.toFixed(1));
    }
    node.appendChild(svg("polygon", { class: "kw-spark-area", points: "0," + h + " " + points.join(" ") + " " + w + "," + h }));
    node.appendChild(svg("polyline", { class: "kw-spark-line", points: points.join(" ") }));
    var last = points[n - 1].split(",");
    node.appendChild(svg("circle", { class: "kw-spark-dot", cx: last[0], cy: last[1], r: 2 }));
    return node;
  }

  /** Fetches and draws each key's 30-day usage into its row (skipped once a reload replaced the row). */
  function loadSparklines(keys) {
    var queue = [];
    for (var i = 0; i < keys.length; i++) {
      var cellNode = rows.querySelector('tr[data-key-id="' + CSS.escape(keys[i].id) + '"] .kw-usage');
      if (cellNode) queue.push({ id: keys[i].id, cell: cellNode });
    }
    function worker() {
      var job = queue.shift();
      if (!job) return Promise.resolve();
      if (!job.cell.isConnected) return worker();
      return call("GET", "/" + encodeURIComponent(job.id) + "/usage?days=30").then(function (result) {
        if (!job.cell.isConnected) return;
        job.cell.textContent = "";
        if (result.ok && Array.isArray(result.data.usage)) job.cell.appendChild(sparkline(result.data.usage));
        else job.cell.appendChild(el("span", { class: "kw-sub", text: "Unavailable" }));
      }).then(worker);
    }
    return Promise.all([worker(), worker(), worker(), worker()]);
  }

  // ------------------------------------------------------------------ loading the list

  function listQuery(before) {
    var params = new URLSearchParams();
    if (filterMode && filterMode.value) params.set("mode", filterMode.value);
    if (filterStatus.value) params.set("status", filterStatus.value);
    if (before) params.set("before", before);
    return "?" + params.toString();
  }

  function renderEmpty() {
    var empty = $("kw-empty");
    var filtered = (filterMode && filterMode.value) || filterStatus.value;
    empty.textContent = filtered ? "No keys match these filters." : "You have no API keys yet. Create one to get started.";
    empty.hidden = state.keys.length > 0;
  }

  /** After an action re-renders the table, move focus to that key's row (its buttons are gone). */
  function focusRow(id) {
    var tr = rows.querySelector('tr[data-key-id="' + CSS.escape(id) + '"]');
    if (!tr) { createOpen.focus(); return; }
    tr.setAttribute("tabindex", "-1");
    tr.focus();
  }

  function load(append, focusId) {
    var generation = ++state.generation;
    state.loading = true;
    table.setAttribute("aria-busy", "true");
    $("kw-more").disabled = true;
    return call("GET", "/" + listQuery(append ? state.next : null)).then(function (result) {
      if (generation !== state.generation) return;
      state.loading = false;
      $("kw-loading").hidden = true;
      $("kw-more").disabled = false;
      if (!result.ok) {
        showError(alertBox, result);
        if (!append) { rows.textContent = ""; state.keys = []; }
        $("kw-more").hidden = true;
        createOpen.disabled = result.error.code === "unauthenticated";
        table.setAttribute("aria-busy", "false");
        return;
      }
      clearError(alertBox);
      createOpen.disabled = false;
      var page = Array.isArray(result.data.keys) ? result.data.keys : [];
      if (!append) { rows.textContent = ""; state.keys = []; }
      for (var i = 0; i < page.length; i++) { state.keys.push(page[i]); rows.appendChild(row(page[i])); }
      state.next = result.data.next || null;
      $("kw-more").hidden = !state.next;
      renderEmpty();
      announce(plural(state.keys.length, "key") + " shown.");
      if (focusId) focusRow(focusId);
      // The table stays aria-busy until its sparklines are drawn too.
      return loadSparklines(page).then(function () {
        if (generation === state.generation) table.setAttribute("aria-busy", "false");
      });
    });
  }

  // ------------------------------------------------------------------ dialogs

  function openDialog(dialog) { if (!dialog.open) dialog.showModal(); }
  function setBusy(button, busy) { button.disabled = busy; button.setAttribute("aria-busy", busy ? "true" : "false"); }

  var FIELD_ERRORS = { name: "kw-create-name-error", mode: "kw-create-mode-error", scopes: "kw-create-scopes-error", projects: "kw-create-projects-error", expiresIn: "kw-create-expiry-error", expiresAt: "kw-create-expiry-error" };
  var FIELD_INPUTS = { name: "kw-create-name", mode: "kw-create-mode", expiresIn: "kw-create-expiry", expiresAt: "kw-create-expiry" };

  function clearFieldErrors() {
    var boxes = createForm.querySelectorAll(".kw-field-error");
    for (var i = 0; i < boxes.length; i++) { boxes[i].hidden = true; boxes[i].textContent = ""; }
    var invalid = createForm.querySelectorAll("[aria-invalid]");
    for (var j = 0; j < invalid.length; j++) invalid[j].removeAttribute("aria-invalid");
    clearError($("kw-create-error"));
  }

  /** Puts each validation detail next to its field; returns the details no field could take. */
  function showFieldErrors(details) {
    var rest = [], first = null;
    for (var i = 0; i < details.length; i++) {
      var field = String(details[i].path || "").split(".")[0];
      var box = FIELD_ERRORS[field] && $(FIELD_ERRORS[field]);
      if (!box) { rest.push(details[i]); continue; }
      box.textContent = (box.textContent ? box.textContent + " " : "") + sentence(details[i].message);
      box.hidden = false;
      var input = FIELD_INPUTS[field] && $(FIELD_INPUTS[field]);
      if (input) { input.setAttribute("aria-invalid", "true"); if (!first) first = input; }
    }
    if (first) first.focus();
    return rest;
  }
  function sentence(text) { text = String(text || "is not valid"); return text.charAt(0).toUpperCase() + text.slice(1) + (/[.!?]$/.test(text) ? "" : "."); }

  function checked(name) {
    var boxes = createForm.querySelectorAll('input[name="' + name + '"]:checked');
    var out = [];
    for (var i = 0; i < boxes.length; i++) out.push(boxes[i].value);
    return out;
  }

  createOpen.addEventListener("click", function () {
    createForm.reset();
    clearFieldErrors();
    openDialog(createDialog);
    $("kw-create-name").focus();
  });
  $("kw-create-cancel").addEventListener("click", function () { createDialog.close(); });

  createForm.addEventListener("submit", function (event) {
    event.preventDefault();
    clearFieldErrors();
    var name = $("kw-create-name").value.trim();
    if (!name) { showFieldErrors([{ path: "name", message: "Give the key a name" }]); return; }
    var body = { name: name };
    var mode = $("kw-create-mode");
    if (mode) body.mode = mode.value;
    var scopes = checked("scopes");
    if (scopes.length) body.scopes = scopes;
    var projects = checked("projects");
    if (projects.length) body.projects = projects;
    body.expiresIn = expiries[Number($("kw-create-expiry").value)];
    if (body.expiresIn === undefined) body.expiresIn = null;
    var submit = $("kw-create-submit");
    setBusy(submit, true);
    call("POST", "/", body).then(function (result) {
      setBusy(submit, false);
      if (!result.ok) {
        var rest = result.error.code === "validation_failed" ? showFieldErrors(result.error.details) : [result];
        if (rest.length) showError($("kw-create-error"), result);
        return;
      }
      createDialog.close();
      showSecret(result.data.secret, "Key “" + result.data.key.name + "” was created.");
      announce("Key created.");
      load(false);
    });
  });

  function showSecret(secret, note) {
    state.secret = secret;
    secretValue.textContent = secret;
    secretNote.textContent = note;
    copyStatus.textContent = "";
    openDialog(secretDialog);
    $("kw-secret-copy").focus();
  }
  function forgetSecret() {
    state.secret = null;
    secretValue.textContent = "";
    secretNote.textContent = "";
    copyStatus.textContent = "";
  }
  // Wiped synchronously on Done and on Escape ("cancel"); "close" (dispatched later) is the safety net.
  secretDialog.addEventListener("cancel", forgetSecret);
  secretDialog.addEventListener("close", function () {
    forgetSecret();
    createOpen.focus();
  });
  $("kw-secret-done").addEventListener("click", function () { forgetSecret(); secretDialog.close(); });
  $("kw-secret-copy").addEventListener("click", function () {
    if (!state.secret) return;
    var done = function () { copyStatus.textContent = "Copied to the clipboard."; };
    var fallback = function () {
      var range = document.createRange();
      range.selectNodeContents(secretValue);
      var selection = window.getSelection();
      selection.removeAllRanges();
      selection.addRange(range);
      var ok = false;
      try { ok = document.execCommand("copy"); } catch (e) { ok = false; }
      copyStatus.textContent = ok ? "Copied to the clipboard." : "Select the key and copy it by hand.";
    };
    if (navigator.clipboard && navigator.clipboard.writeText) navigator.clipboard.writeText(state.secret).then(done, fallback);
    else fallback();
  });

  function openRotate(key) {
    state.target = key;
    $("kw-rotate-form").reset();
    clearError($("kw-rotate-error"));
    $("kw-rotate-title").textContent = "Rotate “" + key.name + "”";
    openDialog(rotateDialog);
    $("kw-rotate-overlap").focus();
  }
  $("kw-rotate-cancel").addEventListener("click", function () { rotateDialog.close(); });
  $("kw-rotate-form").addEventListener("submit", function (event) {
    event.preventDefault();
    var key = state.target;
    if (!key) return;
    var overlap = $("kw-rotate-now").checked ? 0 : "24h";
    var submit = $("kw-rotate-submit");
    setBusy(submit, true);
    call("POST", "/" + encodeURIComponent(key.id) + "/rotate", { overlap: overlap }).then(function (result) {
      setBusy(submit, false);
      if (!result.ok) { showError($("kw-rotate-error"), result); return; }
      rotateDialog.close();
      var previous = result.data.previous;
      var note = overlap === 0 || !previous || !previous.expiresAt
        ? "The old key (" + key.start + "…) has stopped working."
        : "The old key (" + key.start + "…) keeps working until " + fullFormat.format(new Date(previous.expiresAt)) + ".";
      showSecret(result.data.secret, note);
      announce("Key rotated.");
      load(false);
    });
  });

  function openRevoke(key) {
    state.target = key;
    clearError($("kw-revoke-error"));
    $("kw-revoke-title").textContent = "Revoke “" + key.name + "”?";
    $("kw-revoke-text").textContent = "Programs using " + key.start + "… will be refused at once. This cannot be undone.";
    openDialog(revokeDialog);
    $("kw-revoke-cancel").focus();
  }
  $("kw-revoke-cancel").addEventListener("click", function () { revokeDialog.close(); });
  $("kw-revoke-form").addEventListener("submit", function (event) {
    event.preventDefault();
    var key = state.target;
    if (!key) return;
    var submit = $("kw-revoke-submit");
    setBusy(submit, true);
    call("DELETE", "/" + encodeURIComponent(key.id)).then(function (result) {
      setBusy(submit, false);
      if (!result.ok) { showError($("kw-revoke-error"), result); return; }
      revokeDialog.close();
      announce("Key “" + key.name + "” revoked.");
      load(false, key.id);
    });
  });
  [rotateDialog, revokeDialog].forEach(function (dialog) {
    dialog.addEventListener("close", function () { state.target = null; });
  });

  // ------------------------------------------------------------------ filters and start

  if (filterMode) filterMode.addEventListener("change", function () { load(false); });
  filterStatus.addEventListener("change", function () { load(false); });
  $("kw-refresh").addEventListener("click", function () { load(false); });
  $("kw-more").addEventListener("click", function () { load(true); });
  // Coming back to the tab (e.g. after trying a key elsewhere) shows fresh usage, unless a dialog is open.
  document.addEventListener("visibilitychange", function () {
    if (document.visibilityState === "visible" && !app.querySelector("dialog[open]")) load(false);
  });
  load(false);
})();
`;
