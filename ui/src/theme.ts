/** Dark and light themes: the system's preference by default, a toggle kept in localStorage. */

const KEY = "doppel.theme";
export type Theme = "dark" | "light";

/** The theme in effect: the saved choice, else the system's preference. */
export function currentTheme(): Theme {
  const saved = localStorage.getItem(KEY);
  if (saved === "dark" || saved === "light") return saved;
  return matchMedia("(prefers-color-scheme: dark)").matches ? "dark" : "light";
}

const listeners: ((t: Theme) => void)[] = [];

/** Calls `f` whenever the theme changes (canvas drawings re-read their colours). */
export function onThemeChange(f: (t: Theme) => void): void {
  listeners.push(f);
}

function apply(t: Theme): void {
  document.documentElement.dataset.theme = t;
  for (const f of listeners) f(t);
}

/** Applies the theme and follows the system's preference while no choice is saved. */
export function initTheme(): void {
  apply(currentTheme());
  matchMedia("(prefers-color-scheme: dark)").addEventListener("change", () => {
    if (!localStorage.getItem(KEY)) apply(currentTheme());
  });
}

/** Sets and remembers a theme. */
export function setTheme(t: Theme): void {
  localStorage.setItem(KEY, t);
  apply(t);
}

/** Switches between dark and light. */
export function toggleTheme(): Theme {
  const t: Theme = currentTheme() === "dark" ? "light" : "dark";
  setTheme(t);
  return t;
}

/** Reads a CSS custom property of the current theme (for canvas drawing). */
export function cssVar(name: string): string {
  return getComputedStyle(document.documentElement).getPropertyValue(name).trim();
}
