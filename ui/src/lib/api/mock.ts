//! An in-memory stand-in for the engine, used by `vite --mode mock` to work on the UI in a plain
//! browser. `?scenario=fresh` starts like a new install; the default shows a connected Okta.
import type {
  MappingRow,
  NewToken,
  ServerInfo,
  Settings,
  Status,
  SyncEvent,
  TokenInfo,
} from "./backend";
import { handleTestSync } from "../../features/testsync/mock";

type Emit = (event: string, payload: unknown) => Promise<void>;

const MIN = 60_000;

function iso(msAgo: number): string {
  return new Date(Date.now() - msAgo).toISOString();
}

function randomHex(n: number): string {
  let s = "";
  for (let i = 0; i < n; i++) s += Math.floor(Math.random() * 16).toString(16);
  return s;
}

export function createMockEngine() {
  const scenario = new URLSearchParams(location.search).get("scenario") ?? "live";
  const fresh = scenario === "fresh";
  let enabled = !fresh;
  let publicUrl: string | null = fresh ? null : "https://scim.acme-talk.example";
  let nextEvent = 1;
  const tokens: TokenInfo[] = fresh
    ? []
    : [
        {
          id: "tok_1",
          label: "Okta production",
          prefix: "twscim_9f3a",
          created: iso(2 * 24 * 60 * MIN),
          lastUsed: iso(12_000),
          expires: iso(-363 * 24 * 60 * MIN),
          revoked: null,
          state: "active",
        },
        {
          id: "tok_0",
          label: "Pilot",
          prefix: "twscim_41c0",
          created: iso(30 * 24 * 60 * MIN),
          lastUsed: iso(3 * 24 * 60 * MIN),
          expires: null,
          revoked: iso(2 * 24 * 60 * MIN),
          state: "revoked",
        },
      ];
  const events: SyncEvent[] = [];
  const ops = [
    ["POST", "/scim/v2/Users", "Create User", 201, "ada@acme.example"],
    ["PATCH", "/scim/v2/Users/8c1e", "Update User", 200, "grace@acme.example"],
    [
      "GET",
      '/scim/v2/Users?filter=userName eq "linus@acme.example"',
      "Lookup",
      200,
      "linus@acme.example",
    ],
    ["PATCH", "/scim/v2/Groups/77aa", "Add to Group", 204, "Engineering"],
    ["PATCH", "/scim/v2/Users/3b9d", "Deactivate User", 200, "ken@acme.example"],
    ["POST", "/scim/v2/Users", "Create User", 409, "ada@acme.example"],
  ] as const;
  function makeEvent(i: number, msAgo: number): SyncEvent {
    const op = ops[i % ops.length]!;
    return {
      id: nextEvent++,
      time: iso(msAgo),
      method: op[0],
      path: op[1],
      operation: op[2],
      resourceType: op[2].includes("Group") ? "Group" : "User",
      targetId: randomHex(8),
      targetName: op[4],
      status: op[3],
      latencyMs: 3 + Math.random() * 30,
      userAgent: "Okta SCIM Client 1.0.0",
      tokenId: "tok_1",
      requestBody: null,
      responseBody: null,
      simulated: false,
      diff: null,
      hint: op[3] >= 400 ? "userName already exists: check the IdP's matching attribute" : null,
      idp: "Okta",
      quirks: op[3] === 200 && op[0] === "PATCH" ? '["okta-patch-active-string"]' : "[]",
      detail: op[3] === 409 ? "userName already exists" : null,
    };
  }
  if (!fresh) for (let i = 0; i < 24; i++) events.unshift(makeEvent(i, (24 - i) * 7 * MIN));

  const mapping = (): MappingRow[] => {
    const seen = fresh ? null : iso(12_000);
    return [
      ["userName", "Email address", true, "ada@acme.example"],
      ["name.givenName", "First name", true, "Ada"],
      ["name.familyName", "Last name", true, "Lovelace"],
      ["active", "Account status", true, "true"],
      ["displayName", "Display name", false, "Ada Lovelace"],
      ["title", "Job title", false, null],
      [
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department",
        "Department",
        false,
        "Research",
      ],
    ].map(([scimAttribute, field, required, example]) => ({
      scimAttribute: scimAttribute as string,
      field: field as string,
      required: required as boolean,
      example: fresh ? null : (example as string | null),
      lastSeen: fresh || example === null ? null : seen,
    }));
  };

  let settings: Settings = {
    port: 8787,
    bindAddress: "127.0.0.1",
    theme:
      (new URLSearchParams(location.search).get("theme") as Settings["theme"] | null) ?? "system",
    rememberWindowSize: true,
    windowWidth: 1280,
    windowHeight: 800,
    logRetentionDays: 30,
  };

  const status = (): Status => {
    const last = events[0];
    return {
      provisioningEnabled: enabled,
      users: fresh ? 0 : 148,
      groups: fresh ? 0 : 12,
      activeTokens: tokens.filter((t) => t.state === "active").length,
      lastRequest: last ?? null,
      activeUsers: fresh ? 0 : 140,
      requestsLastHour: events.filter((e) => Date.now() - Date.parse(e.time) < 60 * MIN).length,
      errorsLastHour: events.filter(
        (e) => e.status >= 400 && Date.now() - Date.parse(e.time) < 60 * MIN,
      ).length,
      firstAuthenticatedRequest: fresh ? null : iso(2 * 24 * 60 * MIN),
      firstUser: fresh ? null : iso(2 * 24 * 60 * MIN - 5000),
      firstGroup: fresh ? null : iso(2 * 24 * 60 * MIN - 4000),
    };
  };

  const server = (): ServerInfo => ({
    requested: "127.0.0.1:8787",
    listening: "127.0.0.1:8787",
    fallback: false,
    error: null,
    localUrl: "http://127.0.0.1:8787/scim/v2",
    publicUrl: publicUrl,
    basePath: "/scim/v2",
  });

  function newToken(label: string, expires: string | null): NewToken {
    const secret = randomHex(40);
    const info: TokenInfo = {
      id: `tok_${randomHex(6)}`,
      label,
      prefix: `twscim_${secret.slice(0, 4)}`,
      created: new Date().toISOString(),
      lastUsed: null,
      expires,
      revoked: null,
      state: "active",
    };
    tokens.unshift(info);
    return { token: `twscim_${secret}`, info };
  }

  const delay = (ms: number) => new Promise((r) => setTimeout(r, ms));
  let emitter: Emit | null = null;

  return {
    async handle(cmd: string, args: Record<string, unknown>): Promise<unknown> {
      await delay(120);
      switch (cmd) {
        case "get_status":
          return status();
        case "get_server_info":
          return server();
        case "set_provisioning_enabled":
          enabled = Boolean(args.on);
          return status();
        case "set_public_url":
          publicUrl = (args.url as string | null) ?? null;
          return server();
        case "list_tokens":
          return tokens.map((t) => ({ ...t }));
        case "create_token":
          return newToken(String(args.label), (args.expires as string | null) ?? null);
        case "rotate_token": {
          const old = tokens.find((t) => t.id === args.id);
          if (!old) throw { code: "not_found", message: "No such token" };
          const grace = Number(args.graceSecs);
          old.expires = new Date(Date.now() + grace * 1000).toISOString();
          if (grace === 0) old.state = "expired";
          return newToken((args.label as string | null) ?? old.label, null);
        }
        case "revoke_token": {
          const t = tokens.find((t) => t.id === args.id);
          if (!t) throw { code: "not_found", message: "No such token" };
          t.revoked = new Date().toISOString();
          t.state = "revoked";
          return null;
        }
        case "get_mapping":
          return mapping();
        case "query_events":
          return { events: events.slice(0, 200), hasMore: events.length > 200 };
        case "event_activity":
          return [];
        case "event_first_request":
          return events.length ? events[events.length - 1]!.time : null;
        case "export_events":
        case "get_log_filter":
        case "save_log_filter":
        case "user_detail":
        case "group_detail":
          return null;
        case "directory_users":
        case "directory_groups":
          return { total: 0, items: [] };
        case "get_access_rule":
          return { mode: "all", grantingGroups: [] };
        case "preview_access_rule":
        case "set_access_rule":
          return 0;
        case "get_settings":
          return settings;
        case "save_settings":
          settings = args.settings as Settings;
          return settings;
        case "run_test_sync":
        case "cancel_test_sync":
        case "endpoint_checks":
        case "check_endpoint":
        case "test_endpoint_connection":
          return handleTestSync(cmd, args, emitter);
        case "app_painted":
          return performance.now();
        case "copy_text":
          await navigator.clipboard?.writeText(String(args.text)).catch(() => {});
          return null;
        default:
          throw { code: "unknown_command", message: `The mock has no command ${cmd}` };
      }
    },
    start(emit: Emit) {
      emitter = emit;
      if (fresh) return;
      let i = 0;
      setInterval(() => {
        if (!enabled) return;
        const e = makeEvent(i++, 0);
        events.unshift(e);
        void emit("sync-event", e);
      }, 4000);
    },
  };
}
