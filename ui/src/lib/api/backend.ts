//! The one module that talks to the desktop shell. Every command the UI uses is a typed function
//! here; errors arrive as `BackendError` with the shell's stable `code`, which callers branch on.
import { invoke } from "@tauri-apps/api/core";
import { listen, type UnlistenFn } from "@tauri-apps/api/event";
import type { CommandError } from "./generated/CommandError";
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

export type {
  CommandError,
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

  settings: () => call<Settings>("get_settings"),
  saveSettings: (settings: Settings) => call<Settings>("save_settings", { settings }),

  /** Copies text; a `secret` is wiped from the clipboard after 60 s if it is still there. */
  copy: (text: string, secret = false) => call<void>("copy_text", { text, secret }),

  onSyncEvent: (handler: (e: SyncEvent) => void): Promise<UnlistenFn> =>
    listen<SyncEvent>(SYNC_EVENT, (e) => handler(e.payload)),
  onSyncLagged: (handler: () => void): Promise<UnlistenFn> => listen(SYNC_LAGGED, () => handler()),
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
