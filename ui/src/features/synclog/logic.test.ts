import { describe, expect, it } from "vitest";
import type { SyncEvent } from "../../lib/api/backend";
import {
  activeFilters,
  askedUserName,
  bucketFor,
  chartRefreshDelay,
  chartQuery,
  chartScope,
  EMPTY_FILTER,
  matches,
  mergeNewest,
  newestFirst,
  parseDiff,
  parseQuirks,
  prettyJson,
  restoreFilter,
  resultWord,
  rowTime,
  timeShown,
  toQuery,
} from "./logic";

const NOW = Date.parse("2026-11-28T12:00:00Z");

function event(p: Partial<SyncEvent>): SyncEvent {
  return {
    id: 1,
    time: "2026-11-28T11:59:00.000Z",
    method: "POST",
    path: "/scim/v2/Users",
    operation: "Create User",
    resourceType: "User",
    targetId: "u1",
    targetName: "ada@example.com",
    status: 201,
    latencyMs: 3,
    userAgent: "Okta SCIM Client",
    idp: "Okta",
    tokenId: null,
    quirks: "[]",
    requestBody: null,
    responseBody: null,
    detail: null,
    simulated: false,
    diff: null,
    hint: null,
    ...p,
  };
}

describe("toQuery", () => {
  it("turns a preset into a since bound and blank fields into null", () => {
    const q = toQuery({ ...EMPTY_FILTER, range: "1h", operation: "", text: "  " }, NOW, null, 200);
    expect(q.since).toBe("2026-11-28T11:00:00.000Z");
    expect(q.until).toBeNull();
    expect(q.operation).toBeNull();
    expect(q.text).toBeNull();
    expect(q.limit).toBe(200);
  });
  it("pages back with beforeId and keeps the filters", () => {
    const q = toQuery(
      { ...EMPTY_FILTER, range: "all", result: "failure", idp: "Entra ID" },
      NOW,
      42,
      50,
    );
    expect(q).toMatchObject({ beforeId: 42, since: null, result: "failure", idp: "Entra ID" });
  });
  it("the audit trail is the admin's own actions, whatever else is set", () => {
    const q = toQuery(
      { ...EMPTY_FILTER, audit: true, idp: "Okta", operation: "Lookup" },
      NOW,
      null,
      10,
    );
    expect(q.idp).toBe("TalkWriter Admin");
    expect(q.operation).toBeNull();
  });
  it("a custom range uses both bounds", () => {
    const q = toQuery(
      { ...EMPTY_FILTER, range: "custom", from: "2026-11-01T00:00", to: "" },
      NOW,
      null,
      1,
    );
    expect(q.since).not.toBeNull();
    expect(q.until).toBeNull();
  });
});

describe("chartQuery", () => {
  const since = NOW - 3_600_000;
  it("counts what the list shows, over the chart's window, not a page of it", () => {
    const f = {
      ...EMPTY_FILTER,
      range: "all",
      result: "failure",
      idp: "Okta",
      text: "ada@",
    } as const;
    const q = chartQuery(f, NOW, since, NOW);
    expect(q).toMatchObject({
      result: "failure",
      idp: "Okta",
      text: "ada@",
      beforeId: null,
      limit: null,
    });
    expect([q.since, q.until]).toEqual(["2026-11-28T11:00:00.000Z", "2026-11-28T12:00:00.000Z"]);
    expect(chartScope(f)).toBe("matching the filters");
    expect(chartScope({ ...EMPTY_FILTER, range: "1h" })).toBeNull();
  });
  it("the audit trail charts every request, since admin actions are not requests", () => {
    const f = { ...EMPTY_FILTER, audit: true, idp: "Okta" };
    const q = chartQuery(f, NOW, since, NOW);
    expect(q).toMatchObject({ idp: null, operation: null, result: null, text: null });
    expect(chartScope(f)).toBe("every IdP request in the range");
  });
});

describe("source filter", () => {
  it("asks the engine for test syncs only, IdP traffic only, or both", () => {
    const q = (source: "" | "idp" | "test") =>
      toQuery({ ...EMPTY_FILTER, source }, NOW, null, 1).simulated;
    expect([q(""), q("idp"), q("test")]).toEqual([null, false, true]);
    expect(
      toQuery({ ...EMPTY_FILTER, audit: true, source: "test" }, NOW, null, 1).simulated,
    ).toBeNull();
    expect(activeFilters({ ...EMPTY_FILTER, source: "test" })).toBe(1);
    expect(restoreFilter({ source: "bogus" }).source).toBe("");
    expect(restoreFilter({ source: "idp" }).source).toBe("idp");
  });
});

