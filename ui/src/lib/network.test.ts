import { describe, expect, it } from "vitest";
import { isLoopback } from "./network";

describe("isLoopback", () => {
  it.each([
    ["127.0.0.1:8787", true],
    ["127.0.0.1", true],
    ["127.1.2.3:80", true],
    ["[::1]:8787", true],
    ["::1", true],
    ["0.0.0.0:8787", false],
    ["0.0.0.0", false],
    ["192.168.1.5:8787", false],
    ["[::]:8787", false],
  ])("%s → %s", (address, expected) => {
    expect(isLoopback(address)).toBe(expected);
  });
});
