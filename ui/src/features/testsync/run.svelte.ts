//! The test sync and the endpoint check outlive the tab: a run keeps going (and its progress
//! keeps arriving) while the admin looks at the sync log, and its report is still here on return.
import { backend, toBackendError, type BackendError } from "../../lib/api/backend";
import type { CheckInfo } from "../../lib/api/generated/CheckInfo";
import type { CheckReport } from "../../lib/api/generated/CheckReport";
import type { ConnectionReport } from "../../lib/api/generated/ConnectionReport";
import type { Profile } from "../../lib/api/generated/Profile";
import type { SimReport } from "../../lib/api/generated/SimReport";
import { app } from "../../lib/state.svelte";
import { DEFAULT_GROUPS, DEFAULT_USERS } from "./logic";

class TestSync {
  profile = $state<Profile>("okta");
  users = $state(DEFAULT_USERS);
  groups = $state(DEFAULT_GROUPS);
  cleanup = $state(false);

  running = $state(false);
  /** Cancel was asked for; the run stops before its next step, then cleans up if asked to. */
  cancelling = $state(false);
  progress = $state({ done: 0, total: 0 });
  /** What the current or last run was asked for, for the progress and summary headings. */
  ran = $state<{ profile: Profile; users: number; groups: number; cleanup: boolean } | null>(null);
  report = $state<SimReport | null>(null);
  error = $state<BackendError | null>(null);

  async run(): Promise<void> {
    if (this.running) return;
    this.running = true;
    this.error = null;
    this.report = null;
    this.progress = { done: 0, total: 0 };
    this.ran = {
      profile: this.profile,
      users: this.users,
      groups: this.groups,
      cleanup: this.cleanup,
    };
    const unlisten = await backend.onTestSyncProgress((p) => {
      if (this.running) this.progress = p;
    });
    try {
      this.report = await backend.runTestSync(this.profile, this.users, this.groups, this.cleanup);
    } catch (e) {
      this.error = toBackendError(e);
    } finally {
      this.running = false;
      this.cancelling = false;
      unlisten();
      // The run token was created and revoked, and users and groups arrived.
      void app.refreshTokens();
      void app.refreshStatus();
    }
  }

  /** Stops the run before its next step; its report then says it was cancelled. */
  async cancel(): Promise<void> {
    if (!this.running || this.cancelling) return;
    this.cancelling = true;
    try {
      await backend.cancelTestSync();
    } catch (e) {
      this.cancelling = false;
      app.notify(`Could not cancel the test sync: ${toBackendError(e).message}`, "bad");
    }
  }
}

class EndpointCheck {
  catalog = $state<CheckInfo[]>([]);
  url = $state("");
  running = $state<"check" | "connection" | null>(null);
  report = $state<CheckReport | null>(null);
  connection = $state<ConnectionReport | null>(null);
  error = $state<BackendError | null>(null);

  async loadCatalog(): Promise<void> {
    if (this.catalog.length) return;
    try {
      this.catalog = await backend.endpointChecks();
    } catch (e) {
      this.error = toBackendError(e);
    }
  }

  /** An empty URL or token means the embedded server and a run token. */
  async check(url: string, token: string): Promise<void> {
    if (this.running) return;
    this.running = "check";
    this.error = null;
    this.report = null;
    try {
      this.report = await backend.checkEndpoint(url.trim() || null, token.trim() || null);
    } catch (e) {
      this.error = toBackendError(e);
    } finally {
      this.running = null;
      void app.refreshTokens();
    }
  }

  async testConnection(url: string, token: string): Promise<void> {
    if (this.running) return;
    this.running = "connection";
    this.error = null;
    this.connection = null;
    try {
      this.connection = await backend.testConnection(url.trim() || null, token.trim() || null);
    } catch (e) {
      this.error = toBackendError(e);
    } finally {
      this.running = null;
      void app.refreshTokens();
    }
  }
}

export const testSync = new TestSync();
export const endpointCheck = new EndpointCheck();
