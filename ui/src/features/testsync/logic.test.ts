import { describe, expect, it } from "vitest";
import type { CheckReport } from "../../lib/api/generated/CheckReport";
import type { Exchange } from "../../lib/api/generated/Exchange";
import type { SimReport } from "../../lib/api/generated/SimReport";
import {
  certificateFacts,
  checkArea,
  checkRows,
  connectionMessage,
  duration,
  errorText,
  holdsText,
  exchangeText,
  percent,
  PROFILES,
  runLabel,
  sizeProblem,
  summaryTiles,
  verdict,
} from "./logic";

const catalog = [
  { name: "auth.missing-token-401", description: "no token is 401" },
  { name: "crud.create-user", description: "POST /Users is 201" },
  { name: "cleanup", description: "deletes what it made" },
];

function report(over: Partial<SimReport> = {}): SimReport {
  return {
    profile: "okta",
    baseUrl: "http://127.0.0.1:8787/scim/v2",
    runId: "ab12cd34",
    users: 10,
    groups: 2,
    created: 12,
    updated: 9,
    deactivated: 2,
    deleted: 0,
    failed: 0,
    verified: 12,
    requests: 80,
    durationMs: 1500,
    aborted: null,
    cancelled: false,
    steps: 60,
    stepsDone: 60,
    cleanedUp: 0,
    failures: [],
    directory: {
      userDomain: "sim-ab12cd34.example.com",
      activeUsers: 8,
      inactiveUsers: 2,
      deletedUsers: 0,
      groups: [],
      deletedGroups: 0,
    },
    ...over,
  };
}

const ex: Exchange = {
  method: "PATCH",
  url: "http://x/scim/v2/Groups/1",
  contentType: "application/scim+json",
  requestBody: { Operations: [{ op: "replace" }] },
  status: 400,
  responseBody: { detail: "bad" },
  error: null,
  latencyMs: 3,
};

describe("profiles", () => {
  it("offers the six IdPs in the order of the issue, with the CLI's ids", () => {
    expect(PROFILES.map((p) => p.id)).toEqual([
      "okta",
      "okta-put",
      "entra",
      "entra-flag",
      "onelogin",
      "jumpcloud",
    ]);
    expect(runLabel("entra-flag", 1, 5)).toBe("Entra ID with aadOptscim062020 · 1 user, 5 groups");
  });
});

describe("sizeProblem", () => {
  it.each([
    [50, 5, null],
    [1, 0, null],
    [1000, 100, null],
    [0, 5, "Users"],
    [1001, 5, "Users"],
    [2.5, 5, "Users"],
    [10, -1, "Groups"],
    [10, 101, "Groups"],
    [NaN, 5, "Users"],
  ])("users %s, groups %s → %s", (u, g, want) => {
    const p = sizeProblem(u, g);
    if (want === null) expect(p).toBeNull();
    else expect(p).toContain(want);
  });
});

describe("percent", () => {
  it.each([
    [0, 0, 0],
    [0, 10, 0],
    [5, 10, 50],
    [2, 3, 66],
    [10, 10, 100],
    [11, 10, 100],
  ])("%s of %s is %s%%", (d, t, want) => expect(percent(d, t)).toBe(want));
});

describe("summary", () => {
  it("lists joiners, movers, leavers and failures in that order", () => {
    const tiles = summaryTiles(report({ failed: 1 }));
    expect(tiles.map((t) => [t.key, t.value])).toEqual([
      ["created", 12],
      ["updated", 9],
      ["deactivated", 2],
      ["deleted", 0],
      ["failed", 1],
    ]);
    expect(tiles[4]!.tone).toBe("bad");
    expect(summaryTiles(report())[4]!.tone).toBe("ok");
  });

  it("says stopped, failed or passed", () => {
    expect(verdict(report()).tone).toBe("ok");
    expect(verdict(report({ failed: 1 })).text).toMatch(/^1 step failed/);
    expect(verdict(report({ failed: 3 })).text).toMatch(/^3 steps failed/);
    const stopped = verdict(report({ failed: 1, aborted: "connection refused" }));
    expect(stopped).toEqual({
      tone: "bad",
      label: "Failed",
      text: "Stopped early: connection refused",
    });
  });

  it("says a cancelled run was cancelled, and after which step", () => {
    const cancelled = verdict(report({ cancelled: true, steps: 3101, stepsDone: 212 }));
    expect(cancelled.tone).toBe("warn");
    expect(cancelled.label).toBe("Cancelled");
    expect(cancelled.text).toBe(
      `Cancelled after 212 of ${(3101).toLocaleString()} steps. The rest of the run was not sent.`,
    );
    const lost = report({ cancelled: true, aborted: "the endpoint stopped answering" });
    expect(verdict(lost).tone).toBe("bad");
  });
});

describe("holdsText", () => {
  it("says what the run left, or that it cleaned up", () => {
    const g = { displayName: "Sales (sim x)", id: "1", members: [] };
    const r = report({ directory: { ...report().directory, groups: [g, g] } });
    expect(holdsText(r)).toBe(
      "TalkWriter now holds 8 active and 2 deactivated test users, and 2 groups.",
    );
    expect(holdsText(report({ cleanedUp: 12 }))).toBe(
      "12 users and groups of the run deleted again at the end.",
    );
    expect(holdsText(report({ cleanedUp: 215, cancelled: true }))).toBe(
      "215 test users and groups created before the cancel removed again.",
    );
  });
});

