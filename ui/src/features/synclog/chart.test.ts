import { describe, expect, it } from "vitest";
import { axisCount, bucketKey, fillBars, niceMax } from "./chart";

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
  it("keys hours and days the way the engine does", () => {
    expect(bucketKey(Date.parse("2026-11-28T12:34:56Z"), "hour")).toBe("2026-11-28T12:00:00Z");
    expect(bucketKey(Date.parse("2026-11-28T23:59:59Z"), "day")).toBe("2026-11-28T00:00:00Z");
  });
  it("fills every day of a long range", () => {
    const since = Date.parse("2020-03-01T15:00:00Z");
    const until = Date.parse("2020-03-04T01:00:00Z");
    const bars = fillBars(
      [
        { start: "2020-03-01T00:00:00Z", success: 5, failure: 0 },
        { start: "2020-03-03T00:00:00Z", success: 0, failure: 2 },
      ],
      since,
      until,
      "day",
    );
    expect(
      bars.map((b) => [new Date(b.start).toISOString().slice(0, 10), b.success, b.failure]),
    ).toEqual([
      ["2020-03-01", 5, 0],
      ["2020-03-02", 0, 0],
      ["2020-03-03", 0, 2],
      ["2020-03-04", 0, 0],
    ]);
  });
  it("rounds the axis up", () => {
    expect([0, 1, 3, 7, 12, 180].map(niceMax)).toEqual([1, 1, 5, 10, 20, 200]);
  });
  it("writes the axis maximum short enough for the margin", () => {
    const labels = [5, 950, 1000, 20000, 100000, 1500000].map((n) => axisCount(n, "en"));
    expect(labels).toEqual(["5", "950", "1K", "20K", "100K", "1.5M"]);
    expect(Math.max(...labels.map((l) => l.length))).toBeLessThanOrEqual(4);
  });
});
