import { describe, expect, it } from "vitest";
import { bucketKey, fillBars, niceMax } from "./chart";

describe("activity chart", () => {
  it("fills every minute of the range, with the engine's counts where it has them", () => {
    const since = Date.parse("2026-11-28T12:00:30Z");
    const until = Date.parse("2026-11-28T12:03:10Z");
    const bars = fillBars(
      [{ start: "2026-11-28T12:02:00Z", success: 3, failure: 1 }],
      since,
      until,
      "minute",
    );
    expect(bars.map((b) => [b.success, b.failure])).toEqual([
      [0, 0],
      [0, 0],
      [3, 1],
      [0, 0],
    ]);
  });
  it("keys hours the way the engine does", () => {
    expect(bucketKey(Date.parse("2026-11-28T12:34:56Z"), "hour")).toBe("2026-11-28T12:00:00Z");
  });
  it("rounds the axis up", () => {
    expect([0, 1, 3, 7, 12, 180].map(niceMax)).toEqual([1, 1, 5, 10, 20, 200]);
  });
});