describe("checkRows", () => {
  const done: CheckReport = {
    baseUrl: "http://x",
    runId: "r",
    passed: 2,
    failed: 1,
    durationMs: 10,
    checks: [
      {
        name: "auth.missing-token-401",
        description: "",
        passed: true,
        detail: null,
        exchange: null,
        latencyMs: 1,
      },
      {
        name: "crud.create-user",
        description: "POST /Users",
        passed: false,
        detail: "got 500",
        exchange: ex,
        latencyMs: 2,
      },
      {
        name: "extra.new-check",
        description: "newer check",
        passed: true,
        detail: null,
        exchange: null,
        latencyMs: 3,
      },
    ],
  };

  it("lists every check as pending before a run, and running during one", () => {
    expect(checkRows(catalog, null, false).map((r) => r.state)).toEqual([
      "pending",
      "pending",
      "pending",
    ]);
    expect(checkRows(catalog, done, true).map((r) => r.state)).toEqual([
      "running",
      "running",
      "running",
    ]);
  });

  it("lays the results over the catalog by name, keeping its description when the report has none", () => {
    const rows = checkRows(catalog, done, false);
    expect(rows.map((r) => [r.name, r.state])).toEqual([
      ["auth.missing-token-401", "passed"],
      ["crud.create-user", "failed"],
      ["cleanup", "pending"],
      ["extra.new-check", "passed"],
    ]);
    expect(rows[0]!.description).toBe("no token is 401");
    expect(rows[1]!.detail).toBe("got 500");
    expect(rows[1]!.exchange).toBe(ex);
  });

  it("names the area of a check", () => {
    expect(checkArea("filter.username-case-insensitive")).toBe("filter");
    expect(checkArea("cleanup")).toBe("cleanup");
  });
});

describe("exchangeText", () => {
  it("shows the request line, content type and pretty body, and the status", () => {
    const t = exchangeText(ex);
    expect(t.request).toBe(
      'PATCH http://x/scim/v2/Groups/1\nContent-Type: application/scim+json\n\n{\n  "Operations": [\n    {\n      "op": "replace"\n    }\n  ]\n}',
    );
    expect(t.status).toBe("400 Bad Request");
    expect(t.response).toContain('"detail": "bad"');
  });

  it("says why no response came, and shows a text body as it is", () => {
    const t = exchangeText({
      ...ex,
      requestBody: null,
      contentType: null,
      status: null,
      responseBody: null,
      error: "connection refused",
    });
    expect(t.request).toBe("PATCH http://x/scim/v2/Groups/1");
    expect(t.status).toBe("No response: connection refused");
    expect(t.response).toBe("");
    expect(exchangeText({ ...ex, responseBody: "<html>oops</html>" }).response).toBe(
      "<html>oops</html>",
    );
  });
});

describe("certificateFacts", () => {
  const now = Date.parse("2026-11-28T12:00:00Z");
  const cert = {
    subject: "CN=scim.example.com",
    issuer: "CN=R11, O=Let's Encrypt",
    dnsNames: ["scim.example.com"],
    notBefore: "2026-09-01T00:00:00Z",
    notAfter: "2027-02-26T12:00:00Z",
    daysLeft: 90,
    trusted: true,
  };

  it("reads the subject and the expiry in days", () => {
    expect(certificateFacts(cert, now)).toEqual({
      subject: "CN=scim.example.com",
      expiry: "expires 2027-02-26 (in 90 days)",
      tone: "ok",
      trust: "CN=R11, O=Let's Encrypt",
    });
  });

  it("warns within 30 days, and is bad once expired or untrusted", () => {
    expect(certificateFacts({ ...cert, notAfter: "2026-12-10T12:00:00Z" }, now).tone).toBe("warn");
    const expired = certificateFacts({ ...cert, notAfter: "2026-11-01T00:00:00Z" }, now);
    expect(expired).toMatchObject({ tone: "bad", expiry: "expired on 2026-11-01" });
    const untrusted = certificateFacts({ ...cert, trusted: false }, now);
    expect(untrusted).toMatchObject({
      tone: "bad",
      trust: "CN=R11, O=Let's Encrypt (not trusted by this computer)",
    });
  });
});

describe("connectionMessage", () => {
  it("drops what the badge says and starts a sentence", () => {
    expect(connectionMessage("Connected: the endpoint answered in 3 ms")).toBe(
      "The endpoint answered in 3 ms",
    );
    expect(connectionMessage("the token was refused (401)")).toBe("The token was refused (401)");
  });
});

describe("errorText", () => {
  it("explains the codes the admin can act on, and passes others through", () => {
    expect(errorText("provisioning_off", "x")).toContain("Turn it on in Setup");
    expect(errorText("token_required", "x")).toContain("bearer token");
    expect(errorText("internal", "the app did not answer")).toBe("the app did not answer");
  });
});

describe("duration", () => {
  it.each([
    [850, "850 ms"],
    [3200, "3.2 s"],
    [65_000, "1 min 5 s"],
  ])("%s ms is %s", (ms, want) => expect(duration(ms)).toBe(want));
});
