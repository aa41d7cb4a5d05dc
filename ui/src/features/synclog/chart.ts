//! The activity chart's data: every bucket in the range, with the engine's counts or zero.
import type { ActivityBucket, Bucket } from "../../lib/api/backend";

export type Bar = { start: number; success: number; failure: number };

const STEP = { minute: 60_000, hour: 3_600_000, day: 86_400_000 } as const;

/**
 * The bucket key the engine uses for an instant (UTC): "2026-11-28T14:03:00Z",
 * "2026-11-28T14:00:00Z" or "2026-11-28T00:00:00Z".
 */
export function bucketKey(t: number, bucket: Bucket): string {
  const iso = new Date(t).toISOString();
  if (bucket === "day") return `${iso.slice(0, 10)}T00:00:00Z`;
  return bucket === "hour" ? `${iso.slice(0, 13)}:00:00Z` : `${iso.slice(0, 16)}:00Z`;
}

/** One bar per bucket from `since` to `until`, gaps filled with zero. */
export function fillBars(
  rows: ActivityBucket[],
  since: number,
  until: number,
  bucket: Bucket,
): Bar[] {
  const step = STEP[bucket];
  const byKey = new Map(rows.map((r) => [r.start, r]));
  const bars: Bar[] = [];
  for (let t = Math.floor(since / step) * step; t <= until; t += step) {
    const r = byKey.get(bucketKey(t, bucket));
    bars.push({ start: t, success: r?.success ?? 0, failure: r?.failure ?? 0 });
  }
  return bars;
}

/** A round axis maximum at or above `n`: 1, 2, 5, 10, 20, 50… */
export function niceMax(n: number): number {
  if (n <= 1) return 1;
  const p = 10 ** Math.floor(Math.log10(n));
  for (const m of [1, 2, 5, 10]) if (m * p >= n) return m * p;
  return 10 * p;
}

/**
 * An axis count short enough for the chart's margin: 950, 1K, 20K, 100K, 1.5M. The full count is
 * in the label's tooltip.
 */
export function axisCount(n: number, locale?: string): string {
  return new Intl.NumberFormat(locale, { notation: "compact", maximumFractionDigits: 1 }).format(n);
}
