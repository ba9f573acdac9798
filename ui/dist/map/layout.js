/**
 * Layouts of the map, in world units: the placement view as nested boxes (region > zone >
 * node > pod, children packed in rows inside their parent) and the service dependency
 * view in layers by call depth, ordered by barycentres to reduce crossings.
 */
/** The size of a leaf (a pod) in world units. */
export const LEAF = 10;
/** Height of a container's title strip. */
export const HEADER = 14;
const PAD = 4;
const CONTAINER_KINDS = new Set(["region", "zone", "node", "namespace", "cluster", "host", "account", "provider"]);
function zeroCounts() {
    return { up: 0, degraded: 0, down: 0, unknown: 0 };
}
/** Nodes grouped by their placement parent (only parents that exist in `nodes`). */
export function childrenByParent(nodes) {
    const byKey = new Map();
    for (const n of nodes)
        byKey.set(n.key, n);
    const children = new Map();
    for (const n of nodes) {
        if (n.parent === null || !byKey.has(n.parent) || n.parent === n.key)
            continue;
        const list = children.get(n.parent);
        if (list)
            list.push(n);
        else
            children.set(n.parent, [n]);
    }
    return { byKey, children };
}
const ROOT_ORDER = ["provider", "account", "region", "cluster", "namespace"];
function rootRank(kind) {
    const i = ROOT_ORDER.indexOf(kind);
    return i < 0 ? ROOT_ORDER.length : i;
}
/**
 * The size `items` (already sized) take in rows no wider than `width`, left to right;
 * with `at`, they are also moved there (`at` is the rows' top-left corner).
 */
function shelfPack(items, width, gap, at) {
    let x = 0;
    let y = 0;
    let rowH = 0;
    let usedW = 0;
    for (const b of items) {
        if (x > 0 && x + b.w > width) {
            y += rowH + gap;
            x = 0;
            rowH = 0;
        }
        if (at)
            shift(b, at.x + x - b.x, at.y + y - b.y);
        x += b.w + gap;
        rowH = Math.max(rowH, b.h);
        usedW = Math.max(usedW, x - gap);
    }
    return { w: usedW, h: y + rowH };
}
/** Screens are wider than tall: boxes aim at this width to height ratio. */
const ASPECT = 1.6;
/** Of a few row widths, the one whose packing comes closest to {@link ASPECT} (few, large children wrap badly otherwise). */
function bestWidth(items, gap, area, maxW) {
    let best = Math.max(maxW, Math.sqrt(area * ASPECT), 40);
    let bestScore = Infinity;
    for (const f of [0.6, 0.8, 1, 1.25, 1.5, 2, 2.5]) {
        const width = Math.max(maxW, Math.sqrt(area * ASPECT) * f, 40);
        const m = shelfPack(items, width, gap);
        const score = Math.abs(Math.log((m.w + 1) / (m.h + HEADER + 1) / ASPECT)) + (m.w * m.h) / Math.max(area, 1) * 0.05;
        if (score < bestScore) {
            bestScore = score;
            best = width;
        }
    }
    return best;
}
function shift(b, dx, dy) {
    b.x += dx;
    b.y += dy;
    for (const c of b.children)
        shift(c, dx, dy);
}
/**
 * The placement view: every tree of placement parents that has children becomes nested
 * boxes (children packed in a grid-like shelf inside their parent; leaves are small
 * squares), and the trees are packed side by side. Entities with neither a parent nor
 * children are left out (the search still finds them).
 */
