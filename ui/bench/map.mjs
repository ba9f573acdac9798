#!/usr/bin/env node
// Map benchmark: a generated estate of about 10,000 entities served by `doppel serve`, the
// map page opened 5 times in headless Chromium; prints one JSON line with the time from
// navigation start to the first complete draw of the map (body[data-map-drawn]).
//
//   node ui/bench/map.mjs --doppel target/release/doppel [--runs 5] [--services 900]
//
// Goal: median under 2000 ms.

import { execFileSync, spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { createInterface } from "node:readline";
import { chromium } from "playwright-core";

function arg(name, dflt) {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : dflt;
}

const doppelArg = arg("--doppel");
const givenUrl = arg("--url");
const givenToken = arg("--token");
if (!doppelArg && !(givenUrl && givenToken)) {
  console.error("usage: node ui/bench/map.mjs --doppel PATH/TO/doppel [--runs 5] [--services 900]   (or --url URL --token TOKEN)");
  process.exit(2);
}
const doppel = doppelArg ? resolve(doppelArg) : null;
const runs = Number(arg("--runs", "5"));
const services = arg("--services", "900");

let server = null;
let tmp = null;
function cleanup() {
  if (server && server.exitCode === null) server.kill("SIGTERM");
  server = null;
  if (tmp) rmSync(tmp, { recursive: true, force: true });
  tmp = null;
}
process.on("exit", cleanup);
for (const sig of ["SIGINT", "SIGTERM"]) process.on(sig, () => (cleanup(), process.exit(130)));

function run(...args) {
  return execFileSync(doppel, args, { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
}

function serve(store) {
  return new Promise((ok, fail) => {
    server = spawn(doppel, ["--store", store, "serve", "--listen", "127.0.0.1:0"], { stdio: ["ignore", "pipe", "pipe"] });
    let url = null;
    let token = null;
    let stderr = "";
    const timer = setTimeout(() => fail(new Error(`doppel serve did not start within 30 s: ${stderr}`)), 30_000);
    server.stderr.on("data", (d) => (stderr += d));
    server.on("exit", (code) => fail(new Error(`doppel serve exited (${code}): ${stderr}`)));
    createInterface({ input: server.stdout }).on("line", (line) => {
      const l = line.match(/listening (http:\/\/\S+)/);
      if (l) url = l[1].replace(/\/$/, "");
      const t = line.match(/admin token (dpl_\S+)/);
      if (t) token = t[1];
      if (url && token) {
        clearTimeout(timer);
        ok({ url, token });
      }
    });
  });
}

let browser = null;
try {
  let url = givenUrl;
  let token = givenToken;
  let entities = null;
  if (doppel) {
    tmp = mkdtempSync(join(tmpdir(), "doppel-bench-"));
    const estate = join(tmp, "big.yaml");
    const store = join(tmp, "big.db");
    run("gen", "--services", services, "--seed", "1", "-o", estate, "-q");
    run("--store", store, "load", estate, "-q");
    entities = JSON.parse(run("--store", store, "--json", "show")).entities;
    ({ url, token } = await serve(store));
  }
  browser = await chromium.launch({ executablePath: process.env.CHROMIUM || "/usr/bin/chromium", args: ["--no-sandbox"] });
  const times = [];
  // When the answer of /api/v1/map had arrived (ms since navigation start), for each run.
  const fetches = [];
  let drawn = 0;
  for (let i = 0; i < runs; i++) {
    // A fresh context each time: no cache, the token from the fragment as a user would come.
    const ctx = await browser.newContext({ viewport: { width: 1400, height: 900 } });
    const page = await ctx.newPage();
    await page.goto(`${url}/#token=${token}`);
    await page.waitForFunction(() => document.body.dataset.mapDrawn, null, { timeout: 60_000 });
    times.push(await page.evaluate(() => Number(document.body.dataset.mapDrawn)));
    fetches.push(
      await page.evaluate(() => {
        const e = performance.getEntriesByType("resource").find((r) => r.name.endsWith("/api/v1/map"));
        return e ? Math.round(e.responseEnd) : null;
      }),
    );
    drawn = await page.evaluate(async () => {
      const r = await fetch("/api/v1/map", { headers: { Authorization: `Bearer ${sessionStorage.getItem("doppel.token")}` } });
      return (await r.json()).nodes.length;
    });
    await ctx.close();
  }
  const sorted = [...times].sort((a, b) => a - b);
  const median = sorted[Math.floor(sorted.length / 2)];
  console.log(
    JSON.stringify({
      bench: "map-drawn",
      entities,
      map_nodes: drawn,
      runs,
      median_ms: median,
      min_ms: sorted[0],
      max_ms: sorted[sorted.length - 1],
      times_ms: times,
      map_answered_ms: fetches,
      goal_ms: 2000,
      ok: median < 2000,
    }),
  );
} catch (e) {
  console.error(`bench failed: ${e.message}`);
  process.exitCode = 1;
} finally {
  await browser?.close().catch(() => {});
  cleanup();
}
