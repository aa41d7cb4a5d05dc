//! Applies the chosen theme. "system" removes the attribute so the OS preference decides.
import type { Theme } from "./api/backend";

export function applyTheme(theme: Theme, root: HTMLElement = document.documentElement): void {
  if (theme === "system") delete root.dataset.theme;
  else root.dataset.theme = theme;
}
