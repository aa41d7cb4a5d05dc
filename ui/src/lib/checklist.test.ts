import { describe, expect, it } from "vitest";
import { deriveChecklist, progress, type ChecklistInput } from "./checklist";

const fresh: ChecklistInput = {
  enabled: false,
  publicUrl: null,
  activeTokens: 0,
  firstAuthenticatedRequest: null,
  firstUser: null,
  firstGroup: null,
  lastRequest: null,
};

const states = (i: ChecklistInput) =>
  Object.fromEntries(deriveChecklist(i).map((s) => [s.id, s.state]));

describe("deriveChecklist", () => {
  it("starts a fresh install at step 1 with nothing ticked", () => {
    expect(states(fresh)).toEqual({
      enable: "current",
      endpoint: "todo",
      token: "todo",
      paste: "todo",
      push: "todo",
      test: "todo",
      schedule: "todo",
    });
  });

  it("marks exactly one step as current: the first one not done", () => {
    const s = states({ ...fresh, enabled: true, activeTokens: 1 });
    expect(s.enable).toBe("done");
    expect(s.endpoint).toBe("current");
    expect(s.token).toBe("done");
    expect(Object.values(s).filter((x) => x === "current")).toHaveLength(1);
  });

  it("ticks pasting when the engine saw an authenticated request, not when a button was clicked", () => {
    const s = states({
      ...fresh,
      enabled: true,
      activeTokens: 1,
      firstAuthenticatedRequest: "2026-11-28T10:00:00Z",
    });
    expect(s.endpoint).toBe("done");
    expect(s.paste).toBe("done");
    expect(s.push).toBe("current");
  });

  it("ticks push and test sync when the first user arrives", () => {
    const steps = deriveChecklist({
      ...fresh,
      enabled: true,
      activeTokens: 1,
      firstAuthenticatedRequest: "2026-11-28T10:00:00Z",
      firstUser: "2026-11-28T10:00:01Z",
      lastRequest: "2026-11-28T10:00:01Z",
    });
    const push = steps.find((s) => s.id === "push")!;
    expect(push.state).toBe("done");
    expect(push.evidence).toBe("Users received; no group pushed yet");
    expect(steps.find((s) => s.id === "test")!.state).toBe("done");
    expect(steps.find((s) => s.id === "schedule")!.state).toBe("current");
  });

  it("ticks the schedule once the IdP comes back well after the first sync", () => {
    const steps = deriveChecklist({
      ...fresh,
      enabled: true,
      activeTokens: 1,
      firstAuthenticatedRequest: "2026-11-28T10:00:00Z",
      firstUser: "2026-11-28T10:00:01Z",
      firstGroup: "2026-11-28T10:00:02Z",
      lastRequest: "2026-11-28T10:40:00Z",
    });
    expect(progress(steps)).toEqual({ done: 7, total: 7 });
  });

  it("unticks the token step when every token was revoked, since no IdP can sync then", () => {
    const steps = deriveChecklist({
      ...fresh,
      enabled: true,
      firstAuthenticatedRequest: "2026-11-28T10:00:00Z",
    });
    const token = steps.find((s) => s.id === "token")!;
    expect(token.state).toBe("current");
    expect(token.evidence).toBe("No active token: your IdP cannot sync");
  });
});
