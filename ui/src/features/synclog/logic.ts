//! The sync log's logic, apart from the components so vitest pins it down: the filter and its
//! engine query, matching live events against it, the diff and quirk labels in plain words.
import type { Bucket, EventQuery, SyncEvent } from "../../lib/api/backend";
import { eventQuery } from "../../lib/api/query";
import { clockTime, dateFormat } from "../../lib/format";

export type RangePreset = "15m" | "1h" | "24h" | "7d" | "30d" | "all" | "custom";
export type ResultFilter = "" | "success" | "failure";
/** Whose requests: everyone's, the IdPs' only, or only test syncs and endpoint checks. */
export type SourceFilter = "" | "idp" | "test";

/** What the filter bar holds; saved in the store as is. */
export type LogFilter = {
  range: RangePreset;
  /** For `custom`: datetime-local values ("2026-11-28T14:00"), in local time. */
  from: string;
  to: string;
  operation: string;
  result: ResultFilter;
  idp: string;
  source: SourceFilter;
  text: string;
  /** "Other events for this user/group": one target's events. */
  targetId: string;
  targetName: string;
  /** The audit trail: admin actions in this app only. */
  audit: boolean;
};

export const ADMIN_IDP = "TalkWriter Admin";

export const EMPTY_FILTER: LogFilter = {
  range: "24h",
  from: "",
  to: "",
  operation: "",
  result: "",
  idp: "",
  source: "",
  text: "",
  targetId: "",
  targetName: "",
  audit: false,
};

export const RANGES: ReadonlyArray<{ id: RangePreset; label: string; ms: number }> = [
  { id: "15m", label: "Last 15 minutes", ms: 15 * 60_000 },
  { id: "1h", label: "Last hour", ms: 3_600_000 },
  { id: "24h", label: "Last 24 hours", ms: 86_400_000 },
  { id: "7d", label: "Last 7 days", ms: 7 * 86_400_000 },
  { id: "30d", label: "Last 30 days", ms: 30 * 86_400_000 },
  { id: "all", label: "All time", ms: 0 },
  { id: "custom", label: "Custom range…", ms: 0 },
];

export const OPERATIONS: ReadonlyArray<string> = [
  "Create User",
  "Update User",
  "Deactivate User",
  "Reactivate User",
  "Delete User",
  "Push Group",
  "Update Group",
  "Update Group Members",
  "Add to Group",
  "Remove from Group",
  "Delete Group",
  "Lookup",
  "Test Connection",
  "Discovery",
  "Auth Failure",
  "Access Granted",
  "Access Revoked",
  "Access Suspended",
  "Access Removed",
];

export const IDPS: ReadonlyArray<string> = ["Okta", "Entra ID", "OneLogin", "JumpCloud", "Other"];

export const SOURCES: ReadonlyArray<{ id: SourceFilter; label: string }> = [
  { id: "", label: "All traffic" },
  { id: "idp", label: "IdP traffic only" },
  { id: "test", label: "Test syncs only" },
];

/** A saved filter from an older version keeps what it can. */
export function restoreFilter(saved: unknown): LogFilter {
  if (typeof saved !== "object" || saved === null) return { ...EMPTY_FILTER };
  const out: LogFilter = { ...EMPTY_FILTER };
  for (const k of Object.keys(EMPTY_FILTER) as Array<keyof LogFilter>) {
    const v = (saved as Record<string, unknown>)[k];
    if (typeof v === typeof EMPTY_FILTER[k]) (out as Record<string, unknown>)[k] = v;
  }
  if (!RANGES.some((r) => r.id === out.range)) out.range = EMPTY_FILTER.range;
  if (!SOURCES.some((x) => x.id === out.source)) out.source = EMPTY_FILTER.source;
  return out;
}

/** The instants the filter covers: [since, until], either open. */
export function timeBounds(
  f: LogFilter,
  now: number,
): { since: string | null; until: string | null } {
  if (f.range === "custom") {
    const at = (v: string) =>
      v && !Number.isNaN(Date.parse(v)) ? new Date(v).toISOString() : null;
    return { since: at(f.from), until: at(f.to) };
  }
  const r = RANGES.find((x) => x.id === f.range);
  if (!r || r.ms === 0) return { since: null, until: null };
  return { since: new Date(now - r.ms).toISOString(), until: null };
}

/** The engine query for a filter; `beforeId` pages back. */
export function toQuery(
  f: LogFilter,
  now: number,
  beforeId: number | null,
  limit: number,
): EventQuery {
  const { since, until } = timeBounds(f, now);
  const orNull = (s: string) => (s.trim() === "" ? null : s.trim());
  return eventQuery({
    beforeId,
    since,
    until,
    operation: f.audit ? null : orNull(f.operation),
    result: f.audit ? null : f.result || null,
    idp: f.audit ? ADMIN_IDP : orNull(f.idp),
    simulated: f.audit || f.source === "" ? null : f.source === "test",
    text: orNull(f.text),
    targetId: orNull(f.targetId),
    limit,
  });
}

