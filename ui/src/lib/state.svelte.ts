//! The app's shared, reactive state: what the engine last told us, plus a ticking clock so
//! relative times stay fresh. Screens read from here and call `backend` to change things.
import {
  backend,
  BackendError,
  toBackendError,
  type MappingRow,
  type ServerInfo,
  type Settings,
  type Status,
  type SyncEvent,
  type TokenInfo,
} from "./api/backend";
import { eventQuery } from "./api/query";
import { applyTheme } from "./theme";
import type { LogFilter } from "../features/synclog/logic";

export type Page = "overview" | "sso" | "scim" | "settings";
export type ScimTab = "setup" | "mapping" | "synclog" | "directory" | "testsync";

/** A value fetched from the engine: not yet loaded, loaded, or failed. */
export type Loadable<T> =
  { state: "loading" } | { state: "ready"; value: T } | { state: "error"; error: BackendError };

const MAX_EVENTS = 500;

class AppState {
  page = $state<Page>("scim");
  tab = $state<ScimTab>("setup");
  /** Set by another screen to open the sync log on a view of it: one user's or group's
   *  events, one test sync's requests. The sync log applies it over the saved filter. */
  logPreset = $state<Partial<LogFilter> | null>(null);
  now = $state(Date.now());

  status = $state<Loadable<Status>>({ state: "loading" });
  server = $state<Loadable<ServerInfo>>({ state: "loading" });
  tokens = $state<Loadable<TokenInfo[]>>({ state: "loading" });
  mapping = $state<Loadable<MappingRow[]>>({ state: "loading" });
  events = $state<Loadable<SyncEvent[]>>({ state: "loading" });
  settings = $state<Loadable<Settings>>({ state: "loading" });

  /** Settles once what the first screen shows has loaded, whatever each part answered. */
  readonly firstScreenLoaded: Promise<void>;
  private markFirstScreen: () => void = () => {};

  constructor() {
    this.firstScreenLoaded = new Promise((resolve) => (this.markFirstScreen = resolve));
  }

  toast = $state<{ id: number; text: string; tone: "ok" | "bad" } | null>(null);
  private toastId = 0;

  async load(): Promise<void> {
    // The setup screen and the header need these; the mapping and the recent events load
    // alongside for the other tabs.
    const firstScreen = [
      this.refreshStatus(),
      this.refreshServer(),
      this.refreshTokens(),
      this.refreshSettings(),
    ];
    const others = [this.refreshMapping(), this.refreshEvents()];
    void Promise.all(firstScreen).then(this.markFirstScreen);
    await Promise.all([...firstScreen, ...others]);
  }

  private async fetch<T>(get: () => Promise<T>, set: (l: Loadable<T>) => void): Promise<void> {
    try {
      set({ state: "ready", value: await get() });
    } catch (e) {
      set({ state: "error", error: toBackendError(e) });
    }
  }

  refreshStatus = () => this.fetch(backend.status, (l) => (this.status = l));
  refreshServer = () => this.fetch(backend.serverInfo, (l) => (this.server = l));
  refreshTokens = () => this.fetch(backend.listTokens, (l) => (this.tokens = l));
  refreshMapping = () => this.fetch(backend.mapping, (l) => (this.mapping = l));
  refreshEvents = () =>
    this.fetch(
      async () => (await backend.queryEvents(eventQuery({ limit: 200 }))).events,
      (l) => (this.events = l),
    );
  refreshSettings = async () => {
    await this.fetch(backend.settings, (l) => (this.settings = l));
    if (this.settings.state === "ready") applyTheme(this.settings.value.theme);
  };

  /** A live event: prepend it, and refresh what it may have changed. */
  onSyncEvent(e: SyncEvent): void {
    if (this.events.state === "ready" && !this.events.value.some((x) => x.id === e.id)) {
      this.events = { state: "ready", value: [e, ...this.events.value].slice(0, MAX_EVENTS) };
    }
    this.scheduleRefresh();
  }

  private refreshTimer: ReturnType<typeof setTimeout> | null = null;
  /** Bursts of IdP requests collapse into one refresh. */
  private scheduleRefresh(): void {
    if (this.refreshTimer) return;
    this.refreshTimer = setTimeout(() => {
      this.refreshTimer = null;
      void this.refreshStatus();
      void this.refreshTokens();
      void this.refreshMapping();
    }, 250);
  }

  /** Opens the sync log on one test sync's requests (its run id is in each of them). */
  showTestRun(runId: string): void {
    this.logPreset = {
      source: "test",
      text: runId,
      operation: "",
      result: "",
      idp: "",
      targetId: "",
      targetName: "",
      audit: false,
    };
    this.page = "scim";
    this.tab = "synclog";
  }

  /** Opens the sync log on one user's or group's events. */
  showEventsFor(id: string, name: string): void {
    this.logPreset = { targetId: id, targetName: name, audit: false };
    this.page = "scim";
    this.tab = "synclog";
  }

  notify(text: string, tone: "ok" | "bad" = "ok"): void {
    const id = ++this.toastId;
    this.toast = { id, text, tone };
    setTimeout(() => {
      if (this.toast?.id === id) this.toast = null;
    }, 3500);
  }

  /** Copies and confirms it; a secret is cleared from the clipboard after 60 s by the shell. */
  async copy(text: string, what: string, secret = false): Promise<boolean> {
    try {
      await backend.copy(text, secret);
      this.notify(secret ? `${what} copied. The clipboard clears in 60 s.` : `${what} copied`);
      return true;
    } catch (e) {
      this.notify(`Could not copy: ${toBackendError(e).message}`, "bad");
      return false;
    }
  }

  start(): () => void {
    const tick = setInterval(() => (this.now = Date.now()), 1000);
    // Status is also polled slowly, so "last request" stays right if an event was missed.
    const poll = setInterval(() => void this.refreshStatus(), 15_000);
    const unlisten: Array<() => void> = [];
    void backend.onSyncEvent((e) => this.onSyncEvent(e)).then((u) => unlisten.push(u));
    void backend.onSyncLagged(() => void this.refreshEvents()).then((u) => unlisten.push(u));
    void this.load();
    return () => {
      clearInterval(tick);
      clearInterval(poll);
      unlisten.forEach((u) => u());
    };
  }
}

export const app = new AppState();
