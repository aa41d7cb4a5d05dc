//! Formatting helpers shared by every screen. Pure functions of their inputs (time is passed in),
//! so the unit tests can pin them down.

const SECOND = 1000;
const MINUTE = 60 * SECOND;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

/** "just now", "12 s ago", "5 min ago", "3 h ago", "2 d ago", "4 mo ago", "6 yr ago"; "in 363 d"
 *  for the future, where a token's expiry is counted in days. */
export function relativeTime(iso: string | null | undefined, now: number): string {
  if (!iso) return "never";
  const t = Date.parse(iso);
  if (Number.isNaN(t)) return "unknown";
  const diff = now - t;
  const future = diff < 0;
  const abs = Math.abs(diff);
  // Within a few seconds either way reads as now: the engine's and the window's clocks and
  // rounding differ by milliseconds.
  if (abs < 5 * SECOND) return "just now";
  // The past rounds down ("2 d ago" until 3 full days); the future to the nearest unit, so a
  // 90-day token created a second ago "expires in 90 d".
  const count = (unit: number) => (future ? Math.round(abs / unit) : Math.floor(abs / unit));
  let text: string;
  if (abs < MINUTE) text = `${count(SECOND)} s`;
  else if (abs < HOUR) text = `${count(MINUTE)} min`;
  else if (abs < DAY) text = `${count(HOUR)} h`;
  // Thousands of days say little: an old past reads in months, then years (30- and 365-day ones).
  else if (future || abs < 30 * DAY) text = `${count(DAY)} d`;
  else if (abs < 365 * DAY) text = `${count(30 * DAY)} mo`;
  else text = `${count(365 * DAY)} yr`;
  return future ? `in ${text}` : `${text} ago`;
}

const formats = new Map<string, Intl.DateTimeFormat>();

/** The local date format for `options`, made once. `toLocaleString` and its kin build a new
 *  formatter at every call, which costs far more than formatting with one, and the sync log
 *  formats three dates for each row it draws (about 40 at a time). A formatter keeps the time
 *  zone it was made in: after the system's zone changes, the app shows the new one on its next
 *  start. */
export function dateFormat(options: Intl.DateTimeFormatOptions): Intl.DateTimeFormat {
  const key = JSON.stringify(options);
  let format = formats.get(key);
  if (!format) {
    format = new Intl.DateTimeFormat(undefined, options);
    formats.set(key, format);
  }
  return format;
}

/** What `toLocaleTimeString(undefined, { hour12: false })` shows: "14:03:27". */
const CLOCK: Intl.DateTimeFormatOptions = {
  hour: "numeric",
  minute: "numeric",
  second: "numeric",
  hour12: false,
};

/** A full local date and time, for tooltips and detail views. */
export function absoluteTime(iso: string | null | undefined): string {
  if (!iso) return "";
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  return dateFormat({
    year: "numeric",
    month: "short",
    day: "numeric",
    hour: "2-digit",
    minute: "2-digit",
    second: "2-digit",
  }).format(d);
}

/** A short clock time for dense tables: "14:03:27". */
export function clockTime(iso: string): string {
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  return dateFormat(CLOCK).format(d);
}

/** The only part of a token ever shown after creation: its prefix, then a fixed mask. */
export function maskToken(prefix: string): string {
  return `${prefix}${"•".repeat(8)}`;
}

export type TokenLike = {
  state: string;
  expires: string | null;
  revoked: string | null;
};

/** What the expiry column says: "no expiry", "expires in 363 d", "expired 2 d ago", "revoked 5 min ago". */
export function expiryText(t: TokenLike, now: number): string {
  if (t.state === "revoked" || t.revoked) return `revoked ${relativeTime(t.revoked, now)}`;
  if (!t.expires) return "no expiry";
  const when = Date.parse(t.expires);
  if (when <= now) return `expired ${relativeTime(t.expires, now)}`;
  return `expires ${relativeTime(t.expires, now)}`;
}

/** Latency as people read it: "8 ms", "1.2 s". */
export function latency(ms: number): string {
  if (ms < 10) return `${ms.toFixed(1)} ms`;
  if (ms < 1000) return `${Math.round(ms)} ms`;
  return `${(ms / 1000).toFixed(1)} s`;
}

export type Outcome = "ok" | "client" | "auth" | "server";

/** Groups an HTTP status the way an admin reads a sync log. */
export function outcome(status: number): Outcome {
  if (status === 401 || status === 403) return "auth";
  if (status >= 500) return "server";
  if (status >= 400) return "client";
  return "ok";
}

const REASONS: Record<number, string> = {
  200: "OK",
  201: "Created",
  204: "No Content",
  400: "Bad Request",
  401: "Unauthorized",
  403: "Forbidden",
  404: "Not Found",
  409: "Conflict",
  412: "Precondition Failed",
  413: "Payload Too Large",
  429: "Too Many Requests",
  500: "Server Error",
  501: "Not Implemented",
  503: "Unavailable",
};

/** "201 Created" */
export function statusText(status: number): string {
  const reason = REASONS[status];
  return reason ? `${status} ${reason}` : String(status);
}

/** Grace periods offered when rotating a token, in seconds. */
export const GRACE_PERIODS: ReadonlyArray<{ secs: number; label: string }> = [
  { secs: 0, label: "Immediately" },
  { secs: 3600, label: "1 hour" },
  { secs: 86400, label: "24 hours" },
  { secs: 7 * 86400, label: "7 days" },
];

/** Expiry choices for a new token, in days (null: no expiry). */
export const EXPIRY_CHOICES: ReadonlyArray<{ days: number | null; label: string }> = [
  { days: 90, label: "90 days" },
  { days: 365, label: "1 year" },
  { days: 30, label: "30 days" },
  { days: null, label: "No expiry" },
];

/** The expiry instant for a choice of days, as RFC 3339. */
export function expiryFromDays(days: number | null, now: number): string | null {
  return days === null ? null : new Date(now + days * DAY).toISOString();
}

/**
 * Accepts what an admin pastes as the public SCIM URL: http(s) only, trimmed, without a trailing
 * slash. A bare origin ("https://scim.example.com") gets the SCIM base path appended, since the
 * IdP needs the full endpoint. Empty input clears it.
 */
export function normalizePublicUrl(
  input: string,
  basePath: string,
): { ok: true; url: string | null } | { ok: false; reason: string } {
  const trimmed = input.trim();
  if (trimmed === "") return { ok: true, url: null };
  let u: URL;
  try {
    u = new URL(trimmed);
  } catch {
    return { ok: false, reason: "Enter a full URL, starting with https://" };
  }
  if (u.protocol !== "https:" && u.protocol !== "http:") {
    return { ok: false, reason: "Use an http:// or https:// URL" };
  }
  if (!u.hostname) return { ok: false, reason: "The URL needs a host name" };
  const clean = trimmed.replace(/\/+$/, "");
  const bare = u.pathname === "/" || u.pathname === "";
  return { ok: true, url: bare && !u.search ? clean + basePath : clean };
}

/** Counts like "1 user", "3 users". */
export function plural(n: number, one: string, many = `${one}s`): string {
  return `${n.toLocaleString()} ${n === 1 ? one : many}`;
}

/** The engine says "Other" when it cannot tell the IdP; in a sentence that reads as a client. */
export function idpLabel(idp: string): string {
  return idp === "Other" ? "an unrecognised client" : idp;
}
