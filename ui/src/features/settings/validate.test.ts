import { describe, expect, it } from "vitest";
import type { Settings } from "../../lib/api/backend";
import { validateSettings } from "./validate";

const ok: Settings = {
  port: 8787,
  bindAddress: "127.0.0.1",
  theme: "system",
  rememberWindowSize: true,
  windowWidth: 1280,
  windowHeight: 800,
  logRetentionDays: 30,
};

describe("validateSettings", () => {
  it("accepts the defaults", () => {
    expect(validateSettings(ok)).toEqual({});
  });
  it("names each bad field", () => {
    expect(Object.keys(validateSettings({ ...ok, port: 70000, logRetentionDays: 0 }))).toEqual([
      "port",
      "logRetentionDays",
    ]);
  });
});
