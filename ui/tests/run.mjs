#!/usr/bin/env node
// End-to-end tests of the web UI: a real `doppel serve` on the bundled shop with a week of
// synthetic telemetry, driven by Debian's Chromium through playwright-core.
//
//   node ui/tests/run.mjs --doppel target/release/doppel
//
// Screenshots of every step go to target/ui-artifacts/ (relative to the repository root).
// Exits non-zero, naming each failed check, when anything fails; the server is always stopped.

import { spawn, execFileSync } from "node:child_process";
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";

const here = dirname(fileURLToPath(import.meta.url));
const repo = resolve(here, "..", "..");
const artifacts = join(repo, "target", "ui-artifacts");

function arg(name) {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

const doppel = arg("--doppel") ? resolve(arg("--doppel")) : undefined;
// Against a server already running (for working on the UI): --url URL --token TOKEN.
const givenUrl = arg("--url");
const givenToken = arg("--token");
if (!doppel && !(givenUrl && givenToken)) {
  console.error("usage: node ui/tests/run.mjs --doppel PATH/TO/doppel   (or --url URL --token TOKEN)");
  process.exit(2);
}

let server = null;
let tmp = null;
let browser = null;

function cleanup() {
  if (server && server.exitCode === null) server.kill("SIGTERM");
  server = null;
  if (tmp) rmSync(tmp, { recursive: true, force: true });
  tmp = null;
}
process.on("exit", cleanup);
for (const sig of ["SIGINT", "SIGTERM"]) {
  process.on(sig, () => {
    cleanup();
    process.exit(130);
  });
}

/** Runs doppel to completion, failing with its stderr. */
function run(...args) {
  try {
    return execFileSync(doppel, args, { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
  } catch (e) {
    throw new Error(`doppel ${args.join(" ")} failed: ${e.stderr || e.message}`);
  }
}

/** Starts `doppel serve` on a free port; resolves with its base URL and admin token. */
function serve(store) {
  return new Promise((ok, fail) => {
    server = spawn(doppel, ["--store", store, "serve", "--listen", "127.0.0.1:0"], { stdio: ["ignore", "pipe", "pipe"] });
    let url = null;
    let token = null;
    let stderr = "";
    const timer = setTimeout(() => fail(new Error(`doppel serve did not print its address within 30 s; stderr: ${stderr}`)), 30_000);
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

const failures = [];
let step = 0;

/** Runs one named check, keeping going after a failure (a screenshot is taken either way). */
async function check(name, page, f) {
  step += 1;
  const shot = join(artifacts, `${String(step).padStart(2, "0")}-${name.replace(/[^a-z0-9]+/gi, "-").toLowerCase()}.png`);
  const t0 = Date.now();
  try {
    await f();
    console.log(`ok   ${name} (${Date.now() - t0} ms)`);
  } catch (e) {
    failures.push(`${name}: ${e.message}`);
    console.log(`FAIL ${name}: ${e.message}`);
  }
  if (page) await page.screenshot({ path: shot }).catch(() => {});
}

function assert(cond, message) {
  if (!cond) throw new Error(message);
}

async function apiCall(base, token, method, path, body) {
  const res = await fetch(`${base}/api/v1${path}`, {
    method,
    headers: { Authorization: `Bearer ${token}`, "Content-Type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const json = await res.json().catch(() => null);
  return { status: res.status, json };
}

/** Distinct colours and the share of pixels unlike the top-left one, over a grid of samples of the canvas. */
async function canvasStats(page, selector = "canvas.map-canvas") {
  return page.evaluate((sel) => {
    const c = document.querySelector(sel);
    if (!c) return { colours: 0, share: 0 };
    const ctx = c.getContext("2d");
    const img = ctx.getImageData(0, 0, c.width, c.height).data;
    const bg = [img[0], img[1], img[2]].join(",");
    const colours = new Set();
    let differ = 0;
    let n = 0;
    for (let y = 0; y < c.height; y += 7) {
      for (let x = 0; x < c.width; x += 7) {
        const i = (y * c.width + x) * 4;
        const k = [img[i], img[i + 1], img[i + 2]].join(",");
        colours.add(k);
        if (k !== bg) differ++;
        n++;
      }
    }
    return { colours: colours.size, share: differ / Math.max(n, 1) };
  }, selector);
}

async function main() {
  rmSync(artifacts, { recursive: true, force: true });
  mkdirSync(artifacts, { recursive: true });
  let url = givenUrl;
  let token = givenToken;
  let store = null;
  if (doppel) {
    tmp = mkdtempSync(join(tmpdir(), "doppel-ui-"));
    store = join(tmp, "s.db");
    run("--store", store, "load", join(repo, "examples", "shop"));
    run("--store", store, "observe", "--synthetic", "--days", "7", "--until", "2026-11-20T12:00:00Z");
    ({ url, token } = await serve(store));
  }
  console.log(`server ${url}`);

  browser = await chromium.launch({ executablePath: process.env.CHROMIUM || "/usr/bin/chromium", args: ["--no-sandbox"] });
  const context = await browser.newContext({ viewport: { width: 1400, height: 900 }, colorScheme: "light" });
  const page = await context.newPage();
  const pageErrors = [];
  page.on("pageerror", (e) => pageErrors.push(e.message));

  await check("map draws", page, async () => {
    await page.goto(`${url}/#token=${token}`);
    await page.waitForFunction(() => document.body.dataset.mapDrawn, null, { timeout: 20_000 });
    assert(!page.url().includes("token="), `the token stays in the address bar: ${page.url()}`);
    const ms = await page.evaluate(() => Number(document.body.dataset.mapDrawn));
    assert(ms > 0, "mapDrawn is not a time");
    const marks = await page.evaluate(() => performance.getEntriesByName("map-drawn").length);
    assert(marks === 1, "no performance mark map-drawn");
    const st = await canvasStats(page);
    assert(st.colours >= 4 && st.share > 0.02, `the canvas looks blank (${st.colours} colours, ${(st.share * 100).toFixed(1)}% drawn)`);
    console.log(`     map drawn at ${ms} ms, ${st.colours} colours`);
  });

  await check("search finds service/cart", page, async () => {
    await page.locator("canvas.map-canvas").click({ position: { x: 2, y: 2 } }).catch(() => {});
    await page.goto(`${url}/#/map`);
    await page.waitForSelector("canvas.map-canvas");
    await page.keyboard.press("Escape");
    await page.locator("body").press("/");
    assert(await page.evaluate(() => document.activeElement?.id === "map-search"), "'/' does not focus the search box");
    await page.keyboard.type("service/cart");
    await page.waitForSelector('.search-results li[data-key="service/cart"]', { timeout: 5000 });
    await page.keyboard.press("Enter");
    await page.waitForFunction(() => document.querySelector("canvas.map-canvas")?.dataset.highlight === "service/cart", null, { timeout: 5000 });
    const status = await page.textContent('[data-testid="search-status"]');
    assert(status?.includes("service/cart"), `the status does not name service/cart: ${status}`);
  });

  await check("clicking the highlighted entity opens its page", page, async () => {
    const box = await page.locator("canvas.map-canvas").boundingBox();
    await page.mouse.click(box.x + box.width / 2, box.y + box.height / 2);
    await page.waitForFunction(() => location.hash === "#/entity/service/cart", null, { timeout: 5000 });
    await page.waitForSelector(".entity-page h1", { timeout: 10_000 });
  });

  await check("what-if zone/us-east-1a marks the affected", page, async () => {
    await page.goto(`${url}/#/what-if`);
    await page.waitForSelector('#place option[value="zone/us-east-1a"]', { state: "attached", timeout: 10_000 });
    await page.selectOption("#place", "zone/us-east-1a");
    await page.click("text=Add");
    await page.selectOption("#at", "peak");
    await page.click("#run");
    await page.waitForSelector('[data-testid="affected"] li', { timeout: 60_000 });
    const shown = await page.$$eval('[data-testid="affected"] li', (lis) => lis.map((li) => [li.dataset.key, li.dataset.state]));
    const r = await apiCall(url, token, "POST", "/what-if", { fail: ["zone/us-east-1a"], load: "1x", at: "peak" });
    assert(r.status === 200, `POST /what-if answered ${r.status}`);
    const want = r.json.stations.filter((s) => s.worst === "down" || s.worst === "degraded").map((s) => [s.key, s.worst]);
    assert(want.length > 0, "the report affects nothing");
    const services = want.filter(([k]) => k.startsWith("service/"));
    assert(services.length > 0, "no service is affected in the report");
    const got = new Map(shown);
    for (const [k, st] of want) assert(got.get(k) === st, `${k} should be listed as ${st}, is ${got.get(k) ?? "missing"}`);
    assert(shown.length === want.length, `${shown.length} listed, the report has ${want.length}`);
    await page.locator('[data-testid="affected"]').scrollIntoViewIfNeeded();
    const st = await canvasStats(page, ".whatif-page canvas.map-canvas");
    assert(st.colours >= 4, "the what-if map is blank");
  });

  await check("entity page forecast chart", page, async () => {
    let key = null;
    for (const k of ["deployment/shop/cart", "datastore/orders-db", "service/cart", "service/frontend"]) {
      const r = await apiCall(url, token, "GET", `/entities/${k}`);
      if (r.status === 200 && r.json.series?.length) {
        key = k;
        break;
      }
    }
    assert(key, "no entity of the shop has series after observe --synthetic");
    await page.goto(`${url}/#/entity/${key}`);
    await page.waitForSelector('[data-testid="forecast-chart"], [data-testid="error"]', { timeout: 60_000 });
    const err = await page.$('[data-testid="error"]');
    assert(!err, `error banner: ${err ? await err.textContent() : ""}`);
    const band = await page.$('[data-testid="forecast-chart"] path[data-role="band"]');
    assert(band, "the forecast chart has no band");
    const d = await band.getAttribute("d");
    assert(d && d.split("L").length > 4, "the band path is empty");
    const lines = await page.$$eval('[data-testid="forecast-chart"] path[data-role="line"]', (ps) => ps.map((p) => Number(p.dataset.points)));
    assert(lines.length >= 2 && lines.every((n) => n > 1), `the history and forecast lines have too few points: ${lines}`);
    assert(await page.$('[data-testid="forecast-chart"] [data-role="now"]'), "no now marker");
    await page.locator('[data-testid="forecast-chart"]').scrollIntoViewIfNeeded();
  });

  for (const theme of ["dark", "light"]) {
    await check(`${theme} theme`, page, async () => {
      await page.goto(`${url}/#/map`);
      await page.evaluate((t) => localStorage.setItem("doppel.theme", t), theme);
      await page.reload();
      await page.waitForFunction(() => document.body.dataset.mapDrawn, null, { timeout: 20_000 });
      const got = await page.evaluate(() => document.documentElement.dataset.theme);
      assert(got === theme, `the theme is ${got}`);
      const lum = await page.evaluate(() => {
        const m = getComputedStyle(document.body).backgroundColor.match(/\d+/g).map(Number);
        return (0.2126 * m[0] + 0.7152 * m[1] + 0.0722 * m[2]) / 255;
      });
      assert(theme === "dark" ? lum < 0.3 : lum > 0.7, `the ${theme} background has luminance ${lum.toFixed(2)}`);
      const st = await canvasStats(page);
      assert(st.colours >= 4, `the map is blank in the ${theme} theme`);
    });
  }

  for (const [route, sel, name] of [
    ["#/spof", '[data-testid="singles"]', "spof page"],
    ["#/capacity", ".capacity-page .chart, .capacity-page .empty", "capacity page"],
    ["#/history", '[data-testid="timeline"]', "history page"],
    ["#/predictions", '[data-testid="risks"], .predictions-page .empty', "predictions page"],
    ["#/api", ".api-page .op", "api page"],
  ]) {
    await check(name, page, async () => {
      await page.goto(`${url}/${route}`);
      await page.waitForSelector(`${sel}, [data-testid="error"]`, { timeout: 90_000 });
      const err = await page.$('[data-testid="error"]');
      assert(!err, `error banner: ${err ? await err.textContent() : ""}`);
      if (route === "#/api") {
        const op = page.locator('details.op[data-path="/api/v1/what-if"][data-method="post"]');
        await op.locator(":scope > summary").click();
        await op.scrollIntoViewIfNeeded();
        const text = await op.textContent();
        assert(text.includes("analyst"), "POST /what-if does not show the analyst role");
        assert(text.includes("Request body") && text.includes("fail"), "POST /what-if does not show its request schema");
      }
    });
  }

  await check("a wrong token shows the sign-in form", null, async () => {
    const ctx = await browser.newContext({ viewport: { width: 1000, height: 700 } });
    const p = await ctx.newPage();
    const r = await fetch(`${url}/api/v1/twin`, { headers: { Authorization: "Bearer dpl_wrong_wrong" } });
    const message = (await r.json()).error.message;
    assert(r.status === 401, `a wrong token answers ${r.status}`);
    await p.goto(`${url}/#token=dpl_wrong_wrong`);
    await p.waitForSelector('[data-testid="signin"]', { timeout: 10_000 });
    const shown = await p.textContent('[data-testid="signin-message"]');
    assert(shown?.includes(message), `the sign-in form says “${shown}”, the server “${message}”`);
    await p.screenshot({ path: join(artifacts, `${String(step).padStart(2, "0")}-wrong-token.png`) });
    await ctx.close();
  });

  if (store) {
    await check("a change to the twin arrives live", page, async () => {
      await page.goto(`${url}/#/map`);
      await page.waitForSelector("canvas.map-canvas");
      await page.waitForTimeout(1500); // the event stream connects
      const changed = join(tmp, "shop");
      cpSync(join(repo, "examples", "shop"), changed, { recursive: true });
      const file = join(changed, "workloads.yaml");
      const text = readFileSync(file, "utf8");
      const bumped = text.replace(/replicas: (\d+)/, (_, n) => `replicas: ${Number(n) + 1}`);
      assert(bumped !== text, "no replicas to change in workloads.yaml");
      writeFileSync(file, bumped);
      run("--store", store, "load", changed);
      await page.waitForSelector(".toast >> text=/twin changed/i", { timeout: 20_000 });
    });
  }

  if (store) {
    await check("telemetry at its limit shows on the entity page", page, async () => {
      // A sample of now, as a sync would store it: the orders database's 500 GiB disk holds 600 GB.
      const csv = join(tmp, "full.csv");
      writeFileSync(csv, `entity,attribute,time,value\ndatastore/orders-db,disk_used_bytes,${new Date().toISOString()},600000000000\n`);
      run("--store", store, "observe", csv);
      // The server reads telemetry's signals at most every 30 s: reload the page until they show.
      const until = Date.now() + 60_000;
      let why = null;
      while (!why && Date.now() < until) {
        await page.goto(`${url}/#/entity/datastore/orders-db?t=${Date.now()}`);
        why = await page.waitForSelector(".health-why", { timeout: 5_000 }).catch(() => null);
      }
      assert(why, "no reason for the database's health within a minute");
      const text = await why.textContent();
      assert(/disk at its limit/.test(text) && text.includes("of 500 GiB"), `the reason says “${text}”`);
      const badge = await page.textContent(".page-head .state-degraded").catch(() => null);
      assert(badge, "the health badge is not degraded");
      // The same look at the telemetry finds the full disk a risk, told live.
      await page.waitForSelector(".toast >> text=/Risk: disk on datastore\\/orders-db/", { timeout: 20_000 });
    });
  }

  if (store) {
    await check("a viewer's what-if says the role it needs", null, async () => {
      const made = JSON.parse(run("--store", store, "--json", "token", "create", "ui-viewer", "--role", "viewer"));
      const ctx = await browser.newContext({ viewport: { width: 1400, height: 900 } });
      const p = await ctx.newPage();
      await p.goto(`${url}/#token=${made.token}`);
      await p.waitForFunction(() => document.body.dataset.mapDrawn, null, { timeout: 20_000 });
      await p.goto(`${url}/#/what-if?fail=zone/us-east-1a`);
      await p.click("#run");
      const banner = await p.waitForSelector('[data-testid="forbidden"]', { timeout: 10_000 });
      const text = await banner.textContent();
      assert(/your role cannot do this/i.test(text) && text.includes("analyst"), `the banner says “${text}”`);
      await p.screenshot({ path: join(artifacts, `${String(step).padStart(2, "0")}-viewer-forbidden.png`) });
      await ctx.close();
    });
  }

  await check("no script errors", null, async () => {
    assert(pageErrors.length === 0, pageErrors.join("; "));
  });
}

try {
  await main();
} catch (e) {
  failures.push(e.message);
  console.error(`FAIL ${e.message}`);
} finally {
  await browser?.close().catch(() => {});
  cleanup();
}
if (failures.length) {
  console.error(`\n${failures.length} failure(s):\n- ${failures.join("\n- ")}`);
  process.exit(1);
}
console.log(`\nall passed; screenshots in ${artifacts}`);