export function placementLayout(nodes) {
    const { byKey, children } = childrenByParent(nodes);
    const all = [];
    const visiting = new Set();
    const build = (n, depth, parent) => {
        visiting.add(n.key);
        const box = { key: n.key, node: n, x: 0, y: 0, w: LEAF, h: LEAF, depth, children: [], parent, counts: zeroCounts() };
        all.push(box);
        const kids = (children.get(n.key) ?? []).filter((c) => !visiting.has(c.key));
        if (kids.length === 0) {
            if (CONTAINER_KINDS.has(n.kind) && n.kind !== "pod") {
                box.w = 48;
                box.h = HEADER + 16;
            }
            else {
                box.counts[n.health] = 1;
            }
            visiting.delete(n.key);
            return box;
        }
        box.children = kids.map((c) => build(c, depth + 1, box));
        box.children.sort((a, b) => b.h - a.h || a.key.localeCompare(b.key));
        const allLeaves = box.children.every((c) => c.children.length === 0 && c.w === LEAF);
        const gap = allLeaves ? 2 : 6;
        let area = 0;
        let maxW = 0;
        for (const c of box.children) {
            area += (c.w + gap) * (c.h + gap);
            maxW = Math.max(maxW, c.w);
            for (const k of ["up", "degraded", "down", "unknown"])
                box.counts[k] += c.counts[k];
        }
        const used = shelfPack(box.children, bestWidth(box.children, gap, area, maxW), gap, { x: PAD, y: HEADER });
        box.w = Math.max(used.w + 2 * PAD, 48);
        box.h = used.h + HEADER + PAD;
        visiting.delete(n.key);
        return box;
    };
    const rootNodes = nodes.filter((n) => (n.parent === null || !byKey.has(n.parent)) && children.has(n.key));
    rootNodes.sort((a, b) => rootRank(a.kind) - rootRank(b.kind) || a.key.localeCompare(b.key));
    const roots = rootNodes.map((n) => build(n, 0, null));
    // Pack the roots side by side in rows about as wide as the tallest few.
    let area = 0;
    let maxW = 0;
    for (const r of roots) {
        area += (r.w + 40) * (r.h + 40);
        maxW = Math.max(maxW, r.w);
    }
    const width = Math.max(maxW, Math.sqrt(area) * 1.4);
    let x = 0;
    let y = 0;
    let rowH = 0;
    let usedW = 0;
    for (const r of roots) {
        if (x > 0 && x + r.w > width) {
            y += rowH + 40;
            x = 0;
            rowH = 0;
        }
        shift(r, x - r.x, y - r.y);
        x += r.w + 40;
        rowH = Math.max(rowH, r.h);
        usedW = Math.max(usedW, x - 40);
    }
    return { roots, all, bounds: { x: 0, y: 0, w: Math.max(usedW, 1), h: Math.max(y + rowH, 1) } };
}
/** The kinds drawn in the service view. */
export const SERVICE_KINDS = new Set(["service", "datastore", "queue", "external", "load-balancer"]);
const SERVICE_EDGES = new Set(["calls", "depends_on"]);
/** Size of a node of the service view. */
export const SNODE_W = 170;
export const SNODE_H = 34;
const LAYER_GAP = 110;
const ROW_GAP = 18;
/**
 * The service view: services, datastores, queues, externals and load balancers in layers
 * by call depth from the entry points (nodes nobody calls), longest path ignoring cycles;
 * each layer ordered by the barycentre of its neighbours, sweeping down and up.
 */