describe("matches (live tail)", () => {
  const f = { ...EMPTY_FILTER, range: "1h" as const };
  it("keeps what the filter shows and drops the rest", () => {
    expect(matches(event({}), f, NOW)).toBe(true);
    expect(matches(event({ time: "2026-11-28T10:00:00.000Z" }), f, NOW)).toBe(false);
    expect(matches(event({}), { ...f, result: "failure" }, NOW)).toBe(false);
    expect(matches(event({ status: 409 }), { ...f, result: "failure" }, NOW)).toBe(true);
    expect(matches(event({}), { ...f, idp: "Entra ID" }, NOW)).toBe(false);
    expect(matches(event({}), { ...f, text: "ADA@" }, NOW)).toBe(true);
    expect(matches(event({}), { ...f, source: "test" }, NOW)).toBe(false);
    expect(matches(event({ simulated: true }), { ...f, source: "test" }, NOW)).toBe(true);
    expect(matches(event({ simulated: true }), { ...f, source: "idp" }, NOW)).toBe(false);
    expect(matches(event({}), { ...f, targetId: "u2" }, NOW)).toBe(false);
    expect(matches(event({}), { ...f, audit: true }, NOW)).toBe(false);
  });
  it("finds a lookup that found nobody by the name it asked for", () => {
    const miss = event({
      method: "GET",
      path: '/scim/v2/Users?filter=userName eq "carol@example.com"',
      operation: "Lookup",
      targetId: null,
      targetName: null,
      status: 200,
    });
    expect(matches(miss, { ...f, text: "Carol@" }, NOW)).toBe(true);
    expect(matches(miss, { ...f, text: "dave@" }, NOW)).toBe(false);
  });
});

describe("filters", () => {
  it("counts active filters, not the range", () => {
    expect(activeFilters(EMPTY_FILTER)).toBe(0);
    expect(activeFilters({ ...EMPTY_FILTER, range: "7d", result: "failure", text: "ada" })).toBe(2);
  });
  it("restores a saved filter and repairs bad fields", () => {
    expect(restoreFilter(null)).toEqual(EMPTY_FILTER);
    const f = restoreFilter({ range: "bogus", idp: "Okta", text: 5 });
    expect(f.range).toBe("24h");
    expect(f.idp).toBe("Okta");
    expect(f.text).toBe("");
  });
  it("redraws the chart once a second, less often when it is costly", () => {
    expect(chartRefreshDelay(0)).toBe(1000);
    expect(chartRefreshDelay(80)).toBe(1000);
    expect(chartRefreshDelay(500)).toBe(5000);
  });
  it("buckets by minute up to six hours, by hour up to two weeks, then by day", () => {
    const h = 3_600_000;
    expect(bucketFor(0, h)).toBe("minute");
    expect(bucketFor(0, 6 * h)).toBe("minute");
    expect(bucketFor(0, 24 * h)).toBe("hour");
    expect(bucketFor(0, 14 * 24 * h)).toBe("hour");
    expect(bucketFor(0, 30 * 24 * h)).toBe("day");
    expect(bucketFor(Date.parse("2020-01-01"), Date.parse("2026-11-29"))).toBe("day");
  });
});

describe("diff rendering", () => {
  it("renders values and membership changes", () => {
    const rows = parseDiff(
      JSON.stringify([
        { attribute: "title", before: null, after: "Engineer" },
        { attribute: "active", before: true, after: false },
        { attribute: "members", added: ["u1"], removed: ["u2", "u3"] },
      ]),
    );
    expect(rows).toEqual([
      { kind: "value", attribute: "title", before: "—", after: "Engineer" },
      { kind: "value", attribute: "active", before: "true", after: "false" },
      { kind: "members", attribute: "members", added: ["u1"], removed: ["u2", "u3"] },
    ]);
  });
  it("treats bad JSON as no diff", () => {
    expect(parseDiff("{")).toEqual([]);
    expect(parseDiff(null)).toEqual([]);
  });
});

describe("formatting", () => {
  it("explains known quirks and unknown ones generically", () => {
    const q = parseQuirks('["entra-string-boolean","new-thing"]');
    expect(q[0]!.meaning).toContain("as text");
    expect(q[1]!.meaning).toContain("handled automatically");
  });
  it("pretty-prints JSON and leaves other text", () => {
    expect(prettyJson('{"a":1}')).toBe('{\n  "a": 1\n}');
    expect(prettyJson("not json")).toBe("not json");
  });
  it("says the result in words", () => {
    expect(resultWord(event({ status: 201 })).word).toBe("Success");
    expect(resultWord(event({ status: 409 })).word).toBe("Failed");
    expect(resultWord(event({ status: 401 })).word).toBe("Denied");
    expect(resultWord(event({ method: "ADMIN" })).word).toBe("Admin action");
  });
});

describe("timeShown", () => {
  it("is the clock today, the date on other days and the year in other years", () => {
    expect(timeShown(new Date(NOW).toISOString(), NOW)).toBe("clock");
    expect(timeShown(new Date(NOW - 3 * 86_400_000).toISOString(), NOW)).toBe("date");
    expect(timeShown("2020-01-01T12:16:39Z", NOW)).toBe("year");
  });
});

