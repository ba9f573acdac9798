/** `#/capacity`: latency against load per entry point, with its objective and saturation. */
import { get } from "../api.js";
import { lineChart } from "../chart.js";
import { empty, h, spinner } from "../dom.js";
import { showError } from "../notify.js";
/** Renders the capacity page. */
export const renderCapacity = (root) => {
    let alive = true;
    root.replaceChildren(h("h1", null, "Capacity"), spinner("Solving the model at each load…"));
    get("/curves?max=4&steps=16")
        .then((c) => {
        if (!alive)
            return;
        root.replaceChildren(h("section", { class: "capacity-page" }, h("h1", null, "Capacity"), h("p", { class: "muted" }, "Latency (p50 and p99) of each entry point as the load grows, against its objective; the saturation point where the model no longer settles."), c.entries.length === 0
            ? empty("No entry points: mark service endpoints as entry points to see their curves.")
            : h("div", { class: "cards" }, c.entries.map((e) => {
                const vlines = e.saturation !== null ? [{ x: e.saturation, label: `saturates at ${e.saturation.toFixed(2)}x` }] : [];
                const hlines = e.slo_ms !== null ? [{ y: e.slo_ms, label: `SLO p99 ${e.slo_ms} ms` }] : [];
                return h("article", { class: "card", "data-entry": e.entry }, h("header", { class: "card-head" }, h("h3", null, e.entry)), lineChart({
                    lines: [
                        { points: e.points.map(([x, p50]) => [x, p50]), label: "p50", cls: "line-p50" },
                        { points: e.points.map(([x, , p99]) => [x, p99]), label: "p99", cls: "line-p99" },
                    ],
                    xKind: "number",
                    xLabel: "load (× today's)",
                    yUnit: "ms",
                    yLabel: "latency (ms)",
                    hlines,
                    vlines,
                    width: 560,
                    height: 260,
                }));
            }))));
    })
        .catch((e) => {
        if (!alive)
            return;
        root.replaceChildren(h("h1", null, "Capacity"), empty("The curves are not available."));
        showError(e);
    });
    return () => {
        alive = false;
    };
};
