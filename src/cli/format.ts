/** Human-readable output of the CLI: a key's details, a key table, usage lines. */
import type { ApiKeyJson } from "../http/key-json.js";
import type { DailyUsage } from "../core/types.js";
import type { LifecycleEvent } from "../keys/events.js";
import type { ScopeUse } from "../keys/scope-usage.js";

const day = (iso: string | null, none = "-") => (iso === null ? none : iso.slice(0, 16).replace("T", " ") + "Z");

/**
 * A multi-line description of one key (no secret, no hash).
 *
 * @example
 * describeKey(key); // "key_…  ci-deploys\n  start:    sk_live_AbCd…\n  …"
 */
export function describeKey(key: ApiKeyJson): string {
  const lines: Array<[string, string]> = [
    ["start", `${key.start}…`],
    ["mode", key.mode ?? "-"],
    ["status", key.status],
    ["kind", key.kind === "project" ? `project (${key.projectId})` : "user"],
    ["scopes", key.kind === "project" ? "(not scope-gated)" : key.scopes.join(", ") || "(none)"],
    ["projects", key.projects.join(", ") || "-"],
    ["allowed IPs", key.allowedIps.join(", ") || "any"],
    ["owner", key.ownerId ?? "-"],
    ["tier", key.tier ?? "-"],
    ["credits", credits(key.credits)],
    ["created", day(key.createdAt)],
    ["expires", day(key.expiresAt, "never")],
    ["revoked", day(key.revokedAt)],
    ["disabled", day(key.disabledAt)],
    ["last used", day(key.lastUsedAt, "never")],
    ["requests", String(key.requestCount)],
  ];
  if (key.rotatedFrom) lines.push(["rotated from", key.rotatedFrom]);
  if (key.rotatedTo) lines.push(["rotated to", key.rotatedTo]);
  return `${key.id}  ${key.name}\n${lines.map(([k, v]) => `  ${(k + ":").padEnd(14)}${v}`).join("\n")}\n`;
}

/** The credits line: the balance, the refill and when it next refills. */
function credits(c: ApiKeyJson["credits"]): string {
  if (c === null) return "-";
  const left = c.remaining === null ? "unknown balance" : `${c.remaining} left`;
  return c.refill === null ? `${left}, no refill` : `${left}, refills to ${c.refill.amount} every ${c.refill.interval} (next ${day(c.refillsAt)})`;
}

/**
 * A table of keys, one per line, with a header.
 *
 * @example
 * keyTable(page.keys); // "ID  NAME  START  MODE  STATUS  SCOPES  EXPIRES  LAST USED\n…"
 */
export function keyTable(keys: ApiKeyJson[]): string {
  const rows = [["ID", "NAME", "START", "MODE", "STATUS", "SCOPES", "EXPIRES", "LAST USED"]];
  for (const k of keys) {
    rows.push([
      k.id,
      k.name,
      k.start,
      k.mode ?? "-",
      k.status,
      k.kind === "project" ? `project:${k.projectId}` : k.scopes.join(",") || "-",
      day(k.expiresAt, "never"),
      day(k.lastUsedAt, "never"),
    ]);
  }
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  return rows.map((r) => r.map((cell, i) => (i === r.length - 1 ? cell : cell.padEnd(widths[i]!))).join("  ")).join("\n") + "\n";
}

/**
 * Usage as `YYYY-MM-DD  count` lines and a total.
 *
 * @example
 * usageLines([{ date: "2026-11-23", count: 4 }]); // "2026-11-23  4\ntotal       4\n"
 */
export function usageLines(usage: DailyUsage[]): string {
  const total = usage.reduce((n, d) => n + d.count, 0);
  return usage.map((d) => `${d.date}  ${d.count}`).join("\n") + `\ntotal       ${total}\n`;
}

/**
 * Lifecycle notices, one per line: type, key id, name, threshold and what it is about.
 *
 * @example
 * noticeLines(report.notices); // "key.expiring     key_…  ci  14d  expires 2026-12-07 12:00Z\n"
 */
export function noticeLines(notices: LifecycleEvent[]): string {
  return notices
    .map((n) => {
      const about =
        n.type === "key.expiring"
          ? `${n.reason === "idle" ? "expires unused" : "expires"} ${day(n.expiresAt.toISOString())}`
          : n.type === "key.idle"
            ? `unused since ${day(n.idleSince.toISOString())}`
            : `${n.used}/${n.limit} requests in ${n.month}`;
      const threshold = n.type === "quota.threshold" ? `${n.threshold}%` : n.threshold;
      return `${n.type.padEnd(16)} ${n.keyId}  ${n.name}  ${threshold}  ${about}\n`;
    })
    .join("");
}

/**
 * `keys scope-usage` output: a line per used scope (count, last use), then the never-used scopes.
 *
 * @example
 * scopeUsageLines([{ scope: "nodes:read", count: 4, lastUsedAt: new Date(0) }], ["nodes:write"]);
 * // "nodes:read  4  last 1970-01-01T00:00:00.000Z\nnever used: nodes:write\n"
 */
export function scopeUsageLines(used: ScopeUse[], unused: string[]): string {
  const width = Math.max(0, ...used.map((u) => u.scope.length));
  const lines = used.map((u) => `${u.scope.padEnd(width)}  ${u.count}${u.lastUsedAt ? `  last ${u.lastUsedAt.toISOString()}` : ""}`);
  if (used.length === 0) lines.push("no scope used");
  lines.push(`never used: ${unused.length ? unused.join(" ") : "none"}`);
  return lines.join("\n") + "\n";
}