export function serviceLayout(nodes, edges) {
    const sn = new Map();
    for (const n of nodes) {
        if (SERVICE_KINDS.has(n.kind))
            sn.set(n.key, { key: n.key, node: n, layer: 0, order: 0, x: 0, y: 0, w: SNODE_W, h: SNODE_H });
    }
    const es = [];
    const out = new Map();
    const inc = new Map();
    const seen = new Set();
    for (const e of edges) {
        if (!SERVICE_EDGES.has(e.type))
            continue;
        const a = sn.get(e.from);
        const b = sn.get(e.to);
        if (!a || !b || a === b)
            continue;
        const id = `${a.key}\u0000${b.key}`;
        if (seen.has(id))
            continue;
        seen.add(id);
        es.push({ from: a, to: b, type: e.type, rate_rps: e.rate_rps });
        (out.get(a.key) ?? out.set(a.key, []).get(a.key)).push(b);
        (inc.get(b.key) ?? inc.set(b.key, []).get(b.key)).push(a);
    }
    // Depth-first from the entry points, dropping back edges, gives a DAG; layers by longest path.
    const list = [...sn.values()].sort((a, b) => a.key.localeCompare(b.key));
    const state = new Map();
    const topo = [];
    const dag = new Map();
    const visit = (start) => {
        const stack = [[start, 0]];
        state.set(start.key, 1);
        while (stack.length) {
            const top = stack[stack.length - 1];
            const [n, i] = top;
            const next = out.get(n.key) ?? [];
            if (i < next.length) {
                top[1] = i + 1;
                const m = next[i];
                const st = state.get(m.key);
                if (st === 1)
                    continue; // a back edge: a cycle
                (dag.get(n.key) ?? dag.set(n.key, []).get(n.key)).push(m);
                if (st === undefined) {
                    state.set(m.key, 1);
                    stack.push([m, 0]);
                }
            }
            else {
                state.set(n.key, 2);
                topo.push(n);
                stack.pop();
            }
        }
    };
    for (const n of list)
        if (!inc.has(n.key))
            visit(n);
    for (const n of list)
        if (!state.has(n.key))
            visit(n);
    topo.reverse();
    for (const n of topo)
        for (const m of dag.get(n.key) ?? [])
            m.layer = Math.max(m.layer, n.layer + 1);
    const layers = [];
    for (const n of list)
        (layers[n.layer] ??= []).push(n);
    for (const l of layers)
        l.forEach((n, i) => (n.order = i));
    const bary = (n, nb, layer) => {
        const ns = (nb ?? []).filter((m) => m.layer === layer);
        if (ns.length === 0)
            return n.order;
        return ns.reduce((s, m) => s + m.order, 0) / ns.length;
    };
    for (let sweep = 0; sweep < 6; sweep++) {
        const down = sweep % 2 === 0;
        const range = down ? layers.map((_, i) => i).slice(1) : layers.map((_, i) => i).slice(0, -1).reverse();
        for (const li of range) {
            const layer = layers[li];
            if (!layer)
                continue;
            const keyed = layer.map((n) => ({ n, b: down ? bary(n, inc.get(n.key), li - 1) : bary(n, out.get(n.key), li + 1) }));
            keyed.sort((a, b) => a.b - b.b || a.n.order - b.n.order);
            keyed.forEach((k, i) => (k.n.order = i));
            layer.sort((a, b) => a.order - b.order);
        }
    }
    // A layer taller than `cap` rows wraps into several columns, so wide estates stay readable.
    const cap = Math.max(12, Math.ceil(Math.sqrt(list.length) * 1.5));
    let maxRows = 0;
    for (const l of layers)
        maxRows = Math.max(maxRows, Math.min(cap, l?.length ?? 0));
    const height = maxRows * (SNODE_H + ROW_GAP);
    let x = 0;
    for (const l of layers) {
        if (!l)
            continue;
        const cols = Math.ceil(l.length / cap);
        const rows = Math.ceil(l.length / cols);
        const off = (height - rows * (SNODE_H + ROW_GAP)) / 2;
        for (const n of l) {
            n.x = x + Math.floor(n.order / rows) * (SNODE_W + 30);
            n.y = off + (n.order % rows) * (SNODE_H + ROW_GAP);
        }
        x += cols * (SNODE_W + 30) - 30 + LAYER_GAP;
    }
    const width = x - LAYER_GAP;
    return { nodes: list, edges: es, bounds: { x: 0, y: 0, w: Math.max(width, 1), h: Math.max(height, 1) } };
}
/** A uniform grid over world space for hit-testing: each cell lists the items overlapping it. */
export class SpatialGrid {
    cell;
    cells = new Map();
    constructor(cell) {
        this.cell = cell;
    }
    id(cx, cy) {
        return (cx + 32768) * 65536 + (cy + 32768);
    }
    /** Adds an item under every cell its rectangle overlaps. */
    insert(item) {
        const x0 = Math.floor(item.x / this.cell);
        const y0 = Math.floor(item.y / this.cell);
        const x1 = Math.floor((item.x + item.w) / this.cell);
        const y1 = Math.floor((item.y + item.h) / this.cell);
        for (let cx = x0; cx <= x1; cx++) {
            for (let cy = y0; cy <= y1; cy++) {
                const id = this.id(cx, cy);
                const list = this.cells.get(id);
                if (list)
                    list.push(item);
                else
                    this.cells.set(id, [item]);
            }
        }
    }
    /** The items whose rectangle contains the point. */
    at(x, y) {
        const list = this.cells.get(this.id(Math.floor(x / this.cell), Math.floor(y / this.cell))) ?? [];
        return list.filter((b) => x >= b.x && x <= b.x + b.w && y >= b.y && y <= b.y + b.h);
    }
}
