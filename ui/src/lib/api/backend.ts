//! The one module that talks to the desktop shell. Every command the UI uses is a typed function
//! here; errors arrive as `BackendError` with the shell's stable `code`, which callers branch on.
import { invoke } from "@tauri-apps/api/core";
import { listen, type UnlistenFn } from "@tauri-apps/api/event";
import type { Access } from "./generated/Access";
import type { AccessRule } from "./generated/AccessRule";
import type { ActivityBucket } from "./generated/ActivityBucket";
import type { CommandError } from "./generated/CommandError";
import type { DirectoryGroup } from "./generated/DirectoryGroup";
import type { DirectoryPage } from "./generated/DirectoryPage";
import type { DirectoryQuery } from "./generated/DirectoryQuery";
import type { DirectoryUser } from "./generated/DirectoryUser";
import type { ExportFormat } from "./generated/ExportFormat";
import type { GroupDetail } from "./generated/GroupDetail";
import type { Lookups } from "./generated/Lookups";
import type { UserDetail } from "./generated/UserDetail";
import type { EventPage } from "./generated/EventPage";
import type { EventQuery } from "./generated/EventQuery";
import type { MappingRow } from "./generated/MappingRow";
import type { NewToken } from "./generated/NewToken";
import type { ServerInfo } from "./generated/ServerInfo";
import type { Settings } from "./generated/Settings";
import type { Status } from "./generated/Status";
import type { SyncEvent } from "./generated/SyncEvent";
import type { Theme } from "./generated/Theme";
import type { TokenInfo } from "./generated/TokenInfo";
import type { CheckInfo } from "./generated/CheckInfo";
import type { CheckReport } from "./generated/CheckReport";
import type { ConnectionReport } from "./generated/ConnectionReport";
import type { Profile } from "./generated/Profile";
import type { SimReport } from "./generated/SimReport";
import type { TestSyncProgress } from "./generated/TestSyncProgress";

/** The activity chart's bar width. */
export type Bucket = "minute" | "hour" | "day";

export type {
  Access,
  AccessRule,
  ActivityBucket,
  CommandError,
  DirectoryGroup,
  DirectoryPage,
  DirectoryQuery,
  DirectoryUser,
  ExportFormat,
  GroupDetail,
  Lookups,
  UserDetail,
  EventPage,
  EventQuery,
  MappingRow,
  NewToken,
  ServerInfo,
  Settings,
  Status,
  SyncEvent,
  Theme,
  TokenInfo,
};

/** A failed command: `code` is stable (e.g. "not_found", "invalid_url"), `message` is for people. */
export class BackendError extends Error {
  readonly code: string;
  constructor(code: string, message: string) {
    super(message);
    this.name = "BackendError";
    this.code = code;
  }
}

export function toBackendError(e: unknown): BackendError {
  if (e instanceof BackendError) return e;
  if (typeof e === "object" && e !== null && "code" in e && "message" in e) {
    const { code, message } = e as CommandError;
    return new BackendError(String(code), String(message));
  }
  return new BackendError("internal", typeof e === "string" ? e : "The app did not answer.");
}

async function call<T>(cmd: string, args?: Record<string, unknown>): Promise<T> {
  try {
    return await invoke<T>(cmd, args);
  } catch (e) {
    throw toBackendError(e);
  }
}

/** The Tauri event carrying each new sync-log entry. */
export const SYNC_EVENT = "sync-event";
/** Sent when the window fell behind the live stream and missed events. */
export const SYNC_LAGGED = "sync-lagged";

