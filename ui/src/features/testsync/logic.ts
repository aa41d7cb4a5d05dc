//! The Test sync tab's logic, kept out of the components so it can be tested: the IdP profiles
//! offered, the directory size limits, the summary of a run, the checker's rows before, during
//! and after a run, and how an exchange or a certificate reads.
import type { CertificateInfo } from "../../lib/api/generated/CertificateInfo";
import type { CheckInfo } from "../../lib/api/generated/CheckInfo";
import type { CheckReport } from "../../lib/api/generated/CheckReport";
import type { Exchange } from "../../lib/api/generated/Exchange";
import type { Profile } from "../../lib/api/generated/Profile";
import type { SimReport } from "../../lib/api/generated/SimReport";
import type { JsonValue } from "../../lib/api/generated/serde_json/JsonValue";
import { statusText } from "../../lib/format";

/** The IdPs the simulator plays, in the order offered, with what sets each apart. */
export const PROFILES: ReadonlyArray<{ id: Profile; label: string; note: string }> = [
  {
    id: "okta",
    label: "Okta OIN",
    note: "PUT updates, PATCH deactivation, group push with renames. Never deletes users.",
  },
  {
    id: "okta-put",
    label: "Okta custom app (PUT)",
    note: "Everything as PUT, deactivation included. Never deletes users.",
  },
  {
    id: "entra",
    label: "Entra ID",
    note: 'Capitalised ops, "False" as a string, member removal with the members in the value.',
  },
  {
    id: "entra-flag",
    label: "Entra ID with aadOptscim062020",
    note: "Lowercase ops, path-less replace with dotted keys, member removal by filter.",
  },
  {
    id: "onelogin",
    label: "OneLogin",
    note: "Templated payloads with a SCIM 1.1 URN on some, manager as an object, PUT updates.",
  },
  {
    id: "jumpcloud",
    label: "JumpCloud",
    note: "Plain application/json, and its create-add-remove-delete test connection first.",
  },
];

export function profileLabel(id: Profile): string {
  return PROFILES.find((p) => p.id === id)?.label ?? id;
}

export const DEFAULT_USERS = 50;
export const DEFAULT_GROUPS = 5;
export const MAX_USERS = 1000;
export const MAX_GROUPS = 100;

/** Why a directory size cannot run, or null when it can (the shell checks the same bounds). */
export function sizeProblem(users: number, groups: number): string | null {
  if (!Number.isInteger(users) || users < 1 || users > MAX_USERS)
    return `Users: a whole number from 1 to ${MAX_USERS}.`;
  if (!Number.isInteger(groups) || groups < 0 || groups > MAX_GROUPS)
    return `Groups: a whole number from 0 to ${MAX_GROUPS}.`;
  return null;
}

/** 0–100, whole; 0 before the first progress event. */
export function percent(done: number, total: number): number {
  if (total <= 0) return 0;
  return Math.min(100, Math.max(0, Math.floor((done / total) * 100)));
}

export type Tile = {
  key: "created" | "updated" | "deactivated" | "deleted" | "failed";
  label: string;
  value: number;
  tone: "neutral" | "ok" | "bad";
};

/** The counts of a run, in the order an admin reads a sync: joiners, movers, leavers, failures. */
export function summaryTiles(r: SimReport): Tile[] {
  return [
    { key: "created", label: "Created", value: r.created, tone: "neutral" },
    { key: "updated", label: "Updated", value: r.updated, tone: "neutral" },
    { key: "deactivated", label: "Deactivated", value: r.deactivated, tone: "neutral" },
    { key: "deleted", label: "Deleted", value: r.deleted, tone: "neutral" },
    { key: "failed", label: "Failed", value: r.failed, tone: r.failed > 0 ? "bad" : "ok" },
  ];
}

/** The one-line verdict above the counts, with its badge. */
export function verdict(r: SimReport): {
  tone: "ok" | "bad" | "warn";
  label: string;
  text: string;
} {
  if (r.aborted) return { tone: "bad", label: "Failed", text: `Stopped early: ${r.aborted}` };
  if (r.cancelled)
    return {
      tone: "warn",
      label: "Cancelled",
      text: `Cancelled after ${r.stepsDone.toLocaleString()} of ${r.steps.toLocaleString()} steps. The rest of the run was not sent.`,
    };
  if (r.failed > 0)
    return {
      tone: "bad",
      label: "Failed",
      text: `${r.failed} ${r.failed === 1 ? "step" : "steps"} failed. Each failure shows the request and the response.`,
    };
  return {
    tone: "ok",
    label: "Passed",
    text: "Every step succeeded, and every user and group read back as the IdP left it.",
  };
}

function plural(n: number, one: string, many: string): string {
  return `${n} ${n === 1 ? one : many}`;
}

/** What the run left in TalkWriter, as the IdP believes it and the read-back confirmed. */
export function holdsText(r: SimReport): string {
  if (r.cleanedUp > 0 && r.cancelled)
    return `${plural(r.cleanedUp, "test user or group", "test users and groups")} created before the cancel removed again.`;
  if (r.cleanedUp > 0)
    return `${plural(r.cleanedUp, "user or group", "users and groups")} of the run deleted again at the end.`;
  const d = r.directory;
  const groups = plural(d.groups.length, "group", "groups");
  return `TalkWriter now holds ${d.activeUsers} active and ${d.inactiveUsers} deactivated test users, and ${groups}.`;
}