/**
 * The engine query behind the activity chart: the list's filters over the chart's window. The
 * audit trail lists admin actions, which are not requests; its chart counts every request.
 */
export function chartQuery(f: LogFilter, now: number, since: number, until: number): EventQuery {
  const q = f.audit ? eventQuery({}) : toQuery(f, now, null, 1);
  return {
    ...q,
    since: new Date(since).toISOString(),
    until: new Date(until).toISOString(),
    limit: null,
  };
}

/** What the chart's bars count, when not every request in the range. */
export function chartScope(f: LogFilter): string | null {
  if (f.audit) return "every IdP request in the range";
  return activeFilters(f) > 0 ? "matching the filters" : null;
}

/** How many filters narrow the log (the time range excluded), for "Clear filters (3)". */
export function activeFilters(f: LogFilter): number {
  return [f.operation, f.result, f.idp, f.source, f.text.trim(), f.targetId].filter((v) => v !== "")
    .length;
}

/**
 * Whether a live event belongs in the list the filter shows. Free text is matched against the
 * names the event carries; the engine's index covers more (emails, externalIds), so a page
 * reload may add rows the live tail could not place.
 */
export function matches(e: SyncEvent, f: LogFilter, now: number): boolean {
  const q = toQuery(f, now, null, 1);
  if (q.since && e.time < q.since) return false;
  if (q.until && e.time > q.until) return false;
  if (q.operation && e.operation !== q.operation) return false;
  if (q.idp && e.idp !== q.idp) return false;
  if (q.targetId && e.targetId !== q.targetId) return false;
  if (q.simulated !== null && e.simulated !== q.simulated) return false;
  if (q.result === "success" && e.status >= 400) return false;
  if (q.result === "failure" && e.status < 400) return false;
  if (q.text) {
    const t = q.text.toLowerCase();
    // The path holds what a lookup that found nothing asked for (`userName eq "…"`).
    const hay = [e.targetName, e.targetId, e.detail, e.requestBody, e.path].map((s) =>
      (s ?? "").toLowerCase(),
    );
    if (!hay.some((s) => s.includes(t))) return false;
  }
  return true;
}

/**
 * How long live events wait before the activity chart is drawn again, given what the last
 * drawing cost (ms): once a second, or at most a tenth of the time when a chart is costly.
 */
export function chartRefreshDelay(lastCostMs: number): number {
  return Math.max(1000, Math.round(lastCostMs * 10));
}

/** The activity chart's bucket: minutes up to six hours, hours up to two weeks, days beyond. */
export function bucketFor(since: number, until: number): Bucket {
  const span = until - since;
  if (span <= 6 * 3_600_000) return "minute";
  return span <= 14 * 86_400_000 ? "hour" : "day";
}

export type DiffRow =
  | { kind: "value"; attribute: string; before: string; after: string }
  | { kind: "members"; attribute: string; added: string[]; removed: string[] };

/** A diff value as one line: strings bare, absent as "—", the rest as compact JSON. */
export function diffValue(v: unknown): string {
  if (v === null || v === undefined) return "—";
  if (typeof v === "string") return v === "" ? '""' : v;
  return JSON.stringify(v);
}

/** The engine's diff JSON as rows; bad or empty JSON is no diff. */
export function parseDiff(json: string | null): DiffRow[] {
  if (!json) return [];
  let v: unknown;
  try {
    v = JSON.parse(json);
  } catch {
    return [];
  }
  if (!Array.isArray(v)) return [];
  return v.flatMap((d): DiffRow[] => {
    if (typeof d !== "object" || d === null) return [];
    const r = d as Record<string, unknown>;
    const attribute = String(r.attribute ?? "");
    if ("added" in r || "removed" in r) {
      const list = (x: unknown) => (Array.isArray(x) ? x.map(String) : []);
      return [{ kind: "members", attribute, added: list(r.added), removed: list(r.removed) }];
    }
    return [{ kind: "value", attribute, before: diffValue(r.before), after: diffValue(r.after) }];
  });
}

/** What each quirk label means, for the admin. */
export const QUIRKS: Readonly<Record<string, string>> = {
  "entra-capitalised-op":
    'Entra sent the PATCH operation capitalised ("Replace"); it was read as lower case.',
  "entra-string-boolean":
    'Entra sent a true/false value as text ("False"); it was read as a boolean.',
  "entra-dotted-key-value":
    "Entra sent attribute paths as keys of one replace value; each was applied as its own change.",
  "entra-member-remove-by-value":
    "Entra listed the members to remove in the value; only those were removed.",
  "remove-by-value-list": "The remove listed the values to take out; only those were removed.",
  "entra-manager-string":
    "Entra sent the manager as plain text instead of an object; it was accepted as the id.",
  "entra-value-path-create":
    "Entra updated an email or phone of a type the user lacked; one was added.",
  "entra-extra-schema-urn": "Entra added its own schema URN to the group; it was ignored.",
  "okta-rename-with-id":
    "Okta renamed the group with a replace that repeats its id; members were left as they were.",
  "okta-member-type-defaulted": "Okta added members without a type; they were taken as users.",
  "okta-patch-without-schemas":
    "Okta sent a change without naming the PATCH message schema; it was read as a PATCH.",
  "okta-json-content-type":
    "Okta sent a JSON content type other than application/scim+json; it was accepted.",
  "onelogin-scim1-urn": "OneLogin sent a SCIM 1.1 schema URN; it was read as SCIM 2.0.",
  "read-only-ignored":
    "The request set read-only attributes (id, meta or groups); they were ignored.",
  "member-remove-not-in-group":
    "The request removed a member who was not in the group (already removed, or deleted); nothing to do.",
};