export const backend = {
  status: () => call<Status>("get_status"),
  serverInfo: () => call<ServerInfo>("get_server_info"),
  setProvisioningEnabled: (on: boolean) => call<Status>("set_provisioning_enabled", { on }),
  setPublicUrl: (url: string | null) => call<ServerInfo>("set_public_url", { url }),

  listTokens: () => call<TokenInfo[]>("list_tokens"),
  createToken: (label: string, expires: string | null) =>
    call<NewToken>("create_token", { label, expires }),
  rotateToken: (id: string, graceSecs: number, label: string | null) =>
    call<NewToken>("rotate_token", { id, graceSecs, label }),
  revokeToken: (id: string) => call<void>("revoke_token", { id }),

  mapping: () => call<MappingRow[]>("get_mapping"),
  queryEvents: (query: EventQuery) => call<EventPage>("query_events", { query }),
  /** The activity chart: requests per bucket among the events `query` selects. */
  activity: (query: EventQuery, bucket: Bucket) =>
    call<ActivityBucket[]>("event_activity", { query, bucket }),
  /** When the oldest request among the events `query` selects was made (null: none). */
  firstRequest: (query: EventQuery) => call<string | null>("event_first_request", { query }),
  /** Asks for a file with the save dialog; answers the path written, or null if cancelled. */
  exportEvents: (query: EventQuery, format: ExportFormat) =>
    call<string | null>("export_events", { query, format }),
  /** The last sync-log filter, as saved by `saveLogFilter` (null the first time). */
  logFilter: () => call<unknown>("get_log_filter"),
  saveLogFilter: (filter: unknown) => call<void>("save_log_filter", { filter }),

  directoryUsers: (query: DirectoryQuery) =>
    call<DirectoryPage<DirectoryUser>>("directory_users", { query }),
  directoryGroups: (query: DirectoryQuery) =>
    call<DirectoryPage<DirectoryGroup>>("directory_groups", { query }),
  userDetail: (id: string) => call<UserDetail | null>("user_detail", { id }),
  groupDetail: (id: string, offset: number, limit: number) =>
    call<GroupDetail | null>("group_detail", { id, offset, limit }),
  accessRule: () => call<AccessRule>("get_access_rule"),
  /** How many users the rule would change, without applying it. */
  previewAccessRule: (rule: AccessRule) => call<number>("preview_access_rule", { rule }),
  setAccessRule: (rule: AccessRule) => call<number>("set_access_rule", { rule }),
  setAdminSuspension: (userId: string, suspend: boolean, reason: string) =>
    call<Access>("set_admin_suspension", { userId, suspend, reason }),

  settings: () => call<Settings>("get_settings"),
  saveSettings: (settings: Settings) => call<Settings>("save_settings", { settings }),

  /**
   * Tells the shell the first screen is painted, once per start; `pageMs` is the page's clock
   * then. Answers the milliseconds since the process started, which the shell also logs.
   */
  appPainted: (pageMs: number) => call<number>("app_painted", { pageMs }),

  /** Copies text; a `secret` is wiped from the clipboard after 60 s if it is still there. */
  copy: (text: string, secret = false) => call<void>("copy_text", { text, secret }),

  onSyncEvent: (handler: (e: SyncEvent) => void): Promise<UnlistenFn> =>
    listen<SyncEvent>(SYNC_EVENT, (e) => handler(e.payload)),
  onSyncLagged: (handler: () => void): Promise<UnlistenFn> => listen(SYNC_LAGGED, () => handler()),

  /** Plays an IdP against the embedded server with a run token the shell creates and revokes. */
  runTestSync: (profile: Profile, users: number, groups: number, cleanup: boolean) =>
    call<SimReport>("run_test_sync", { profile, users, groups, cleanup }),
  /** Stops the running test sync before its next step; false when none runs. */
  cancelTestSync: () => call<boolean>("cancel_test_sync"),
  onTestSyncProgress: (handler: (p: TestSyncProgress) => void): Promise<UnlistenFn> =>
    listen<TestSyncProgress>("test-sync-progress", (e) => handler(e.payload)),
  endpointChecks: () => call<CheckInfo[]>("endpoint_checks"),
  /** A null URL is the embedded server; a null token there means a run token. */
  checkEndpoint: (url: string | null, token: string | null) =>
    call<CheckReport>("check_endpoint", { url, token }),
  testConnection: (url: string | null, token: string | null) =>
    call<ConnectionReport>("test_endpoint_connection", { url, token }),
};

export type Backend = typeof backend;

/** In `vite --mode mock` the UI runs in a plain browser against an in-memory engine. */
export async function initBackend(): Promise<void> {
  if (import.meta.env.MODE !== "mock") return;
  const [{ mockIPC }, { createMockEngine }] = await Promise.all([
    import("@tauri-apps/api/mocks"),
    import("./mock"),
  ]);
  const engine = createMockEngine();
  mockIPC((cmd, args) => engine.handle(cmd, (args ?? {}) as Record<string, unknown>), {
    shouldMockEvents: true,
  });
  engine.start(async (event, payload) => {
    const { emit } = await import("@tauri-apps/api/event");
    await emit(event, payload);
  });
}
