//! A directory list the engine searches and pages (users, groups): the page shown or why it could
//! not load, the search text and the offset. Each load gets a number, so a slower, older answer
//! never overwrites a newer one; typing waits a moment before it loads.
import { untrack } from "svelte";
import { toBackendError, type DirectoryPage } from "../../lib/api/backend";

/** Reads one page: the search text (`null` for none) and the offset of its first item. */
export type PageFetch<T> = (text: string | null, offset: number) => Promise<DirectoryPage<T>>;

/** How long typing must pause before the search loads. */
export const SEARCH_DELAY_MS = 200;

export class DirectoryList<T> {
  text = $state("");
  offset = $state(0);
  page = $state<DirectoryPage<T> | null>(null);
  error = $state<string | null>(null);
  #fetch: PageFetch<T>;
  #generation = 0;
  #timer: ReturnType<typeof setTimeout> | null = null;

  constructor(fetch: PageFetch<T>) {
    this.#fetch = fetch;
  }

  load = async (): Promise<void> => {
    const gen = ++this.#generation;
    try {
      const p = await this.#fetch(this.text.trim() || null, this.offset);
      if (gen !== this.#generation) return;
      this.page = p;
      this.error = null;
    } catch (e) {
      if (gen === this.#generation) this.error = toBackendError(e).message;
    }
  };

  /** The first load, from a component's `$effect`. What the fetch reads (the search text, the
   *  offset, the view's filters) is not tracked: the effect must not load again on each
   *  keystroke, which the search does once typing pauses. */
  start = (): void => untrack(() => void this.load());

  /** Shows the page starting at `offset`. */
  goto = (offset: number): void => {
    this.offset = offset;
    void this.load();
  };

  /** From the first page again, after a filter or the sort changed. */
  restart = (): void => this.goto(0);

  /** Searches for `text` from the first page, once typing pauses. */
  search = (text: string): void => {
    this.text = text;
    this.offset = 0;
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = setTimeout(() => void this.load(), SEARCH_DELAY_MS);
  };
}
