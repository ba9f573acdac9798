// Unit tests of the UI's pure functions (layouts, SSE parsing, ticks, search), on the
// compiled dist/ modules: `node --test ui/tests/unit.mjs`.

import assert from "node:assert/strict";
import { test } from "node:test";
import { niceTicks, timeTicks, valueTicks } from "../dist/chart.js";
import { dispatch, parseSse } from "../dist/events.js";
import { JobEvents } from "../dist/jobs.js";
import { fmtValue, unitOf } from "../dist/format.js";
import { SpatialGrid, placementLayout, serviceLayout } from "../dist/map/layout.js";
import { parse } from "../dist/router.js";

const node = (key, parent, health = "up") => ({ key, kind: key.split("/")[0], name: key.slice(key.indexOf("/") + 1), parent, health, labels: {} });

test("SSE: events split on blank lines, data joined, comments skipped, the tail kept", () => {
  const got = [];
  const rest = parseSse(': hi\n\nevent: twin\ndata: {"version":3,\ndata: "changed":["a/b"]}\n\nevent: risk\ndata: {"x"', (e) => got.push(e));
  assert.deepEqual(got, [{ event: "twin", data: { version: 3, changed: ["a/b"] } }]);
  assert.equal(rest, 'event: risk\ndata: {"x"');
  parseSse(`${rest}:1}\r\n\r\n`, (e) => got.push(e));
  assert.deepEqual(got[1], { event: "risk", data: { x: 1 } });
});

test("placement: children inside their parents, siblings apart", () => {
  const nodes = [node("region/r", null), node("zone/a", "region/r"), node("zone/b", "region/r"), node("node/n1", "zone/a"), node("node/n2", "zone/b")];
  for (let i = 0; i < 30; i++) nodes.push(node(`pod/p${i}`, i % 2 ? "node/n1" : "node/n2", i === 3 ? "down" : "up"));
  const { all, roots } = placementLayout(nodes);
  assert.equal(roots.length, 1);
  assert.equal(all.length, nodes.length);
  for (const b of all) {
    if (!b.parent) continue;
    const p = b.parent;
    assert.ok(b.x >= p.x && b.y >= p.y && b.x + b.w <= p.x + p.w + 1e-9 && b.y + b.h <= p.y + p.h + 1e-9, `${b.key} outside ${p.key}`);
    for (const s of p.children) {
      if (s === b) continue;
      const apart = b.x + b.w <= s.x || s.x + s.w <= b.x || b.y + b.h <= s.y || s.y + s.h <= b.y;
      assert.ok(apart, `${b.key} overlaps ${s.key}`);
    }
  }
  assert.equal(roots[0].counts.down, 1);
  assert.equal(roots[0].counts.up, 29);
});

test("service view: layers by call depth, cycles tolerated", () => {
  const nodes = ["service/a", "service/b", "service/c", "datastore/d"].map((k) => node(k, null));
  const edges = [
    { from: "service/a", to: "service/b", type: "calls", rate_rps: 1 },
    { from: "service/b", to: "service/c", type: "calls", rate_rps: 1 },
    { from: "service/a", to: "datastore/d", type: "calls", rate_rps: 1 },
    { from: "service/c", to: "datastore/d", type: "calls", rate_rps: 1 },
    { from: "service/c", to: "service/b", type: "calls", rate_rps: 1 },
  ];
  const l = serviceLayout(nodes, edges);
  const layer = Object.fromEntries(l.nodes.map((n) => [n.key, n.layer]));
  assert.deepEqual(layer, { "datastore/d": 3, "service/a": 0, "service/b": 1, "service/c": 2 });
  assert.equal(l.edges.length, 5);
});

test("spatial grid finds what contains a point", () => {
  const g = new SpatialGrid(10);
  const a = { x: 0, y: 0, w: 100, h: 100 };
  const b = { x: 20, y: 20, w: 5, h: 5 };
  g.insert(a);
  g.insert(b);
  assert.deepEqual(g.at(22, 22), [a, b]);
  assert.deepEqual(g.at(50, 50), [a]);
  assert.deepEqual(g.at(150, 50), []);
});

test("ticks are round", () => {
  assert.deepEqual(niceTicks(0, 1000, 5), [0, 200, 400, 600, 800, 1000]);
  assert.deepEqual(valueTicks(0, 3 * 2 ** 30, "bytes", 3), [0, 2 ** 30, 2 * 2 ** 30, 3 * 2 ** 30]);
  const t = timeTicks(0, 7 * 86_400_000);
  assert.ok(t.length >= 2 && t.length <= 8);
});

test("units and routes", () => {
  assert.equal(unitOf("memory_used_bytes"), "bytes");
  assert.equal(unitOf("request_rate_rps:GET /"), "rps");
  assert.equal(fmtValue(1.5 * 2 ** 30, "bytes"), "1.5 GiB");
  assert.equal(fmtValue(0, "bytes"), "0 B");
  const r = parse("#/entity/deployment/shop/cart?series=memory_used_bytes");
  assert.equal(r.page, "entity");
  assert.equal(r.arg, "deployment/shop/cart");
  assert.equal(r.query.get("series"), "memory_used_bytes");
  assert.equal(parse("#/nowhere").page, "map");
  assert.equal(parse("").page, "map");
});

test("job events: heard before asked, newest first, other jobs ignored, a deadline, closing", async () => {
  const events = new JobEvents();
  // A quick job's events may come before anyone waits for them.
  dispatch({ event: "job", data: { id: 7, state: "running", done: 1, total: 4 } });
  dispatch({ event: "job", data: { id: 8, state: "done" } });
  dispatch({ event: "job", data: { id: 7, state: "running", done: 3, total: 4 } });
  assert.deepEqual(await events.next(7, 1000), { id: 7, state: "running", done: 3, total: 4 });
  // One that comes while waiting wakes the waiter.
  setTimeout(() => dispatch({ event: "job", data: { id: 7, state: "done" } }), 20);
  const t0 = Date.now();
  assert.deepEqual(await events.next(7, 5000), { id: 7, state: "done" });
  assert.ok(Date.now() - t0 < 2000);
  // Nothing more for job 7: the deadline answers null.
  assert.equal(await events.next(7, 30), null);
  // Closing answers a waiter at once.
  const waiting = events.next(7, 60_000);
  setTimeout(() => events.close(), 20);
  assert.equal(await waiting, null);
});
