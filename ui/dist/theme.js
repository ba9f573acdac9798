/** Dark and light themes: the system's preference by default, a toggle kept in localStorage. */
const KEY = "doppel.theme";
/** The theme in effect: the saved choice, else the system's preference. */
export function currentTheme() {
    const saved = localStorage.getItem(KEY);
    if (saved === "dark" || saved === "light")
        return saved;
    return matchMedia("(prefers-color-scheme: dark)").matches ? "dark" : "light";
}
const listeners = [];
/** Calls `f` whenever the theme changes (canvas drawings re-read their colours). */
export function onThemeChange(f) {
    listeners.push(f);
}
function apply(t) {
    document.documentElement.dataset.theme = t;
    for (const f of listeners)
        f(t);
}
/** Applies the theme and follows the system's preference while no choice is saved. */
export function initTheme() {
    apply(currentTheme());
    matchMedia("(prefers-color-scheme: dark)").addEventListener("change", () => {
        if (!localStorage.getItem(KEY))
            apply(currentTheme());
    });
}
/** Sets and remembers a theme. */
export function setTheme(t) {
    localStorage.setItem(KEY, t);
    apply(t);
}
/** Switches between dark and light. */
export function toggleTheme() {
    const t = currentTheme() === "dark" ? "light" : "dark";
    setTheme(t);
    return t;
}
/** Reads a CSS custom property of the current theme (for canvas drawing). */
export function cssVar(name) {
    return getComputedStyle(document.documentElement).getPropertyValue(name).trim();
}