export function parseQuirks(json: string): Array<{ label: string; meaning: string }> {
  let v: unknown;
  try {
    v = JSON.parse(json);
  } catch {
    return [];
  }
  if (!Array.isArray(v)) return [];
  return v.map(String).map((label) => ({
    label,
    meaning: QUIRKS[label] ?? "A known difference from the SCIM standard, handled automatically.",
  }));
}

/** A body as indented JSON; text that is not JSON is shown as it came. */
export function prettyJson(body: string | null): string {
  if (!body) return "";
  try {
    return JSON.stringify(JSON.parse(body), null, 2);
  } catch {
    return body;
  }
}

/** The result column in words: "Success", "Failed", "Denied". Never colour alone. */
export function resultWord(e: SyncEvent): {
  word: string;
  tone: "ok" | "warn" | "bad" | "neutral";
} {
  if (e.method === "ADMIN") return { word: "Admin action", tone: "neutral" };
  if (e.status === 401 || e.status === 403) return { word: "Denied", tone: "bad" };
  if (e.status >= 500) return { word: "Error", tone: "bad" };
  if (e.status >= 400) return { word: "Failed", tone: "warn" };
  return { word: "Success", tone: "ok" };
}

/** How much of a time a row shows, seen from `now`: the clock alone today, the date too on
 *  other days, and the year too in other years. */
export function timeShown(iso: string, now: number): "clock" | "date" | "year" {
  const d = new Date(iso);
  const today = new Date(now);
  if (d.toDateString() === today.toDateString()) return "clock";
  return d.getFullYear() === today.getFullYear() ? "date" : "year";
}

/**
 * A row's time: the clock time today, with the date before it on other days ("Nov 27 14:03:27"),
 * and the year too in other years ("Jan 1, 2025 00:16:39").
 */
export function rowTime(iso: string, now: number): string {
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  const clock = clockTime(iso);
  const shown = timeShown(iso, now);
  if (shown === "clock") return clock;
  const year = shown === "year" ? "numeric" : undefined;
  return `${dateFormat({ month: "short", day: "numeric", year }).format(d)} ${clock}`;
}

/** For an IdP's `userName eq "…"` lookup that found nobody (it names no target), the userName
 *  it asked for: the log shows what was looked for ("ada@example.com · no match") where a
 *  found lookup shows the user. A userName is unique, so no target means no match; other
 *  filters can match several resources, and are left as they are. */
export function askedUserName(e: SyncEvent): string | null {
  if (e.operation !== "Lookup" || e.targetId || e.status >= 400) return null;
  const query = e.path.split("?")[1];
  if (!query) return null;
  let filter: string | null;
  try {
    filter = new URLSearchParams(query).get("filter");
  } catch {
    return null;
  }
  const m = filter?.match(/^\s*userName\s+eq\s+"((?:[^"\\]|\\.)*)"\s*$/i);
  return m?.[1] !== undefined ? m[1].replace(/\\(.)/g, "$1") : null;
}

/** The log's order on screen: newest request first, by the time each was made. The engine pages
 *  by id, and a read's event is written by the log's writer a moment after the request (the
 *  writes around it are written in their own transaction), so a lookup made just before a
 *  create can have the later id: by id it would show after the create it preceded. */
export function newestFirst(a: SyncEvent, b: SyncEvent): number {
  if (a.time !== b.time) return a.time < b.time ? 1 : -1;
  return b.id - a.id;
}

/** `rows` (in [newestFirst] order) with `events` (in any order) put in their places, in one pass:
 *  the first page, live events arriving at the top, and an older page loaded while scrolling
 *  alike, without sorting again the rows already held (ten thousand and more). */
export function mergeNewest(rows: SyncEvent[], events: SyncEvent[]): SyncEvent[] {
  const sorted = [...events].sort(newestFirst);
  const out: SyncEvent[] = [];
  let a = 0;
  let b = 0;
  while (a < rows.length || b < sorted.length) {
    if (b >= sorted.length || (a < rows.length && newestFirst(rows[a]!, sorted[b]!) <= 0))
      out.push(rows[a++]!);
    else out.push(sorted[b++]!);
  }
  return out;
}
