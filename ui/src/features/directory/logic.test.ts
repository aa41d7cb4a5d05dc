import { describe, expect, it } from "vitest";
import type { DirectoryUser, MappingRow } from "../../lib/api/backend";
import { accessBadge, displayName, mappedFields, pageRange, reasonText, sortField } from "./logic";

const user: DirectoryUser = {
  id: "u1",
  userName: "ada@example.com",
  externalId: "00u1",
  displayName: null,
  givenName: "Ada",
  familyName: "Lovelace",
  title: null,
  department: "Engineering",
  active: false,
  created: "2026-11-28T10:00:00Z",
  lastModified: "2026-11-28T10:00:00Z",
  adminSuspended: null,
  access: {
    granted: false,
    state: "suspended",
    reason: "Suspended: deactivated in the identity provider",
  },
};

const row = (scimAttribute: string, field: string): MappingRow => ({
  scimAttribute,
  field,
  required: false,
  example: null,
  lastSeen: null,
});

describe("directory", () => {
  it("names access states in words", () => {
    expect(accessBadge("has_access")).toEqual({ word: "Has access", tone: "ok" });
    expect(accessBadge("suspended").word).toBe("Suspended");
    expect(accessBadge("no_access").word).toBe("No access");
  });
  it("labels mapped fields as the mapping does", () => {
    const rows = mappedFields(user, [
      row("userName", "Email address"),
      row("active", "Account status"),
      row("title", "Job title"),
      row("urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department", "Department"),
    ]);
    expect(rows.map((r) => [r.field, r.value])).toEqual([
      ["Email address", "ada@example.com"],
      ["Account status", "Deactivated"],
      ["Job title", "—"],
      ["Department", "Engineering"],
    ]);
  });
  it("drops a reason's lead that repeats the badge", () => {
    expect(reasonText("No access: not a member of a group that grants access")).toBe(
      "Not a member of a group that grants access",
    );
    expect(reasonText("Suspended by an admin: lost laptop")).toBe(
      "Suspended by an admin: lost laptop",
    );
    expect(reasonText("Active; every active provisioned user has access")).toContain("Active;");
  });
  it("pages and names", () => {
    expect(pageRange(0, 50, 100000)).toBe(`1–50 of ${(100000).toLocaleString()}`);
    expect(pageRange(0, 0, 0)).toBe("0 of 0");
    expect(displayName(user)).toBe("Ada Lovelace");
    expect(sortField("name-desc")).toBe("name");
  });
});
