/** Error banners and toasts. */
import { ApiError } from "./api.js";
import { h } from "./dom.js";
/** Shows an error banner at the top of the page (replacing the previous one). */
export function showError(e) {
    const box = document.getElementById("banner");
    if (!box)
        return;
    if (e instanceof DOMException && e.name === "AbortError")
        return;
    if (e instanceof ApiError && e.status === 401)
        return; // the sign-in form says it
    const text = e instanceof ApiError ? e.describe() : e instanceof Error ? e.message : String(e);
    const role = e instanceof ApiError && e.status === 403;
    box.replaceChildren(h("div", { class: `banner ${role ? "banner-role" : "banner-error"}`, role: "alert", "data-testid": role ? "forbidden" : "error" }, h("span", null, text), h("button", { class: "link", "aria-label": "Dismiss", onclick: () => box.replaceChildren() }, "×")));
}
/** Removes the error banner. */
export function clearError() {
    document.getElementById("banner")?.replaceChildren();
}
/** Shows a transient message in the corner; `href` makes it a link. */
export function toast(text, href, ms = 8000) {
    const box = document.getElementById("toasts");
    if (!box)
        return;
    const t = h("div", { class: "toast", role: "status" }, href ? h("a", { href }, text) : text);
    box.appendChild(t);
    setTimeout(() => t.remove(), ms);
}