/** "Okta OIN · 50 users, 5 groups" */
export function runLabel(profile: Profile, users: number, groups: number): string {
  const u = `${users} ${users === 1 ? "user" : "users"}`;
  const g = `${groups} ${groups === 1 ? "group" : "groups"}`;
  return `${profileLabel(profile)} · ${u}, ${g}`;
}

export type CheckState = "pending" | "running" | "passed" | "failed";

export type CheckRow = {
  name: string;
  description: string;
  state: CheckState;
  detail: string | null;
  exchange: Exchange | null;
  latencyMs: number | null;
};

/**
 * The checker's list: every known check as pending (or running), then the report's results over
 * it, by name. Checks the report has that the catalog lacks come last, so nothing is hidden.
 */
export function checkRows(
  catalog: CheckInfo[],
  report: CheckReport | null,
  running: boolean,
): CheckRow[] {
  const byName = new Map((report?.checks ?? []).map((c) => [c.name, c]));
  const rows: CheckRow[] = catalog.map((c) => {
    const r = byName.get(c.name);
    byName.delete(c.name);
    if (!r || running)
      return {
        ...c,
        state: running ? "running" : "pending",
        detail: null,
        exchange: null,
        latencyMs: null,
      };
    return {
      name: c.name,
      description: r.description || c.description,
      state: r.passed ? "passed" : "failed",
      detail: r.detail,
      exchange: r.exchange,
      latencyMs: r.latencyMs,
    };
  });
  if (!running)
    for (const r of byName.values())
      rows.push({
        name: r.name,
        description: r.description,
        state: r.passed ? "passed" : "failed",
        detail: r.detail,
        exchange: r.exchange,
        latencyMs: r.latencyMs,
      });
  return rows;
}

/** "auth.wrong-token-401" → "auth" */
export function checkArea(name: string): string {
  const i = name.indexOf(".");
  return i < 0 ? name : name.slice(0, i);
}

function pretty(body: JsonValue | null): string {
  if (body === null || body === undefined) return "";
  if (typeof body === "string") return body;
  return JSON.stringify(body, null, 2);
}

/** An exchange as the two blocks the detail shows: the request, and the response or why none came. */
export function exchangeText(ex: Exchange): { request: string; response: string; status: string } {
  const head = `${ex.method} ${ex.url}`;
  const type = ex.contentType ? `\nContent-Type: ${ex.contentType}` : "";
  const body = pretty(ex.requestBody);
  const request = `${head}${type}${body ? `\n\n${body}` : ""}`;
  const status =
    ex.status !== null ? statusText(ex.status) : `No response${ex.error ? `: ${ex.error}` : ""}`;
  const response = pretty(ex.responseBody);
  return { request, response, status };
}

const DAY = 24 * 60 * 60 * 1000;

/** The certificate facts an admin checks, with a tone: expired or untrusted is bad, < 30 days warns. */
export function certificateFacts(
  c: CertificateInfo,
  now: number,
): { subject: string; expiry: string; tone: "ok" | "warn" | "bad"; trust: string } {
  const until = Date.parse(c.notAfter);
  const days = Math.floor((until - now) / DAY);
  const date = new Date(until).toISOString().slice(0, 10);
  const expiry =
    days < 0
      ? `expired on ${date}`
      : `expires ${date} (${days === 0 ? "today" : `in ${days} ${days === 1 ? "day" : "days"}`})`;
  const tone = days < 0 || !c.trusted ? "bad" : days < 30 ? "warn" : "ok";
  const trust = c.trusted ? c.issuer : `${c.issuer} (not trusted by this computer)`;
  return { subject: c.subject, expiry, tone, trust };
}

/** The test connection's message as a sentence, without the "Connected" the badge already says. */
export function connectionMessage(message: string): string {
  const m = message.replace(/^Connected:\s*/, "");
  return m.charAt(0).toUpperCase() + m.slice(1);
}

/** What to tell the admin for the shell's error codes these commands answer. */
export function errorText(code: string, message: string): string {
  switch (code) {
    case "provisioning_off":
      return "Provisioning is off, so the embedded server refuses every request. Turn it on in Setup first.";
    case "server_not_running":
      return "The embedded SCIM server is not running. Pick another port in Settings and restart the app.";
    case "token_required":
      return "Enter the bearer token this endpoint expects. Only the embedded server can do without one.";
    case "invalid_url":
      return "That is not a SCIM base URL. It starts with http:// or https://, e.g. https://scim.example.com/scim/v2.";
    case "busy":
      return "A test sync is already running. Wait for it to finish, or cancel it.";
    default:
      return message;
  }
}

/** A duration as people read it: "850 ms", "3.2 s", "1 min 5 s". */
export function duration(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)} s`;
  const s = Math.round(ms / 1000);
  return `${Math.floor(s / 60)} min ${s % 60} s`;
}
