//! The Test sync tab's commands for `vite --mode mock`: a run that reports progress and ends with
//! one failure (or is cancelled, cleaning up if asked), a checker with two failing checks, and a test connection with a certificate.
import type { CheckInfo } from "../../lib/api/generated/CheckInfo";
import type { CheckReport } from "../../lib/api/generated/CheckReport";
import type { ConnectionReport } from "../../lib/api/generated/ConnectionReport";
import type { Exchange } from "../../lib/api/generated/Exchange";
import type { Profile } from "../../lib/api/generated/Profile";
import type { SimReport } from "../../lib/api/generated/SimReport";

type Emit = (event: string, payload: unknown) => Promise<void>;

const CATALOG: CheckInfo[] = [
  ["auth.missing-token-401", "a request without a token is refused with 401"],
  ["auth.wrong-token-401", "a request with a wrong token is refused with 401"],
  [
    "discovery.service-provider-config",
    "GET /ServiceProviderConfig says PATCH and filters are supported",
  ],
  ["discovery.resource-types", "GET /ResourceTypes lists User and Group"],
  ["discovery.schemas", "GET /Schemas holds the core User and Group schemas"],
  ["crud.create-user", "POST /Users answers 201 with an id and the userName sent"],
  ["crud.get-user", "GET /Users/{id} returns the user"],
  ["crud.replace-user", "PUT /Users/{id} replaces: omitted attributes are cleared"],
  ["crud.patch-user", "PATCH /Users/{id} with a path replaces that attribute"],
  ["errors.uniqueness-409", "a duplicate userName, differently cased, is 409 uniqueness"],
  ["errors.not-found-404", "GET and PUT of an unknown id are 404 with a SCIM error body"],
  ["errors.invalid-filter-400", "an unparseable filter is 400 invalidFilter"],
  [
    "filter.username-case-insensitive",
    "userName eq matches without regard to case (RFC 7643 §4.1.1)",
  ],
  ["filter.external-id", "externalId eq finds exactly one user"],
  ["filter.no-match-empty-list", "a filter matching nothing is 200 with totalResults 0"],
  ["paging.integers", "totalResults, itemsPerPage and startIndex are JSON integers"],
  ["paging.total-results", "totalResults counts every match, not the page"],
  ["paging.stable-order", "startIndex/count pages are stable and together hold every user once"],
  ["cleanup", "everything the checks created is deleted again"],
].map(([name, description]) => ({ name: name!, description: description! }));

const delay = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Set by `cancel_test_sync` while a run goes, as the shell's stop flag is. */
let running: { stopped: boolean } | null = null;

function exchange(method: string, url: string, status: number, body: unknown): Exchange {
  return {
    method,
    url,
    contentType: method === "GET" ? null : "application/scim+json",
    requestBody:
      method === "GET" ? null : { schemas: ["urn:ietf:params:scim:schemas:core:2.0:User"] },
    status,
    responseBody: body as Exchange["responseBody"],
    error: null,
    latencyMs: 4.2,
  };
}

export async function handleTestSync(
  cmd: string,
  args: Record<string, unknown>,
  emit: Emit | null,
): Promise<unknown> {
  const url = (args.url as string | null) ?? "http://127.0.0.1:8787/scim/v2";
  switch (cmd) {
    case "endpoint_checks":
      return CATALOG;
    case "cancel_test_sync":
      if (running) running.stopped = true;
      return running !== null;
    case "run_test_sync": {
      const users = Number(args.users);
      const groups = Number(args.groups);
      const total = users * 6 + groups * 4;
      const run = (running = { stopped: false });
      let done = 0;
      try {
        for (; done < total && !run.stopped; done += Math.max(1, Math.floor(total / 40))) {
          await emit?.("test-sync-progress", { done, total });
          await delay(60);
        }
      } finally {
        running = null;
      }
      // A cancelled run reports what it did before the cancel (and removed, with clean-up).
      const created = run.stopped ? Math.min(users, Math.floor(done / 2)) : users + groups;
      const cleanedUp = run.stopped && args.cleanup ? created : 0;
      if (!run.stopped) await emit?.("test-sync-progress", { done: total, total });
      const report: SimReport = {
        profile: args.profile as Profile,
        baseUrl: url,
        runId: "3f9a01c2",
        users,
        groups,
        created,
        updated: run.stopped ? 0 : Math.ceil(users * 0.8) + groups,
        deactivated: run.stopped ? 0 : Math.ceil(users / 10),
        deleted:
          run.stopped || args.profile === "okta" || args.profile === "okta-put"
            ? 0
            : Math.ceil(users / 20),
        failed: run.stopped ? 0 : 1,
        verified: run.stopped ? 0 : users + groups - 1,
        requests: run.stopped ? done + cleanedUp : total,
        durationMs: run.stopped ? 1240 : 3140,
        aborted: null,
        cancelled: run.stopped,
        steps: total,
        stepsDone: run.stopped ? done : total,
        cleanedUp,
        failures: run.stopped
          ? []
          : [
              {
                step: "Update Group Sales 3f9a01c2",
                reason: "members were lost: 4 expected, 0 found",
                exchange: exchange("PATCH", `${url}/Groups/7a1e`, 200, { members: [] }),
              },
            ],
        directory: {
          userDomain: "sim-3f9a01c2.example.com",
          activeUsers: run.stopped ? created : users - 5,
          inactiveUsers: run.stopped ? 0 : 5,
          deletedUsers: 0,
          groups: [],
          deletedGroups: 0,
        },
      };
      return report;
    }
    case "check_endpoint": {
      await delay(900);
      const failing = new Set(["filter.username-case-insensitive", "paging.integers"]);
      const report: CheckReport = {
        baseUrl: url,
        runId: "c0ffee01",
        passed: CATALOG.length - failing.size,
        failed: failing.size,
        durationMs: 1280,
        checks: CATALOG.map((c) => ({
          ...c,
          passed: !failing.has(c.name),
          detail: failing.has(c.name) ? "expected 1 match, found 0" : null,
          exchange: failing.has(c.name)
            ? exchange("GET", `${url}/Users?filter=userName%20eq%20%22ADA%40x%22`, 200, {
                totalResults: "0",
                Resources: [],
              })
            : null,
          latencyMs: 3 + Math.random() * 10,
        })),
      };
      return report;
    }
    case "test_endpoint_connection": {
      await delay(300);
      const https = url.startsWith("https://");
      const report: ConnectionReport = {
        ok: true,
        message: "Connected: the endpoint answered an empty list",
        latencyMs: https ? 182.4 : 3.1,
        certificate: https
          ? {
              subject: "CN=scim.acme-talk.example",
              issuer: "CN=R11, O=Let's Encrypt, C=US",
              dnsNames: ["scim.acme-talk.example"],
              notBefore: new Date(Date.now() - 60 * 86400_000).toISOString(),
              notAfter: new Date(Date.now() + 24 * 86400_000).toISOString(),
              daysLeft: 24,
              trusted: true,
            }
          : null,
        exchange: exchange("GET", `${url}/Users?filter=userName+eq+%22x%22`, 200, {
          totalResults: 0,
        }),
      };
      return report;
    }
    default:
      return undefined;
  }
}
