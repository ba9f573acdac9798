/** SVG line charts: series over time or load, a shaded interval band, markers, and labelled axes. */
import { s } from "./dom.js";
import { fmtDay, fmtNumber, fmtValue } from "./format.js";
/** About `n` round tick values covering [lo, hi]. */
export function niceTicks(lo, hi, n = 5) {
    if (!Number.isFinite(lo) || !Number.isFinite(hi))
        return [];
    if (hi === lo)
        return [lo];
    const raw = (hi - lo) / n;
    const mag = Math.pow(10, Math.floor(Math.log10(raw)));
    const step = ([1, 2, 2.5, 5, 10].find((m) => m * mag >= raw) ?? 10) * mag;
    const out = [];
    for (let v = Math.ceil(lo / step) * step; v <= hi + step * 1e-9; v += step)
        out.push(Number(v.toPrecision(12)));
    return out;
}
/** Ticks for values of a unit: bytes at round multiples of KiB, MiB, GiB...; others decimal. */
export function valueTicks(lo, hi, unit, n = 5) {
    if (unit !== "bytes")
        return niceTicks(lo, hi, n);
    const base = Math.pow(1024, Math.max(0, Math.floor(Math.log(Math.max(Math.abs(hi), 1)) / Math.log(1024))));
    return niceTicks(lo / base, hi / base, n).map((t) => t * base);
}
/** Tick times at whole hours or days covering [lo, hi]. */
export function timeTicks(lo, hi, n = 6) {
    const H = 3_600_000;
    const steps = [H, 3 * H, 6 * H, 12 * H, 24 * H, 48 * H, 7 * 24 * H, 14 * 24 * H, 28 * 24 * H];
    const step = steps.find((st) => (hi - lo) / st <= n) ?? steps[steps.length - 1];
    const tz = new Date(lo).getTimezoneOffset() * 60_000;
    const out = [];
    for (let t = Math.ceil((lo - tz) / step) * step + tz; t <= hi; t += step)
        out.push(t);
    return out;
}
function fmtTimeTick(t, span) {
    if (span <= 2 * 86_400_000) {
        return new Date(t).toLocaleTimeString(undefined, { hour: "2-digit", minute: "2-digit" });
    }
    return fmtDay(t);
}
/** Draws a chart as an SVG element (scales with its container; `viewBox` keeps proportions). */
export function lineChart(spec) {
    const W = spec.width ?? 720;
    const H = spec.height ?? 260;
    const m = { l: 72, r: 16, t: 28, b: 42 };
    const xs = [];
    const ys = [];
    for (const l of spec.lines)
        for (const [x, y] of l.points)
            if (Number.isFinite(y))
                (xs.push(x), ys.push(y));
    for (const [x, lo, hi] of spec.band ?? []) {
        xs.push(x);
        if (Number.isFinite(lo))
            ys.push(lo);
        if (Number.isFinite(hi))
            ys.push(hi);
    }
    for (const hl of spec.hlines ?? [])
        ys.push(hl.y);
    for (const vl of spec.vlines ?? [])
        xs.push(vl.x);
    const svg = s("svg", {
        viewBox: `0 0 ${W} ${H}`,
        class: "chart",
        style: `max-width: ${W}px`,
        role: "img",
        "aria-label": `${spec.yLabel} against ${spec.xLabel}`,
        "data-testid": spec.testid,
    });
    if (xs.length === 0) {
        svg.appendChild(s("text", { x: W / 2, y: H / 2, "text-anchor": "middle", class: "axis-label" }, "no data"));
        return svg;
    }
    let x0 = Math.min(...xs);
    let x1 = Math.max(...xs);
    let y0 = Math.min(...ys);
    let y1 = Math.max(...ys);
    if (x1 === x0)
        x1 = x0 + 1;
    const zero = spec.zeroBased ?? y0 >= 0;
    if (zero && y0 > 0)
        y0 = 0;
    if (y1 === y0)
        y1 = y0 + (Math.abs(y0) || 1);
    const pad = (y1 - y0) * 0.05;
    y1 += pad;
    if (!zero)
        y0 -= pad;
    const X = (x) => m.l + ((x - x0) / (x1 - x0)) * (W - m.l - m.r);
    const Y = (y) => H - m.b - ((y - y0) / (y1 - y0)) * (H - m.t - m.b);
    const f = (v) => v.toFixed(1);
    const axes = s("g", { class: "axes" });
    for (const t of valueTicks(y0, y1, spec.yUnit)) {
        axes.appendChild(s("line", { x1: m.l, x2: W - m.r, y1: f(Y(t)), y2: f(Y(t)), class: "grid" }));
        axes.appendChild(s("text", { x: m.l - 6, y: f(Y(t) + 4), "text-anchor": "end", class: "tick" }, fmtValue(t, spec.yUnit)));
    }
    const xt = spec.xKind === "time" ? timeTicks(x0, x1, Math.max(3, Math.floor(W / 95))) : niceTicks(x0, x1, 8);
    for (const t of xt) {
        axes.appendChild(s("line", { x1: f(X(t)), x2: f(X(t)), y1: H - m.b, y2: H - m.b + 4, class: "axis" }));
        const label = spec.xKind === "time" ? fmtTimeTick(t, x1 - x0) : `${fmtNumber(t)}`;
        axes.appendChild(s("text", { x: f(X(t)), y: H - m.b + 16, "text-anchor": "middle", class: "tick" }, label));
    }
    axes.appendChild(s("line", { x1: m.l, x2: W - m.r, y1: H - m.b, y2: H - m.b, class: "axis" }));
    axes.appendChild(s("line", { x1: m.l, x2: m.l, y1: m.t, y2: H - m.b, class: "axis" }));
    axes.appendChild(s("text", { x: (m.l + W - m.r) / 2, y: H - 6, "text-anchor": "middle", class: "axis-label" }, spec.xLabel));
    axes.appendChild(s("text", { x: 14, y: (m.t + H - m.b) / 2, "text-anchor": "middle", class: "axis-label", transform: `rotate(-90 14 ${(m.t + H - m.b) / 2})` }, spec.yLabel));
    svg.appendChild(axes);
    if (spec.band && spec.band.length > 0) {
        const top = spec.band.map(([x, , hi]) => `${f(X(x))},${f(Y(hi))}`);
        const bottom = spec.band.map(([x, lo]) => `${f(X(x))},${f(Y(lo))}`).reverse();
        svg.appendChild(s("path", { d: `M${top.join("L")}L${bottom.join("L")}Z`, class: "band", "data-role": "band" }, s("title", null, spec.bandLabel ?? "interval")));
    }
    for (const hl of spec.hlines ?? []) {
        svg.appendChild(s("line", { x1: m.l, x2: W - m.r, y1: f(Y(hl.y)), y2: f(Y(hl.y)), class: "hline" }));
        svg.appendChild(s("text", { x: W - m.r - 4, y: f(Y(hl.y) - 4), "text-anchor": "end", class: "marker-label" }, hl.label));
    }
    for (const vl of spec.vlines ?? []) {
        svg.appendChild(s("line", { x1: f(X(vl.x)), x2: f(X(vl.x)), y1: m.t, y2: H - m.b, class: "vline" }));
        // Labels right of the line, or left of it when the line is in the right part of the plot.
        const right = X(vl.x) > m.l + (W - m.l - m.r) * 0.6;
        svg.appendChild(s("text", { x: f(X(vl.x) + (right ? -4 : 4)), y: m.t + 10, "text-anchor": right ? "end" : "start", class: "marker-label" }, vl.label));
    }
    if (spec.now !== undefined) {
        svg.appendChild(s("line", { x1: f(X(spec.now)), x2: f(X(spec.now)), y1: m.t, y2: H - m.b, class: "now", "data-role": "now" }));
        svg.appendChild(s("text", { x: f(X(spec.now) + 4), y: m.t + 10, class: "marker-label" }, "now"));
    }
    spec.lines.forEach((l, i) => {
        const pts = l.points.filter(([, y]) => Number.isFinite(y));
        if (pts.length === 0)
            return;
        const d = `M${pts.map(([x, y]) => `${f(X(x))},${f(Y(y))}`).join("L")}`;
        svg.appendChild(s("path", { d, class: `line ${l.cls ?? `line-${i}`}${l.dashed ? " dashed" : ""}`, "data-role": "line", "data-points": pts.length }, s("title", null, l.label)));
    });
    // A legend along the top right.
    const legend = s("g", { class: "chart-legend" });
    let lx = W - m.r;
    const items = [...spec.lines.map((l, i) => ({ label: l.label, cls: `${l.cls ?? `line-${i}`}${l.dashed ? " dashed" : ""}` }))];
    if (spec.band)
        items.push({ label: spec.bandLabel ?? "interval", cls: "band-swatch" });
    for (const it of items.reverse()) {
        const w = it.label.length * 6.2 + 26;
        lx -= w;
        legend.appendChild(s("line", { x1: lx, x2: lx + 16, y1: 10, y2: 10, class: `line ${it.cls}` }));
        legend.appendChild(s("text", { x: lx + 20, y: 14, class: "tick" }, it.label));
    }
    svg.appendChild(legend);
    return svg;
}
