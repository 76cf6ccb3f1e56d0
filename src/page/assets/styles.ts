/**
 * The keys page stylesheet, served as `keys-page.css` from the page's mount path. All classes are
 * prefixed `kw-`; light and dark colour schemes; the table turns into stacked cards on narrow screens.
 */
export const STYLES_CSS = String.raw`
:root {
  color-scheme: light dark;
  --kw-bg: #f6f7f9; --kw-panel: #ffffff; --kw-text: #1d2330; --kw-muted: #5d6677; --kw-border: #dde1e8;
  --kw-accent: #2f5bea; --kw-accent-text: #ffffff; --kw-focus: #2f5bea;
  --kw-danger: #c4302b; --kw-danger-bg: #fdecec; --kw-danger-text: #ffffff; --kw-ok: #18794e; --kw-ok-bg: #e6f6ee;
  --kw-warn: #8a5a00; --kw-warn-bg: #fff4d6; --kw-grey-bg: #eceef2;
  --kw-live: #7a3ff2; --kw-live-bg: #efe8fe; --kw-test: #0f6f8f; --kw-test-bg: #e2f4fa;
  --kw-radius: 8px;
}
@media (prefers-color-scheme: dark) {
  :root {
    --kw-bg: #12151b; --kw-panel: #1a1e26; --kw-text: #e7eaf0; --kw-muted: #9aa3b2; --kw-border: #2e3440;
    --kw-accent: #6d8dff; --kw-accent-text: #0b1020; --kw-focus: #8ea8ff;
    --kw-danger: #ff7b72; --kw-danger-bg: #3a1d1d; --kw-danger-text: #2a0b0b; --kw-ok: #5cd39a; --kw-ok-bg: #15301f;
    --kw-warn: #f2c14e; --kw-warn-bg: #362b10; --kw-grey-bg: #262b35;
    --kw-live: #b79bff; --kw-live-bg: #2c2244; --kw-test: #6fd0ee; --kw-test-bg: #12313b;
  }
}
* { box-sizing: border-box; }
html { -webkit-text-size-adjust: 100%; }
body { margin: 0; background: var(--kw-bg); color: var(--kw-text);
  font: 15px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif; }
.kw { max-width: 1280px; margin: 0 auto; padding: 24px 20px 48px; }
.kw h1 { font-size: 1.6rem; line-height: 1.2; margin: 0 0 4px; }
.kw h2 { font-size: 1.2rem; margin: 0 0 12px; }
.kw code { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; font-size: 0.9em; }
.kw-visually-hidden { position: absolute !important; width: 1px; height: 1px; overflow: hidden; clip: rect(0 0 0 0);
  clip-path: inset(50%); white-space: nowrap; border: 0; padding: 0; margin: -1px; }
.kw-header { display: flex; gap: 16px; align-items: flex-start; justify-content: space-between; flex-wrap: wrap; margin-bottom: 16px; }
.kw-intro, .kw-hint, .kw-choice-hint, .kw-sub { color: var(--kw-muted); }
.kw-intro { margin: 0; }
.kw-hint { font-size: 0.875rem; margin: 4px 0 0; }
[hidden] { display: none !important; }

.kw-btn { font: inherit; font-weight: 600; font-size: 0.9rem; min-height: 36px; padding: 6px 14px; border-radius: 6px; cursor: pointer;
  border: 1px solid var(--kw-border); background: var(--kw-panel); color: var(--kw-text); white-space: nowrap; }
.kw-btn:hover { border-color: var(--kw-muted); }
.kw-btn:disabled { opacity: 0.55; cursor: not-allowed; }
.kw-btn-primary { background: var(--kw-accent); border-color: var(--kw-accent); color: var(--kw-accent-text); }
.kw-btn-primary:hover { filter: brightness(1.08); border-color: var(--kw-accent); }
.kw-btn-danger { background: var(--kw-danger); border-color: var(--kw-danger); color: var(--kw-danger-text); }
.kw-btn-small { min-height: 30px; padding: 3px 10px; font-size: 0.825rem; }
.kw-btn-link { border: 0; background: none; color: var(--kw-accent); padding: 0; min-height: 0; }
.kw :focus-visible { outline: 3px solid var(--kw-focus); outline-offset: 2px; }

.kw-alert { border: 1px solid var(--kw-danger); background: var(--kw-danger-bg); color: var(--kw-text); border-radius: var(--kw-radius);
  padding: 10px 14px; margin: 0 0 16px; }
.kw-alert a { color: inherit; font-weight: 600; }
.kw-warning { border-left: 4px solid var(--kw-warn); background: var(--kw-warn-bg); padding: 10px 14px; border-radius: 4px; margin: 0 0 14px; }

.kw-toolbar { display: flex; gap: 12px; align-items: flex-end; flex-wrap: wrap; margin-bottom: 12px; }
.kw-filter { display: flex; flex-direction: column; gap: 2px; font-size: 0.85rem; color: var(--kw-muted); }
.kw select, .kw input[type="text"], .kw textarea { font: inherit; color: var(--kw-text); background: var(--kw-panel); border: 1px solid var(--kw-border);
  border-radius: 6px; min-height: 36px; padding: 5px 10px; }
.kw select { padding-right: 28px; }

.kw-table-wrap { background: var(--kw-panel); border: 1px solid var(--kw-border); border-radius: var(--kw-radius); overflow-x: auto; }
.kw-table { width: 100%; border-collapse: collapse; font-size: 0.9rem; }
.kw-table th { text-align: left; font-size: 0.75rem; text-transform: uppercase; letter-spacing: 0.04em; color: var(--kw-muted);
  font-weight: 600; padding: 10px 10px; border-bottom: 1px solid var(--kw-border); white-space: nowrap; }
.kw-table td { padding: 10px 10px; border-bottom: 1px solid var(--kw-border); vertical-align: top; }
.kw-table tbody tr:last-child td { border-bottom: 0; }
.kw-table tr.kw-inactive td { color: var(--kw-muted); }
.kw-table tr:focus { outline: 3px solid var(--kw-focus); outline-offset: -3px; }
.kw-name { font-weight: 600; overflow-wrap: anywhere; }
.kw-start { display: block; color: var(--kw-muted); white-space: nowrap; }
.kw-nowrap { white-space: nowrap; }
.kw-th-sub { text-transform: none; letter-spacing: 0; font-weight: 400; }
.kw-count { display: block; font-variant-numeric: tabular-nums; font-weight: 600; }
.kw-usage { display: block; margin-top: 4px; }
.kw-tags { display: flex; flex-wrap: wrap; gap: 4px; }
.kw-tag { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; font-size: 0.775rem; background: var(--kw-grey-bg);
  border-radius: 4px; padding: 1px 6px; white-space: nowrap; }
.kw-badge { display: inline-block; font-size: 0.75rem; font-weight: 700; border-radius: 999px; padding: 2px 9px; white-space: nowrap;
  background: var(--kw-grey-bg); color: var(--kw-muted); }
.kw-badge-live { background: var(--kw-live-bg); color: var(--kw-live); }
.kw-badge-test { background: var(--kw-test-bg); color: var(--kw-test); }
.kw-badge-active { background: var(--kw-ok-bg); color: var(--kw-ok); }
.kw-badge-revoked { background: var(--kw-danger-bg); color: var(--kw-danger); }
.kw-badge-expired { background: var(--kw-grey-bg); color: var(--kw-muted); }
.kw-badge-disabled { background: var(--kw-warn-bg); color: var(--kw-warn); }
.kw-scope-review { display: block; margin-top: 6px; }
.kw-scope-review:empty { display: none; }
.kw-scope-review .kw-btn { margin-top: 4px; }
.kw-tag-unused { background: none; border: 1px dashed var(--kw-muted); color: var(--kw-muted); }
.kw-ips { overflow-wrap: anywhere; }
.kw-sub { display: block; font-size: 0.8rem; }
.kw-row-actions { display: flex; flex-direction: column; gap: 6px; align-items: stretch; }
.kw-cell-actions { width: 1%; }
.kw-spark { display: block; width: 100px; height: 28px; color: var(--kw-accent); overflow: visible; }
.kw-spark-dot { fill: currentColor; }
.kw-spark-area { fill: currentColor; fill-opacity: 0.14; stroke: none; }
.kw-spark-line { fill: none; stroke: currentColor; stroke-width: 1.5; stroke-linejoin: round; stroke-linecap: round; }
.kw-spark-base { stroke: var(--kw-border); stroke-width: 1; }
.kw-empty, .kw-loading { color: var(--kw-muted); text-align: center; padding: 24px 0; margin: 0; }
.kw-more { text-align: center; margin-top: 12px; }

.kw-dialog { width: min(560px, calc(100vw - 24px)); max-height: calc(100vh - 24px); border: 1px solid var(--kw-border);
  border-radius: 12px; padding: 22px; background: var(--kw-panel); color: var(--kw-text); box-shadow: 0 20px 50px rgba(0, 0, 0, 0.25); }
.kw-dialog::backdrop { background: rgba(15, 20, 30, 0.55); }
.kw-field { margin: 0 0 16px; }
.kw-field > label, .kw-field > legend { display: block; font-weight: 600; margin-bottom: 4px; }
.kw-field input[type="text"], .kw-field select, .kw-field textarea { width: 100%; }
.kw textarea { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; font-size: 0.875rem; resize: vertical; }
.kw-field-error { color: var(--kw-danger); font-size: 0.875rem; margin: 4px 0 0; font-weight: 600; }
.kw [aria-invalid="true"] { border-color: var(--kw-danger); }
fieldset.kw-field { border: 0; padding: 0; min-width: 0; }
fieldset.kw-field > legend { padding: 0; }
.kw-choice-list { display: grid; grid-template-columns: repeat(auto-fill, minmax(200px, 1fr)); gap: 6px 14px; margin-top: 6px; }
.kw-choice { display: flex; gap: 8px; align-items: flex-start; margin: 4px 0; }
.kw-choice input { margin: 4px 0 0; width: 16px; height: 16px; flex: none; accent-color: var(--kw-accent); }
.kw-choice-label { display: block; }
.kw-choices .kw-choice-list .kw-choice-label { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; font-size: 0.875rem; }
.kw-choice-hint { display: block; font-size: 0.8rem; }
.kw-actions { display: flex; gap: 8px; justify-content: flex-end; align-items: center; flex-wrap: wrap; margin-top: 18px; }
.kw-secret-box { border: 1px dashed var(--kw-muted); border-radius: var(--kw-radius); background: var(--kw-bg); padding: 12px; }
.kw-secret { display: block; font-size: 0.95rem; overflow-wrap: anywhere; word-break: break-all; user-select: all; }
.kw-copy-status { color: var(--kw-ok); font-weight: 600; margin-right: auto; }

@media (max-width: 760px) {
  .kw { padding: 16px 12px 40px; }
  .kw-header .kw-btn-primary { width: 100%; }
  .kw-table-wrap { background: none; border: 0; overflow: visible; }
  .kw-table, .kw-table tbody, .kw-table tr, .kw-table td { display: block; width: 100%; }
  .kw-table thead { display: none; }
  .kw-table tr { background: var(--kw-panel); border: 1px solid var(--kw-border); border-radius: var(--kw-radius); margin-bottom: 12px; padding: 6px 0; }
  .kw-table td { border: 0; padding: 5px 14px; display: grid; grid-template-columns: 7.5em minmax(0, 1fr); gap: 8px; }
  .kw-table td::before { content: attr(data-label); color: var(--kw-muted); font-size: 0.8rem; font-weight: 600; padding-top: 1px; }
  .kw-table td.kw-cell-name { display: block; font-size: 1rem; padding-top: 8px; }
  .kw-table td.kw-cell-name::before, .kw-table td.kw-cell-actions::before { content: none; }
  .kw-table td.kw-cell-actions { display: block; padding-bottom: 10px; }
  .kw-table td > * { justify-self: start; min-width: 0; }
  .kw-row-actions { flex-direction: row; }
  .kw-row-actions .kw-btn { flex: 1; }
  .kw-actions .kw-btn { flex: 1; }
}
`;
