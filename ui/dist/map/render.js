/**
 * The map's canvas: pan (drag, arrows), zoom (wheel, +/-), level of detail, hit-testing
 * through a spatial grid, and drawing of only what is visible.
 */
import { cssVar, onThemeChange } from "../theme.js";
import { HEADER, LEAF, SpatialGrid, placementLayout, serviceLayout } from "./layout.js";
function readPalette() {
    return {
        bg: cssVar("--canvas-bg") || "#111",
        box: [cssVar("--box-0"), cssVar("--box-1"), cssVar("--box-2"), cssVar("--box-3")],
        stroke: cssVar("--box-stroke") || "#444",
        text: cssVar("--text") || "#eee",
        muted: cssVar("--muted") || "#999",
        edge: cssVar("--edge") || "#888",
        highlight: cssVar("--highlight") || "#4af",
        health: {
            up: cssVar("--up") || "#3a3",
            degraded: cssVar("--degraded") || "#da3",
            down: cssVar("--down") || "#d33",
            unknown: cssVar("--unknown") || "#888",
        },
    };
}
const HEALTHS = ["up", "degraded", "down", "unknown"];
/** A canvas map of the estate: the placement boxes or the service layers. */
export class MapView {
    host;
    cb;
    canvas;
    ctx;
    mode = "placement";
    data = null;
    boxes = null;
    svc = null;
    cam = { x: 0, y: 0, scale: 1 };
    w = 0;
    h = 0;
    dpr = 1;
    pending = 0;
    palette;
    reportedDrawn = false;
    wantFit = false;
    wantFocus = null;
    resize;
    /** Health overrides (a what-if's affected stations). */
    marks = null;
    overlay = true;
    onlyUnhealthy = false;
    highlight = null;
    constructor(host, cb = {}) {
        this.host = host;
        this.cb = cb;
        this.canvas = document.createElement("canvas");
        this.canvas.tabIndex = 0;
        this.canvas.className = "map-canvas";
        this.canvas.setAttribute("role", "img");
        this.canvas.setAttribute("aria-label", "Map of the estate; drag to pan, wheel or + and - to zoom, arrows to move, 0 to fit");
        host.appendChild(this.canvas);
        const ctx = this.canvas.getContext("2d", { alpha: false });
        if (!ctx)
            throw new Error("no 2D canvas");
        this.ctx = ctx;
        this.palette = readPalette();
        onThemeChange(() => {
            this.palette = readPalette();
            this.schedule();
        });
        this.resize = new ResizeObserver(() => this.sizeCanvas());
        this.resize.observe(host);
        this.sizeCanvas();
        this.bindInput();
    }
    /** Stops observing the host (the page is leaving). */
    destroy() {
        this.resize.disconnect();
        cancelAnimationFrame(this.pending);
    }
    /** Sets the estate to draw and lays it out; keeps the camera unless `fit`. */
    setData(data, fit = true) {
        this.data = data;
        this.boxes = null;
        this.svc = null;
        this.layout();
        if (fit)
            this.fit();
        this.schedule();
    }
    /** Switches between the placement and the service view. */
    setMode(mode) {
        if (mode === this.mode)
            return;
        this.mode = mode;
        this.layout();
        this.fit();
        this.schedule();
    }
    /** The view shown. */
    getMode() {
        return this.mode;
    }
    /** Marks entities with a state (what-if results); `null` clears. */
    setMarks(marks) {
        this.marks = marks;
        this.schedule();
    }
    /** Shows health colours (true) or neutral ones. */
    setOverlay(on) {
        this.overlay = on;
        this.schedule();
    }
    /** Shows only what is not up (the rest faint). */
    setOnlyUnhealthy(on) {
        this.onlyUnhealthy = on;
        this.schedule();
    }
    /** The highlighted entity, if any. */
    getHighlight() {
        return this.highlight;
    }
    /** Whether the current view draws `key`. */
    has(key) {
        return this.find(key) !== null;
    }
    find(key) {
        if (this.mode === "placement")
            return this.boxes?.all.find((b) => b.key === key) ?? null;
        return this.svc?.nodes.find((n) => n.key === key) ?? null;
    }
    /** Centres the view on `key` and highlights it; false when the current view does not draw it. */
    focus(key) {
        const r = this.find(key);
        if (!r)
            return false;
        this.highlight = key;
        this.canvas.dataset.highlight = key;
        if (this.w <= 1 || this.h <= 1) {
            this.wantFocus = key; // once the canvas has a size
            return true;
        }
        this.wantFocus = null;
        this.wantFit = false;
        const scale = Math.min(6, Math.max(0.02, (Math.min(this.w, this.h) * 0.3) / Math.max(r.w, r.h, LEAF)));
        this.cam.scale = Math.max(scale, this.mode === "placement" ? 40 / Math.max(r.w, LEAF) : 0.5);
        this.cam.scale = Math.min(this.cam.scale, 8);
        this.cam.x = r.x + r.w / 2 - this.w / 2 / this.cam.scale;
        this.cam.y = r.y + r.h / 2 - this.h / 2 / this.cam.scale;
        this.schedule();
        return true;
    }
    /** Fits the whole layout in the canvas. */
    fit() {
        const b = this.mode === "placement" ? this.boxes?.bounds : this.svc?.bounds;
        if (!b)
            return;
        if (this.w <= 1 || this.h <= 1) {
            this.wantFit = true;
            return;
        }
        this.wantFit = false;
        const margin = 20;
        this.cam.scale = Math.min((this.w - 2 * margin) / b.w, (this.h - 2 * margin) / b.h, 4);
        this.cam.x = b.x - (this.w / this.cam.scale - b.w) / 2;
        this.cam.y = b.y - (this.h / this.cam.scale - b.h) / 2;
        this.schedule();
    }
    /** Zooms by `factor` around a screen point (the centre by default). */
    zoom(factor, sx = this.w / 2, sy = this.h / 2) {
        const wx = this.cam.x + sx / this.cam.scale;
        const wy = this.cam.y + sy / this.cam.scale;
        this.cam.scale = Math.min(40, Math.max(0.002, this.cam.scale * factor));
        this.cam.x = wx - sx / this.cam.scale;
        this.cam.y = wy - sy / this.cam.scale;
        this.schedule();
    }
    layout() {
        if (!this.data)
            return;
        if (this.mode === "placement" && !this.boxes) {
            const l = placementLayout(this.data.nodes);
            const grid = new SpatialGrid(Math.max(32, Math.sqrt((l.bounds.w * l.bounds.h) / 4096)));
            for (const b of l.all)
                grid.insert(b);
            this.boxes = { ...l, grid };
        }
        if (this.mode === "services" && !this.svc) {
            const l = serviceLayout(this.data.nodes, this.data.edges);
            const grid = new SpatialGrid(Math.max(64, Math.sqrt((l.bounds.w * l.bounds.h) / 4096)));
            for (const n of l.nodes)
                grid.insert(n);
            this.svc = { ...l, grid };
        }
    }
    sizeCanvas() {
        const r = this.host.getBoundingClientRect();
        this.dpr = window.devicePixelRatio || 1;
        this.w = Math.max(1, Math.floor(r.width));
        this.h = Math.max(1, Math.floor(r.height));
        this.canvas.width = Math.floor(this.w * this.dpr);
        this.canvas.height = Math.floor(this.h * this.dpr);
        this.canvas.style.width = `${this.w}px`;
        this.canvas.style.height = `${this.h}px`;
        if (this.wantFocus)
            this.focus(this.wantFocus);
        else if (this.wantFit)
            this.fit();
        this.schedule();
    }
    /** Requests a redraw on the next animation frame. */
    schedule() {
        if (this.pending)
            return;
        this.pending = requestAnimationFrame(() => {
            this.pending = 0;
            this.draw();
        });
    }
    healthOf(key, h) {
        return this.marks?.get(key) ?? (this.marks ? "up" : h);
    }
    draw() {
        const t0 = performance.now();
        const { ctx, palette: p } = this;
        ctx.setTransform(this.dpr, 0, 0, this.dpr, 0, 0);
        ctx.fillStyle = p.bg;
        ctx.fillRect(0, 0, this.w, this.h);
        if (!this.data)
            return;
        if (this.mode === "placement")
            this.drawPlacement();
        else
            this.drawServices();
        if (!this.reportedDrawn && this.w > 1 && !this.wantFit) {
            this.reportedDrawn = true;
            this.cb.drawn?.(performance.now() - t0);
        }
    }
    view() {
        return { x: this.cam.x, y: this.cam.y, w: this.w / this.cam.scale, h: this.h / this.cam.scale };
    }
    drawPlacement() {
        const boxes = this.boxes;
        if (!boxes)
            return;
        const { ctx, palette: p, cam } = this;
        const s = cam.scale;
        const v = this.view();
        const buckets = { up: [], degraded: [], down: [], unknown: [], faint: [] };
        const labels = [];
        let hl = null;
        ctx.font = "11px system-ui, sans-serif";
        ctx.textBaseline = "middle";
        const sx = (x) => (x - cam.x) * s;
        const sy = (y) => (y - cam.y) * s;
        const visit = (b) => {
            if (b.x > v.x + v.w || b.y > v.y + v.h || b.x + b.w < v.x || b.y + b.h < v.y)
                return;
            if (b.key === this.highlight)
                hl = b;
            const w = b.w * s;
            const health = this.healthOf(b.key, b.node.health);
            const isLeaf = b.children.length === 0 && b.w === LEAF;
            if (isLeaf) {
                const faint = this.onlyUnhealthy && health === "up";
                const bucket = faint ? "faint" : this.overlay ? health : "unknown";
                buckets[bucket].push(sx(b.x), sy(b.y), Math.max(w, 1), Math.max(w, 1));
                if (w > 60)
                    labels.push({ x: sx(b.x) + 3, y: sy(b.y) + w / 2, text: b.node.name, color: "#000", maxW: w - 6 });
                return;
            }
            const unhealthy = b.counts.degraded + b.counts.down + b.counts.unknown;
            const x = sx(b.x);
            const y = sy(b.y);
            const hgt = b.h * s;
            if (w < 2) {
                ctx.fillStyle = p.box[Math.min(b.depth, 3)] ?? p.stroke;
                ctx.fillRect(x, y, Math.max(w, 1), Math.max(hgt, 1));
                return;
            }
            ctx.globalAlpha = this.onlyUnhealthy && unhealthy === 0 && !this.marks?.has(b.key) ? 0.35 : 1;
            ctx.fillStyle = p.box[Math.min(b.depth, 3)] ?? p.box[0];
            ctx.fillRect(x, y, w, hgt);
            const mark = this.marks?.get(b.key);
            ctx.strokeStyle = mark ? p.health[mark] : p.stroke;
            ctx.lineWidth = mark ? 2 : 1;
            ctx.strokeRect(x + 0.5, y + 0.5, w - 1, hgt - 1);
            ctx.globalAlpha = 1;
            const headerPx = HEADER * s;
            const label = `${b.node.kind} ${b.node.name}`;
            if (headerPx >= 9 && w > 40)
                labels.push({ x: x + 4, y: y + headerPx / 2 + 1, text: label, color: p.text, maxW: w - 8 });
            if (b.children.length === 0)
                return;
            // Level of detail: when the children would be specks, draw the roll-up by health instead.
            const smallest = Math.min(...b.children.slice(0, 8).map((c) => Math.min(c.w, c.h)));
            if (smallest * s < 3) {
                this.drawRollup(b, x, y + headerPx, w, hgt - headerPx);
                return;
            }
            for (const c of b.children)
                visit(c);
        };
        for (const r of boxes.roots)
            visit(r);
        const order = ["faint", "unknown", "up", "degraded", "down"];
        for (const k of order) {
            const list = buckets[k];
            if (list.length === 0)
                continue;
            ctx.fillStyle = k === "faint" ? p.stroke : p.health[k];
            ctx.beginPath();
            for (let i = 0; i < list.length; i += 4)
                ctx.rect(list[i], list[i + 1], list[i + 2], list[i + 3]);
            ctx.fill();
        }
        for (const l of labels)
            this.text(l.text, l.x, l.y, l.maxW, l.color);
        if (hl)
            this.drawHighlight(hl);
    }
    drawRollup(b, x, y, w, h) {
        const { ctx, palette: p } = this;
        const total = b.counts.up + b.counts.degraded + b.counts.down + b.counts.unknown;
        if (total === 0 || h < 1)
            return;
        const pad = Math.min(3, w / 8);
        let cx = x + pad;
        const bw = w - 2 * pad;
        const barH = Math.max(1, Math.min(h - pad, Math.max(h * 0.5, 3)));
        for (const k of HEALTHS) {
            const n = b.counts[k];
            if (n === 0)
                continue;
            const part = (bw * n) / total;
            const faint = this.onlyUnhealthy && k === "up";
            ctx.fillStyle = faint ? p.stroke : this.overlay ? p.health[k] : p.health.unknown;
            ctx.fillRect(cx, y + (h - barH) / 2, Math.max(part, 1), barH);
            cx += part;
        }
        if (barH >= 12 && bw > 60) {
            const parts = HEALTHS.filter((k) => b.counts[k] > 0).map((k) => `${b.counts[k]} ${k}`);
            this.text(parts.join(" · "), x + pad + 3, y + h / 2, bw - 6, "#000");
        }
    }
    text(t, x, y, maxW, color) {
        const { ctx } = this;
        if (maxW < 14)
            return;
        let s = t;
        if (ctx.measureText(s).width > maxW) {
            const per = ctx.measureText("M").width * 0.62;
            s = `${t.slice(0, Math.max(1, Math.floor(maxW / per) - 1))}…`;
        }
        ctx.fillStyle = color;
        ctx.fillText(s, x, y);
    }
    drawHighlight(r) {
        const { ctx, cam } = this;
        const x = (r.x - cam.x) * cam.scale;
        const y = (r.y - cam.y) * cam.scale;
        const w = r.w * cam.scale;
        const h = r.h * cam.scale;
        ctx.strokeStyle = this.palette.highlight;
        ctx.lineWidth = 3;
        ctx.strokeRect(x - 3, y - 3, w + 6, h + 6);
        ctx.beginPath();
        ctx.arc(x + w / 2, y + h / 2, Math.max(w, h) / 2 + 14, 0, Math.PI * 2);
        ctx.lineWidth = 2;
        ctx.stroke();
    }
    drawServices() {
        const svc = this.svc;
        if (!svc)
            return;
        const { ctx, palette: p, cam } = this;
        const s = cam.scale;
        const v = this.view();
        const vis = (r) => !(r.x > v.x + v.w || r.y > v.y + v.h || r.x + r.w < v.x || r.y + r.h < v.y);
        const dim = (n) => this.onlyUnhealthy && this.healthOf(n.key, n.node.health) === "up";
        ctx.lineWidth = Math.max(0.5, Math.min(2, s));
        for (const e of svc.edges) {
            const x0 = e.from.x + e.from.w;
            const y0 = e.from.y + e.from.h / 2;
            const x1 = e.to.x;
            const y1 = e.to.y + e.to.h / 2;
            const box = { x: Math.min(x0, x1) - 100, y: Math.min(y0, y1), w: Math.abs(x1 - x0) + 200, h: Math.abs(y1 - y0) + 1 };
            if (!vis(box))
                continue;
            const ax = (x0 - cam.x) * s;
            const ay = (y0 - cam.y) * s;
            const bx = (x1 - cam.x) * s;
            const by = (y1 - cam.y) * s;
            const bend = Math.max(40 * s, Math.abs(bx - ax) / 2);
            const marked = this.marks?.get(e.to.key);
            ctx.strokeStyle = marked && marked !== "up" ? p.health[marked] : p.edge;
            ctx.globalAlpha = dim(e.from) && dim(e.to) ? 0.2 : 0.75;
            if (e.type === "depends_on")
                ctx.setLineDash([4, 3]);
            ctx.beginPath();
            ctx.moveTo(ax, ay);
            ctx.bezierCurveTo(ax + bend, ay, bx - bend, by, bx, by);
            ctx.stroke();
            ctx.setLineDash([]);
            if (s > 0.4) {
                ctx.beginPath();
                ctx.moveTo(bx, by);
                ctx.lineTo(bx - 7, by - 4);
                ctx.lineTo(bx - 7, by + 4);
                ctx.closePath();
                ctx.fillStyle = ctx.strokeStyle;
                ctx.fill();
            }
        }
        ctx.globalAlpha = 1;
        ctx.font = "12px system-ui, sans-serif";
        ctx.textBaseline = "middle";
        let hl = null;
        for (const n of svc.nodes) {
            if (!vis(n))
                continue;
            if (n.key === this.highlight)
                hl = n;
            const x = (n.x - cam.x) * s;
            const y = (n.y - cam.y) * s;
            const w = n.w * s;
            const h = n.h * s;
            const health = this.healthOf(n.key, n.node.health);
            const color = this.overlay ? p.health[health] : p.health.unknown;
            ctx.globalAlpha = dim(n) ? 0.3 : 1;
            if (w < 6) {
                ctx.fillStyle = color;
                ctx.fillRect(x, y, Math.max(w, 1.5), Math.max(h, 1.5));
                continue;
            }
            ctx.fillStyle = p.box[1] ?? p.bg;
            ctx.fillRect(x, y, w, h);
            ctx.fillStyle = color;
            ctx.fillRect(x, y, Math.max(3, 6 * s), h);
            const mark = this.marks?.get(n.key);
            ctx.strokeStyle = mark && mark !== "up" ? p.health[mark] : p.stroke;
            ctx.lineWidth = mark && mark !== "up" ? 3 : 1;
            ctx.strokeRect(x + 0.5, y + 0.5, w - 1, h - 1);
            if (h >= 14 && w > 50) {
                this.text(n.node.name, x + 10 * s + 4, y + h * 0.38, w - 10 * s - 8, p.text);
                ctx.font = "10px system-ui, sans-serif";
                this.text(mark && mark !== "up" ? `${n.node.kind} · ${mark}` : n.node.kind, x + 10 * s + 4, y + h * 0.75, w - 10 * s - 8, p.muted);
                ctx.font = "12px system-ui, sans-serif";
            }
        }
        ctx.globalAlpha = 1;
        if (hl)
            this.drawHighlight(hl);
    }
    /** The entity under a screen point: the deepest box big enough to see, or a service node. */
    hit(sx, sy) {
        const wx = this.cam.x + sx / this.cam.scale;
        const wy = this.cam.y + sy / this.cam.scale;
        if (this.mode === "placement") {
            const found = this.boxes?.grid.at(wx, wy) ?? [];
            let best = null;
            for (const b of found) {
                if (Math.min(b.w, b.h) * this.cam.scale < 3)
                    continue;
                if (b.parent && Math.min(...b.parent.children.slice(0, 8).map((c) => Math.min(c.w, c.h))) * this.cam.scale < 3)
                    continue;
                if (!best || b.depth > best.depth)
                    best = b;
            }
            return best ? { key: best.key, health: this.healthOf(best.key, best.node.health) } : null;
        }
        const n = this.svc?.grid.at(wx, wy)[0];
        return n ? { key: n.key, health: this.healthOf(n.key, n.node.health) } : null;
    }
    bindInput() {
        const c = this.canvas;
        let down = null;
        c.addEventListener("pointerdown", (e) => {
            c.setPointerCapture(e.pointerId);
            down = { x: e.offsetX, y: e.offsetY, cx: this.cam.x, cy: this.cam.y, moved: false };
        });
        c.addEventListener("pointermove", (e) => {
            if (down) {
                const dx = e.offsetX - down.x;
                const dy = e.offsetY - down.y;
                if (Math.abs(dx) + Math.abs(dy) > 4)
                    down.moved = true;
                if (down.moved) {
                    this.cam.x = down.cx - dx / this.cam.scale;
                    this.cam.y = down.cy - dy / this.cam.scale;
                    this.schedule();
                }
                return;
            }
            const hit = this.hit(e.offsetX, e.offsetY);
            c.style.cursor = hit ? "pointer" : "grab";
            this.cb.hover?.(hit?.key ?? null, hit?.health ?? null);
        });
        c.addEventListener("pointerup", (e) => {
            const d = down;
            down = null;
            if (d && !d.moved) {
                const hit = this.hit(e.offsetX, e.offsetY);
                if (hit)
                    this.cb.open?.(hit.key);
            }
        });
        c.addEventListener("pointerleave", () => this.cb.hover?.(null, null));
        c.addEventListener("wheel", (e) => {
            e.preventDefault();
            this.zoom(Math.exp(-e.deltaY * 0.0015), e.offsetX, e.offsetY);
        }, { passive: false });
        c.addEventListener("keydown", (e) => {
            const step = 60 / this.cam.scale;
            const moves = { ArrowLeft: [-step, 0], ArrowRight: [step, 0], ArrowUp: [0, -step], ArrowDown: [0, step] };
            const m = moves[e.key];
            if (m) {
                this.cam.x += m[0];
                this.cam.y += m[1];
                this.schedule();
            }
            else if (e.key === "+" || e.key === "=")
                this.zoom(1.25);
            else if (e.key === "-")
                this.zoom(0.8);
            else if (e.key === "0")
                this.fit();
            else if (e.key === "Enter" && this.highlight)
                this.cb.open?.(this.highlight);
            else
                return;
            e.preventDefault();
        });
    }
}
