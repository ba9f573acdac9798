/** `#/entity/<key>`: spec, labels, relations, series charts and a forecast with its band. */
import { get, keyPath } from "../api.js";
import { lineChart } from "../chart.js";
import { empty, entityLink, h, spinner, stateBadge } from "../dom.js";
import { fmtNumber, fmtTime, fmtValue, unitOf } from "../format.js";
import { showError } from "../notify.js";
/** Flattens a spec into `path: value` rows, summarising long arrays of numbers. */
export function specRows(value, path = "") {
    if (value === null || value === undefined)
        return [[path, "–"]];
    if (Array.isArray(value)) {
        if (value.length === 0)
            return [[path, "(none)"]];
        if (value.every((v) => typeof v === "number")) {
            const nums = value;
            if (nums.length <= 6)
                return [[path, nums.map(fmtNumber).join(", ")]];
            return [[path, `${nums.length} values, ${fmtNumber(Math.min(...nums))} to ${fmtNumber(Math.max(...nums))}`]];
        }
        if (value.every((v) => typeof v !== "object" || v === null))
            return [[path, value.map(String).join(", ")]];
        return value.flatMap((v, i) => specRows(v, `${path}[${i}]`));
    }
    if (typeof value === "object") {
        const entries = Object.entries(value);
        if (entries.length === 0)
            return [[path, "{}"]];
        return entries.flatMap(([k, v]) => specRows(v, path ? `${path}.${k}` : k));
    }
    return [[path, typeof value === "number" ? String(Number(value.toPrecision(6))) : String(value)]];
}
function attrsText(attrs) {
    return specRows(attrs)
        .filter(([k]) => k !== "")
        .map(([k, v]) => `${k} ${v}`)
        .join(" · ");
}
/** `KEY/ATTR` for a path: both percent-encoded with their slashes kept (the server finds where the key ends). */
function seriesPath(key, attr) {
    return `${keyPath(key)}/${keyPath(attr)}`;
}
/** Renders the forecast chart of one series into `box`. */
export async function renderForecast(box, key, attr, horizon) {
    box.replaceChildren(spinner("Forecasting…"));
    try {
        const f = await get(`/forecast/${seriesPath(key, attr)}?horizon=${horizon}&level=0.9`);
        const history = f.history ?? [];
        const fc = f.forecast ?? [];
        if (history.length === 0 && fc.length === 0) {
            box.replaceChildren(empty("No telemetry yet for this series: nothing to forecast."));
            return;
        }
        const unit = unitOf(attr, f.unit);
        const now = history.length ? history[history.length - 1][0] : fc[0][0];
        const chart = lineChart({
            lines: [
                { points: history, label: "history", cls: "line-history" },
                { points: fc.map(([t, mean]) => [t, mean]), label: "forecast", cls: "line-forecast", dashed: true },
            ],
            band: fc.map(([t, , lo, hi]) => [t, lo, hi]),
            bandLabel: `${Math.round((f.level ?? 0.9) * 100)}% interval`,
            xKind: "time",
            xLabel: "time",
            yUnit: unit,
            yLabel: unit ? `${attr} (${unit})` : attr,
            now,
            hlines: f.limit ? [{ y: f.limit.value, label: `limit ${fmtValue(f.limit.value, unit)}` }] : [],
            vlines: f.crossing && fc.length && f.crossing.at_ms <= fc[fc.length - 1][0] ? [{ x: f.crossing.at_ms, label: `reaches the limit ${fmtTime(f.crossing.at_ms)}` }] : [],
            testid: "forecast-chart",
            width: 960,
            height: 320,
        });
        box.replaceChildren(chart, h("p", { class: "muted" }, `Model ${f.model}; ${history.length} points of history, ${fc.length} forecast points; ${Math.round((f.level ?? 0.9) * 100)}% interval shaded.`));
    }
    catch (e) {
        box.replaceChildren(h("p", { class: "muted" }, "The forecast is not available."));
        showError(e);
    }
}
function seriesCard(key, info, onForecast) {
    const body = h("div", { class: "chart-box" }, spinner());
    const from = Math.max(info.from_ms, info.to_ms - 7 * 86_400_000);
    get(`/series/${seriesPath(key, info.attribute)}?from=${from}&to=${info.to_ms}`)
        .then((sr) => {
        if (sr.points.length === 0) {
            body.replaceChildren(empty("No samples in this window."));
            return;
        }
        const unit = unitOf(info.attribute);
        body.replaceChildren(lineChart({
            lines: [{ points: sr.points, label: info.attribute, cls: "line-history" }],
            xKind: "time",
            xLabel: "time (last 7 days)",
            yUnit: unit,
            yLabel: unit ? `(${unit})` : "value",
            width: 560,
            height: 220,
        }));
    })
        .catch((e) => {
        body.replaceChildren(h("p", { class: "muted" }, "The samples are not available."));
        showError(e);
    });
    return h("article", { class: "card" }, h("header", { class: "card-head" }, h("h3", null, info.attribute), h("span", { class: "muted" }, `${info.points} points, ${fmtTime(info.from_ms)} to ${fmtTime(info.to_ms)}`), h("button", { type: "button", onclick: () => onForecast(info.attribute) }, "Forecast")), body);
}
/** Renders the entity page. */
export const renderEntity = (root, route) => {
    const key = route.arg;
    root.replaceChildren(spinner(`Loading ${key}…`));
    let alive = true;
    get(`/entities/${keyPath(key)}`)
        .then((e) => {
        if (!alive)
            return;
        const labels = Object.entries(e.labels ?? {});
        const spec = specRows(e.spec ?? {}).filter(([k]) => k !== "");
        const forecastBox = h("div", { class: "chart-box", id: "forecast" });
        const horizon = h("select", { "aria-label": "Forecast horizon" }, ["1d", "3d", "7d", "14d"].map((v) => h("option", { value: v, selected: v === "7d" }, v)));
        const seriesSelect = h("select", { "aria-label": "Series to forecast" }, e.series.map((sr) => h("option", { value: sr.attribute }, sr.attribute)));
        const forecast = (attr) => {
            seriesSelect.value = attr;
            void renderForecast(forecastBox, e.key, attr, horizon.value);
            forecastBox.scrollIntoView({ block: "nearest" });
        };
        seriesSelect.addEventListener("change", () => forecast(seriesSelect.value));
        horizon.addEventListener("change", () => forecast(seriesSelect.value));
        const relTable = (rows, dir) => rows.length === 0
            ? empty(`No relations ${dir}.`)
            : h("table", { class: "table" }, h("thead", null, h("tr", null, h("th", null, "type"), h("th", null, dir === "out" ? "to" : "from"), h("th", null, "attributes"))), h("tbody", null, rows.map((r) => h("tr", null, h("td", null, r.type), h("td", null, entityLink(r.other)), h("td", { class: "muted" }, attrsText(r.attrs))))));
        const series = e.series ?? [];
        root.replaceChildren(h("section", { class: "entity-page" }, h("header", { class: "page-head" }, h("h1", null, h("span", { class: "muted" }, `${e.kind} `), e.name), stateBadge(e.health ?? "unknown"), h("a", { href: `#/map?focus=${encodeURIComponent(e.key)}` }, "Show on the map"), h("a", { href: `#/what-if?fail=${encodeURIComponent(e.key)}` }, "What if it fails?")), labels.length ? h("ul", { class: "chips", "aria-label": "Labels" }, labels.map(([k, v]) => h("li", null, `${k}=${v}`))) : null, e.health_why?.length ? h("ul", { class: "health-why", "aria-label": "Why its health" }, e.health_why.map((w) => h("li", null, w))) : null, h("h2", null, "Spec"), spec.length ? h("table", { class: "table spec" }, h("tbody", null, spec.map(([k, v]) => h("tr", null, h("th", { scope: "row" }, k), h("td", null, v))))) : empty("No spec."), h("div", { class: "two-col" }, h("div", null, h("h2", null, `Relations out (${e.out.length})`), relTable(e.out.map((r) => ({ type: r.type, other: r.to, attrs: r.attrs ?? {} })), "out")), h("div", null, h("h2", null, `Relations in (${e.in.length})`), relTable(e.in.map((r) => ({ type: r.type, other: r.from, attrs: r.attrs ?? {} })), "in"))), h("h2", null, "Telemetry"), series.length === 0
            ? empty("No telemetry yet for this entity.")
            : h("div", null, h("div", { class: "card" }, h("header", { class: "card-head" }, h("h3", null, "Forecast"), seriesSelect, horizon), forecastBox), h("div", { class: "cards" }, series.slice(0, 12).map((sr) => seriesCard(e.key, sr, forecast))))));
        if (series.length) {
            const wanted = route.query.get("series");
            forecast(series.find((sr) => sr.attribute === wanted)?.attribute ?? series[0].attribute);
        }
    })
        .catch((err) => {
        if (!alive)
            return;
        root.replaceChildren(empty(`Cannot show ${key}.`));
        showError(err);
    });
    return () => {
        alive = false;
    };
};
