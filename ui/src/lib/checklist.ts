//! The setup checklist of the help page, derived from what the engine saw rather than from
//! buttons the admin clicked: a step is done when its effect is observable.

export type StepState = "done" | "current" | "todo";

export type StepId = "enable" | "endpoint" | "token" | "paste" | "push" | "test" | "schedule";

export type Step = {
  id: StepId;
  title: string;
  /** Why the step is ticked, or what would tick it. */
  evidence: string;
  state: StepState;
};

export type ChecklistInput = {
  enabled: boolean;
  publicUrl: string | null;
  activeTokens: number;
  firstAuthenticatedRequest: string | null;
  firstUser: string | null;
  firstGroup: string | null;
  lastRequest: string | null;
};

/** A scheduled sync shows itself as IdP traffic well after the first user arrived. */
const SCHEDULE_GAP_MS = 10 * 60 * 1000;

export function deriveChecklist(i: ChecklistInput): Step[] {
  const reached = i.firstAuthenticatedRequest !== null;
  const scheduled =
    i.firstUser !== null &&
    i.lastRequest !== null &&
    Date.parse(i.lastRequest) - Date.parse(i.firstUser) >= SCHEDULE_GAP_MS;

  const raw: Array<Omit<Step, "state"> & { done: boolean }> = [
    {
      id: "enable",
      title: "Enable SCIM provisioning",
      done: i.enabled,
      evidence: i.enabled ? "Provisioning is on" : "Provisioning is off",
    },
    {
      id: "endpoint",
      title: "Copy the SCIM endpoint URL",
      done: reached || i.publicUrl !== null,
      evidence: reached
        ? "Your IdP reached the endpoint"
        : i.publicUrl !== null
          ? "Public URL set"
          : "Set the public URL your IdP can reach",
    },
    {
      id: "token",
      title: "Generate a bearer token",
      // Without an active token no IdP can sync, whatever happened before.
      done: i.activeTokens > 0,
      evidence:
        i.activeTokens > 0
          ? `${i.activeTokens} active token${i.activeTokens === 1 ? "" : "s"}`
          : reached
            ? "No active token: your IdP cannot sync"
            : "No active token yet",
    },
    {
      id: "paste",
      title: "Paste both into your identity provider",
      done: reached,
      evidence: reached
        ? "First authenticated request received"
        : "Waiting for your IdP to connect",
    },
    {
      id: "push",
      title: "Enable Push Users and Push Groups",
      done: i.firstUser !== null || i.firstGroup !== null,
      evidence:
        i.firstUser !== null && i.firstGroup !== null
          ? "Users and groups received"
          : i.firstUser !== null
            ? "Users received; no group pushed yet"
            : i.firstGroup !== null
              ? "Groups received; no user pushed yet"
              : "No user or group pushed yet",
    },
    {
      id: "test",
      title: "Run a test sync",
      done: i.firstUser !== null,
      evidence: i.firstUser !== null ? "First user provisioned" : "Assign a test user in your IdP",
    },
    {
      id: "schedule",
      title: "Turn on automatic sync",
      done: scheduled,
      evidence: scheduled
        ? "Your IdP keeps syncing after the first run"
        : "Ticks when your IdP syncs again after the first run",
    },
  ];

  let currentGiven = false;
  return raw.map(({ done, ...step }) => {
    let state: StepState = "todo";
    if (done) state = "done";
    else if (!currentGiven) {
      state = "current";
      currentGiven = true;
    }
    return { ...step, state };
  });
}

/** "3 of 7 steps done" */
export function progress(steps: Step[]): { done: number; total: number } {
  return { done: steps.filter((s) => s.state === "done").length, total: steps.length };
}