describe("rowTime", () => {
  it("shows the date only for other days", () => {
    const today = new Date(NOW).toISOString();
    expect(rowTime(today, NOW)).not.toMatch(/[A-Za-z]/);
    expect(rowTime(new Date(NOW - 3 * 86_400_000).toISOString(), NOW)).toMatch(/[A-Za-z]/);
  });
  it("adds the year only for other years", () => {
    expect(rowTime(new Date(NOW - 3 * 86_400_000).toISOString(), NOW)).not.toMatch(/2026/);
    expect(rowTime("2020-01-01T12:16:39Z", NOW)).toMatch(/2020/);
  });
  it("reads as the browser's own local formatting, from formatters made once", () => {
    const d = new Date("2020-01-01T12:16:39Z");
    const clock = d.toLocaleTimeString(undefined, { hour12: false });
    const day = d.toLocaleDateString(undefined, {
      month: "short",
      day: "numeric",
      year: "numeric",
    });
    expect(rowTime(d.toISOString(), NOW)).toBe(`${day} ${clock}`);
    expect(rowTime(new Date(NOW).toISOString(), NOW)).toBe(
      new Date(NOW).toLocaleTimeString(undefined, { hour12: false }),
    );
  });
});

describe("a lookup that found nobody", () => {
  const lookup = (path: string, p: Partial<SyncEvent> = {}) =>
    event({
      method: "GET",
      path,
      operation: "Lookup",
      targetId: null,
      targetName: null,
      status: 200,
      ...p,
    });

  it("shows the userName it asked for, as Okta and Entra encode it", () => {
    expect(
      askedUserName(lookup("/scim/v2/Users?filter=userName%20eq%20%22ada@example.com%22")),
    ).toBe("ada@example.com");
    expect(
      askedUserName(lookup('/scim/v2/Users?filter=userName+eq+"Ada@Example.com"&startIndex=1')),
    ).toBe("Ada@Example.com");
    expect(askedUserName(lookup("/scim/v2/Users?filter=USERNAME%20EQ%20%22a%5C%22b%22"))).toBe(
      'a"b',
    );
  });

  it("says nothing where the lookup found someone, failed, or could match several", () => {
    const found = lookup("/scim/v2/Users?filter=userName%20eq%20%22ada@example.com%22", {
      targetId: "u1",
    });
    expect(askedUserName(found)).toBeNull();
    const refused = lookup("/scim/v2/Users?filter=userName%20eq%20%22ada@example.com%22", {
      status: 400,
    });
    expect(askedUserName(refused)).toBeNull();
    expect(
      askedUserName(lookup("/scim/v2/Users?filter=emails%20eq%20%22ada@example.com%22")),
    ).toBeNull();
    expect(
      askedUserName(
        lookup("/scim/v2/Users?filter=userName%20eq%20%22a%22%20or%20userName%20eq%20%22b%22"),
      ),
    ).toBeNull();
    expect(askedUserName(lookup("/scim/v2/Users?count=10"))).toBeNull();
    expect(askedUserName(event({}))).toBeNull();
  });
});

describe("the log's order on screen", () => {
  // Okta looked Ada up (logged a moment later, so with a later id), then created her.
  const lookup = event({
    id: 12,
    time: "2026-11-28T11:59:00.100Z",
    operation: "Lookup",
    targetId: null,
  });
  const create = event({ id: 10, time: "2026-11-28T11:59:00.140Z", operation: "Create User" });
  const granted = event({ id: 11, time: "2026-11-28T11:59:00.140Z", operation: "Access Granted" });
  const older = event({ id: 9, time: "2026-11-28T11:58:00.000Z" });

  it("is newest request first, by time, then by id", () => {
    const ops = [older, lookup, create, granted].sort(newestFirst).map((e) => e.id);
    expect(ops).toEqual([11, 10, 12, 9]);
  });

  it("puts live events in their places, a late-written read below the writes it preceded", () => {
    const rows = [granted, create, older];
    const newer = event({ id: 13, time: "2026-11-28T11:59:01.000Z" });
    expect(mergeNewest(rows, [lookup, newer]).map((e) => e.id)).toEqual([13, 11, 10, 12, 9]);
    expect(rows.map((e) => e.id)).toEqual([11, 10, 9]);
  });

  it("merges an older page, a read written after the page's writes moving into place", () => {
    const newer = event({ id: 30, time: "2026-11-28T11:59:05.000Z" });
    const write = event({ id: 8, time: "2026-11-28T11:59:00.120Z" });
    const held = [newer, write, lookup];
    // The page: ids below 8 by the engine's paging, one of them made after the lookup (id 12).
    const page = [
      event({ id: 7, time: "2026-11-28T11:59:00.110Z" }),
      event({ id: 5, time: "2026-11-28T11:50:00.000Z" }),
      event({ id: 6, time: "2026-11-28T11:59:00.050Z" }),
    ];
    expect(mergeNewest(held, page).map((e) => e.id)).toEqual([30, 8, 7, 12, 6, 5]);
    expect(mergeNewest([], page).map((e) => e.id)).toEqual([7, 6, 5]);
    expect(mergeNewest(held, []).map((e) => e.id)).toEqual([30, 8, 12]);
  });
});
