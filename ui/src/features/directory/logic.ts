//! The directory's logic apart from its components: access badges in words, the mapped fields
//! named as the mapping names them, and the page arithmetic.
import type { DirectoryUser, MappingRow } from "../../lib/api/backend";

export type AccessState = "has_access" | "suspended" | "no_access";

/** The badge for an access state: words first, colour second. */
export function accessBadge(state: string): {
  word: string;
  tone: "ok" | "warn" | "bad" | "neutral";
} {
  switch (state) {
    case "has_access":
      return { word: "Has access", tone: "ok" };
    case "suspended":
      return { word: "Suspended", tone: "bad" };
    default:
      return { word: "No access", tone: "neutral" };
  }
}

export const ACCESS_FILTERS: ReadonlyArray<{ id: "" | AccessState; label: string }> = [
  { id: "", label: "All access states" },
  { id: "has_access", label: "Has access" },
  { id: "suspended", label: "Suspended" },
  { id: "no_access", label: "No access" },
];

export const SORTS: ReadonlyArray<{ id: string; label: string; descending: boolean }> = [
  { id: "name", label: "Name A–Z", descending: false },
  { id: "name-desc", label: "Name Z–A", descending: true },
  { id: "lastModified", label: "Recently changed", descending: true },
  { id: "created", label: "Newest", descending: true },
  { id: "created-asc", label: "Oldest", descending: false },
];

/** The engine's sort field for a choice in SORTS. */
export function sortField(id: string): string {
  return id.replace(/-(asc|desc)$/, "");
}

/** The field of a directory user that holds a mapped SCIM attribute. */
const FIELD_OF: Record<string, (u: DirectoryUser) => string | boolean | null> = {
  userName: (u) => u.userName,
  "name.givenName": (u) => u.givenName,
  "name.familyName": (u) => u.familyName,
  active: (u) => u.active,
  displayName: (u) => u.displayName,
  title: (u) => u.title,
  "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department": (u) => u.department,
  externalId: (u) => u.externalId,
};

/** The user's mapped fields, labelled as the attribute mapping labels them. */
export function mappedFields(
  u: DirectoryUser,
  mapping: MappingRow[],
): Array<{ field: string; scim: string; value: string }> {
  return mapping.map((m) => {
    const get = FIELD_OF[m.scimAttribute];
    const v = get ? get(u) : null;
    const value =
      v === null || v === "" ? "—" : typeof v === "boolean" ? (v ? "Active" : "Deactivated") : v;
    return { field: m.field, scim: m.scimAttribute, value };
  });
}

/** "1–50 of 100,000" */
export function pageRange(offset: number, count: number, total: number): string {
  if (total === 0) return "0 of 0";
  return `${(offset + 1).toLocaleString()}–${(offset + count).toLocaleString()} of ${total.toLocaleString()}`;
}

/** A user's name for lists: the display name, else given and family name, else the userName. */
export function displayName(u: DirectoryUser): string {
  const full = [u.givenName, u.familyName].filter(Boolean).join(" ");
  return u.displayName || full || u.userName;
}

/** The reason without a lead that repeats the badge: "No access: not a member…" → "Not a member…". */
export function reasonText(reason: string): string {
  const m = /^(No access|Suspended):\s*(.+)$/.exec(reason);
  if (!m) return reason;
  return m[2]!.charAt(0).toUpperCase() + m[2]!.slice(1);
}
