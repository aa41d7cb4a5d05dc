import { describe, expect, it } from "vitest";
import {
  expiryFromDays,
  expiryText,
  idpLabel,
  latency,
  maskToken,
  normalizePublicUrl,
  outcome,
  plural,
  relativeTime,
  statusText,
} from "./format";

const NOW = Date.parse("2026-11-28T12:00:00Z");
const ago = (ms: number) => new Date(NOW - ms).toISOString();

describe("relativeTime", () => {
  it.each([
    [null, "never"],
    ["not a date", "unknown"],
    [ago(2_000), "just now"],
    [ago(12_000), "12 s ago"],
    [ago(5 * 60_000), "5 min ago"],
    [ago(3 * 3_600_000 + 59_000), "3 h ago"],
    [ago(2 * 86_400_000), "2 d ago"],
    [ago(29 * 86_400_000), "29 d ago"],
    [ago(30 * 86_400_000), "1 mo ago"],
    [ago(364 * 86_400_000), "12 mo ago"],
    [ago(2524 * 86_400_000), "6 yr ago"],
    [ago(-500 * 86_400_000), "in 500 d"],
    [ago(-363 * 86_400_000), "in 363 d"],
    [ago(-80_000), "in 1 min"],
    [ago(-(90 * 86_400_000 - 1_000)), "in 90 d"],
    [ago(-1_000), "just now"],
  ])("%s reads as %s", (iso, text) => {
    expect(relativeTime(iso, NOW)).toBe(text);
  });
});

describe("token display", () => {
  it("shows only the prefix, with a fixed-length mask that leaks no length", () => {
    expect(maskToken("twscim_9f3a")).toBe("twscim_9f3a••••••••");
  });

  it.each([
    [{ state: "active", expires: null, revoked: null }, "no expiry"],
    [{ state: "active", expires: ago(-363 * 86_400_000), revoked: null }, "expires in 363 d"],
    [{ state: "expired", expires: ago(2 * 86_400_000), revoked: null }, "expired 2 d ago"],
    [{ state: "revoked", expires: null, revoked: ago(5 * 60_000) }, "revoked 5 min ago"],
  ])("expiry of %j reads as %s", (t, text) => {
    expect(expiryText(t, NOW)).toBe(text);
  });

  it("turns an expiry choice into an instant, or none", () => {
    expect(expiryFromDays(null, NOW)).toBeNull();
    expect(expiryFromDays(90, NOW)).toBe("2027-02-26T12:00:00.000Z");
  });
});

describe("normalizePublicUrl", () => {
  it("appends the SCIM base path to a bare origin, since the IdP needs the endpoint", () => {
    expect(normalizePublicUrl(" https://scim.example.com/ ", "/scim/v2")).toEqual({
      ok: true,
      url: "https://scim.example.com/scim/v2",
    });
  });
  it("keeps a URL that already has a path", () => {
    expect(normalizePublicUrl("https://t.example.com/tw/scim/v2/", "/scim/v2")).toEqual({
      ok: true,
      url: "https://t.example.com/tw/scim/v2",
    });
  });
  it("clears the public URL on empty input", () => {
    expect(normalizePublicUrl("   ", "/scim/v2")).toEqual({ ok: true, url: null });
  });
  it.each(["scim.example.com", "ftp://scim.example.com", "https://"])("refuses %s", (bad) => {
    expect(normalizePublicUrl(bad, "/scim/v2").ok).toBe(false);
  });
});

describe("sync-log words", () => {
  it("groups statuses the way an admin reads them", () => {
    expect([200, 201, 401, 403, 409, 500].map(outcome)).toEqual([
      "ok",
      "ok",
      "auth",
      "auth",
      "client",
      "server",
    ]);
  });
  it("names common statuses and keeps unknown ones as numbers", () => {
    expect(statusText(201)).toBe("201 Created");
    expect(statusText(418)).toBe("418");
  });
  it("formats latency for tables", () => {
    expect(latency(3.14159)).toBe("3.1 ms");
    expect(latency(123.4)).toBe("123 ms");
    expect(latency(1234)).toBe("1.2 s");
  });
  it("names an unrecognised IdP in words", () => {
    expect(idpLabel("Okta")).toBe("Okta");
    expect(idpLabel("Other")).toBe("an unrecognised client");
  });
  it("pluralises counts", () => {
    expect(plural(0, "error")).toBe("0 errors");
    expect(plural(1, "error")).toBe("1 error");
  });
});
