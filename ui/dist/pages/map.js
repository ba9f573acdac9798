/** `#/map`: the estate on a canvas, with search, filters, the health legend and live updates. */
import { on } from "../events.js";
import { h, spinner } from "../dom.js";
import { MapView } from "../map/render.js";
import { mapData } from "../mapdata.js";
import { showError } from "../notify.js";
import { navigate } from "../router.js";
/** Sets `data-map-drawn` on the body and a performance mark, once per page load. */
function markDrawn() {
    if (document.body.dataset.mapDrawn)
        return;
    performance.mark("map-drawn");
    document.body.dataset.mapDrawn = String(Math.round(performance.now()));
}
/** The legend of health colours. */
export function legend() {
    const items = [
        ["up", "up"],
        ["degraded", "degraded"],
        ["down", "down"],
        ["unknown", "unknown"],
    ];
    return h("ul", { class: "legend", "aria-label": "Health colours" }, items.map(([k, t]) => h("li", null, h("span", { class: `swatch state-${k}` }), t)));
}
/** Entities whose key or name contains `q`, best first (prefix of the name, then of the key). */
export function searchNodes(nodes, q, limit = 12) {
    const needle = q.trim().toLowerCase();
    if (!needle)
        return [];
    const scored = [];
    for (const n of nodes) {
        const key = n.key.toLowerCase();
        const name = n.name.toLowerCase();
        let score = -1;
        if (key === needle)
            score = 0;
        else if (name === needle)
            score = 1;
        else if (name.startsWith(needle))
            score = 2;
        else if (key.startsWith(needle))
            score = 3;
        else if (name.includes(needle))
            score = 4;
        else if (key.includes(needle))
            score = 5;
        if (score >= 0)
            scored.push([score * 1000 + Math.min(999, n.key.length), n]);
    }
    scored.sort((a, b) => a[0] - b[0]);
    return scored.slice(0, limit).map(([, n]) => n);
}
/** Renders the map page. */
export const renderMap = (root, route) => {
    const mode = route.query.get("view") === "services" ? "services" : "placement";
    const status = h("span", { class: "map-status", "aria-live": "polite", "data-testid": "search-status" });
    const hover = h("span", { class: "map-hover" });
    const stage = h("div", { class: "map-stage" });
    const loading = spinner("Loading the map…");
    stage.appendChild(loading);
    let data = null;
    const view = new MapView(stage, {
        open: (key) => navigate(`#/entity/${key}`),
        drawn: () => markDrawn(),
        hover: (key, health) => {
            hover.textContent = key ? `${key} · ${health}` : "";
        },
    });
    view.setMode(mode);
    const results = h("ul", { class: "search-results", role: "listbox", hidden: true });
    const input = h("input", {
        type: "search",
        id: "map-search",
        placeholder: "Search by key or name  ( / )",
        "aria-label": "Search entities",
        autocomplete: "off",
    });
    const select = (key) => {
        results.hidden = true;
        if (!view.has(key)) {
            const other = view.getMode() === "placement" ? "services" : "placement";
            view.setMode(other);
            viewSelect.value = other;
            if (!view.has(key)) {
                view.setMode(other === "placement" ? "services" : "placement");
                viewSelect.value = view.getMode();
                status.textContent = `${key} is not drawn on the map; opening its page`;
                navigate(`#/entity/${key}`);
                return;
            }
        }
        view.focus(key);
        status.textContent = `Found ${key} (Enter on the map opens it)`;
        status.dataset.found = key;
        view.canvas.focus();
    };
    const showResults = () => {
        const found = data ? searchNodes(data.nodes, input.value) : [];
        results.replaceChildren(...found.map((n, i) => h("li", { role: "option", "data-key": n.key, class: i === 0 ? "active" : "" }, h("button", { type: "button", onclick: () => select(n.key) }, h("strong", null, n.name), " ", h("span", { class: "muted" }, n.key)))));
        results.hidden = found.length === 0;
        if (input.value && found.length === 0)
            status.textContent = `Nothing matches “${input.value}”`;
    };
    input.addEventListener("input", showResults);
    input.addEventListener("keydown", (e) => {
        if (e.key === "Enter") {
            const first = data ? searchNodes(data.nodes, input.value, 1)[0] : undefined;
            if (first)
                select(first.key);
            else
                status.textContent = `Nothing matches “${input.value}”`;
            e.preventDefault();
        }
        else if (e.key === "Escape") {
            results.hidden = true;
        }
        else if (e.key === "ArrowDown") {
            results.querySelector("button")?.focus();
            e.preventDefault();
        }
    });
    const viewSelect = h("select", { "aria-label": "View", id: "map-view" }, h("option", { value: "placement" }, "Placement"), h("option", { value: "services" }, "Services"));
    viewSelect.value = mode;
    viewSelect.addEventListener("change", () => view.setMode(viewSelect.value));
    const unhealthy = h("input", { type: "checkbox", id: "only-unhealthy" });
    unhealthy.addEventListener("change", () => view.setOnlyUnhealthy(unhealthy.checked));
    const overlay = h("input", { type: "checkbox", id: "health-overlay", checked: true });
    overlay.addEventListener("change", () => view.setOverlay(overlay.checked));
    const toolbar = h("div", { class: "toolbar" }, h("div", { class: "search" }, input, results), viewSelect, h("label", null, unhealthy, " Only unhealthy"), h("label", null, overlay, " Health colours"), h("span", { class: "zoom" }, h("button", { type: "button", "aria-label": "Zoom in", onclick: () => view.zoom(1.25) }, "+"), h("button", { type: "button", "aria-label": "Zoom out", onclick: () => view.zoom(0.8) }, "−"), h("button", { type: "button", "aria-label": "Fit", onclick: () => view.fit() }, "Fit")), legend());
    root.replaceChildren(h("section", { class: "map-page" }, toolbar, stage, h("div", { class: "map-foot" }, status, hover)));
    const onSlash = (e) => {
        const t = e.target;
        if (e.key === "/" && !(t && (t.tagName === "INPUT" || t.tagName === "TEXTAREA" || t.tagName === "SELECT"))) {
            e.preventDefault();
            input.focus();
        }
    };
    document.addEventListener("keydown", onSlash);
    let alive = true;
    const load = (refresh) => {
        mapData(refresh)
            .then((d) => {
            if (!alive)
                return;
            loading.remove();
            data = d;
            if (d.nodes.length === 0) {
                stage.appendChild(h("div", { class: "empty overlay-msg" }, "The twin is empty: load an estate (doppel load) to see it here."));
            }
            view.setData(d, !refresh);
            const focus = route.query.get("focus");
            if (focus && !refresh)
                select(focus);
        })
            .catch((e) => {
            loading.remove();
            showError(e);
        });
    };
    load(false);
    const off = on("twin", () => load(true));
    return () => {
        alive = false;
        off();
        document.removeEventListener("keydown", onSlash);
        view.destroy();
    };
};
