import { afterEach, describe, expect, it, vi } from "vitest";
import type { DirectoryPage } from "../../lib/api/backend";
import { DirectoryList, SEARCH_DELAY_MS } from "./list.svelte";

type Call = { text: string | null; offset: number; resolve: (p: DirectoryPage<string>) => void };

/** A list whose fetches wait until the test answers them. */
function pending() {
  const calls: Call[] = [];
  const list = new DirectoryList<string>(
    (text, offset) =>
      new Promise<DirectoryPage<string>>((resolve) => calls.push({ text, offset, resolve })),
  );
  return { list, calls };
}

const page = (...items: string[]): DirectoryPage<string> => ({ total: items.length, items });

describe("DirectoryList", () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it("keeps the newest answer when an older one arrives after it", async () => {
    const { list, calls } = pending();
    const older = list.load();
    const newer = list.load();
    calls[1]!.resolve(page("new"));
    await newer;
    calls[0]!.resolve(page("old"));
    await older;
    expect(list.page?.items).toEqual(["new"]);
  });

  it("searches trimmed text from the first page once typing pauses", async () => {
    vi.useFakeTimers();
    const { list, calls } = pending();
    list.goto(50);
    list.search(" ada");
    list.search(" ada ");
    expect(list.offset).toBe(0);
    expect(calls).toHaveLength(1);
    vi.advanceTimersByTime(SEARCH_DELAY_MS);
    expect(calls.map((c) => [c.text, c.offset])).toEqual([
      [null, 50],
      ["ada", 0],
    ]);
  });

  it("says why a page could not load, and clears that once one does", async () => {
    let fail = true;
    const list = new DirectoryList<string>(async () => {
      if (fail) throw { code: "internal", message: "The store is locked." };
      return page("a");
    });
    await list.load();
    expect(list.error).toBe("The store is locked.");
    fail = false;
    await list.load();
    expect(list.error).toBeNull();
    expect(list.page?.items).toEqual(["a"]);
  });
});
