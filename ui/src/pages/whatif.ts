/** `#/what-if`: pick failures and a load factor, run the scenario, and see what it breaks. */

import { post } from "../api.js";
import { empty, entityLink, h, spinner, stateBadge } from "../dom.js";
import { fmtNumber, fmtSeconds } from "../format.js";
import { MapView } from "../map/render.js";
import { mapData } from "../mapdata.js";
import { clearError, showError } from "../notify.js";
import { navigate, type Route } from "../router.js";
import type { Health, MapNode, WhatIfReport } from "../types.js";
import { legend, searchNodes } from "./map.js";

/** The states of a report's stations that count as affected. */
const AFFECTED = new Set(["down", "degraded"]);

/** The map marks of a report: each affected station with its worst state, and the failed entities down. */
export function marksOf(r: WhatIfReport, failed: string[]): Map<string, Health> {
  const marks = new Map<string, Health>();
  for (const st of r.stations) if (AFFECTED.has(st.worst)) marks.set(st.key, st.worst as Health);
  for (const f of failed) marks.set(f, "down");
  return marks;
}

function causes(r: WhatIfReport): string[][] {
  const seen = new Set<string>();
  const out: string[][] = [];
  for (const e of r.entries) {
    for (const span of e.timeline) {
      if (span.cause.length === 0) continue;
      const id = span.cause.join("\n");
      if (seen.has(id)) continue;
      seen.add(id);
      out.push(span.cause);
    }
  }
  return out;
}

function renderReport(box: HTMLElement, r: WhatIfReport, failed: string[]): MapView {
  const affected = r.stations.filter((st) => AFFECTED.has(st.worst));
  const stage = h("div", { class: "map-stage small" });
  const chains = causes(r);
  box.replaceChildren(
    h(
      "div",
      { class: "report", "data-testid": "whatif-report" },
      h(
        "p",
        { class: "summary" },
        r.unaffected ? "Nothing user-facing is affected. " : "",
        `${r.scenario} at ${r.load}: `,
        `${r.entries.filter((e) => e.worst === "down").length} entry points down, `,
        `${r.entries.filter((e) => e.worst === "degraded").length} degraded, `,
        `${affected.length} stations affected`,
        r.recovered_at_s !== null ? `; recovered after ${fmtSeconds(r.recovered_at_s)}.` : "; not recovered within the horizon.",
      ),
      h("h2", null, "Entry points"),
      h(
        "table",
        { class: "table", "data-testid": "entries" },
        h("thead", null, h("tr", null, ["entry point", "rate", "before", "worst", "error budget used", "recovered"].map((t) => h("th", null, t)))),
        h(
          "tbody",
          null,
          r.entries.map((e) =>
            h(
              "tr",
              { "data-state": e.worst },
              h("td", null, entityLink(e.service), ` ${e.endpoint}`),
              h("td", { class: "num" }, `${fmtNumber(e.rate_rps)} rps`),
              h("td", null, stateBadge(e.before)),
              h("td", null, stateBadge(e.worst)),
              h("td", { class: "num" }, e.error_budget_used_pct === null ? "–" : `${e.error_budget_used_pct.toFixed(1)}%`),
              h("td", null, e.recovered_at_s === null ? (e.worst === "up" ? "–" : "no") : fmtSeconds(e.recovered_at_s)),
            ),
          ),
        ),
      ),
      h("h2", null, `Affected (${affected.length})`),
      affected.length === 0
        ? empty("No station is degraded or down.")
        : h(
            "ul",
            { class: "affected", "data-testid": "affected" },
            affected.map((st) =>
              h(
                "li",
                { "data-key": st.key, "data-state": st.worst },
                stateBadge(st.worst),
                " ",
                entityLink(st.key),
                st.peak_utilisation !== null ? h("span", { class: "muted" }, ` peak utilisation ${(st.peak_utilisation * 100).toFixed(0)}%`) : null,
              ),
            ),
          ),
      h("h2", null, "On the map"),
      legend(),
      stage,
      h("h2", null, "Cause chains"),
      chains.length === 0
        ? empty("No causes: nothing failed.")
        : h("ol", { class: "causes" }, chains.map((c) => h("li", null, h("ol", { class: "chain" }, c.map((step) => h("li", null, step)))))),
      r.events.length ? h("h2", null, "Timeline") : null,
      r.events.length ? h("ul", { class: "events" }, r.events.map((ev) => h("li", null, h("span", { class: "muted" }, `${fmtSeconds(ev.t_s)} `), ev.what))) : null,
      r.pending.length ? h("h2", null, "Pods that cannot be placed") : null,
      r.pending.length
        ? h("ul", null, r.pending.map((p) => h("li", null, entityLink(p.workload), ` since ${fmtSeconds(p.since_s)}: `, h("span", { class: "muted" }, p.reason))))
        : null,
      r.shortfall ? h("p", null, `Shortfall: ${r.shortfall.pods} pods, ${fmtNumber(r.shortfall.cores)} cores, ${fmtNumber(r.shortfall.memory_gib)} GiB.`) : null,
      r.notes.length ? h("ul", { class: "notes" }, r.notes.map((n) => h("li", { class: "muted" }, n))) : null,
    ),
  );
  const view = new MapView(stage, { open: (key) => navigate(`#/entity/${key}`) });
  view.setMode("services");
  view.setMarks(marksOf(r, failed));
  mapData()
    .then((d) => view.setData(d))
    .catch(showError);
  return view;
}

/** Renders the what-if builder. */
export const renderWhatIf = (root: HTMLElement, route: Route): (() => void) => {
  const failed: string[] = [];
  const pre = route.query.get("fail");
  if (pre) failed.push(...pre.split(",").filter(Boolean));
  let nodes: MapNode[] = [];
  let resultView: MapView | null = null;

  const chips = h("ul", { class: "chips", "aria-label": "Failures", "data-testid": "failures" });
  const drawChips = (): void => {
    chips.replaceChildren(
      ...failed.map((k) =>
        h(
          "li",
          { "data-key": k },
          k,
          " ",
          h("button", { type: "button", class: "link", "aria-label": `Remove ${k}`, onclick: () => (failed.splice(failed.indexOf(k), 1), drawChips()) }, "×"),
        ),
      ),
    );
    if (failed.length === 0) chips.appendChild(h("li", { class: "muted" }, "No failure chosen: the scenario runs at the load only."));
  };
  const add = (k: string): void => {
    if (k && !failed.includes(k)) failed.push(k);
    drawChips();
  };

  const placeSelect = h("select", { id: "place", "aria-label": "Zone, region or node to fail" }, h("option", { value: "" }, "Choose a region, zone or node…"));
  const fillPlaces = (): void => {
    for (const kind of ["region", "zone", "node"]) {
      const list = nodes.filter((n) => n.kind === kind).sort((a, b) => a.key.localeCompare(b.key));
      if (list.length) placeSelect.appendChild(h("optgroup", { label: kind }, list.map((n) => h("option", { value: n.key }, n.key))));
    }
  };
  const addPlace = h("button", { type: "button", onclick: () => add(placeSelect.value) }, "Add");

  const search = h("input", { type: "search", id: "fail-search", placeholder: "Search entities to fail", "aria-label": "Search entities to fail", autocomplete: "off" });
  const hits = h("ul", { class: "search-results inline" });
  search.addEventListener("input", () => {
    hits.replaceChildren(
      ...searchNodes(nodes, search.value, 8).map((n) =>
        h("li", null, h("button", { type: "button", "data-key": n.key, onclick: () => (add(n.key), (search.value = ""), hits.replaceChildren()) }, n.key)),
      ),
    );
  });
  search.addEventListener("keydown", (e) => {
    if (e.key !== "Enter") return;
    e.preventDefault();
    const first = searchNodes(nodes, search.value, 1)[0];
    if (first) {
      add(first.key);
      search.value = "";
      hits.replaceChildren();
    }
  });

  const load = h("input", { type: "range", id: "load", min: "0.5", max: "4", step: "0.25", value: "1", "aria-label": "Load factor" });
  const loadOut = h("output", { for: "load" }, "1x");
  load.addEventListener("input", () => (loadOut.textContent = `${load.value}x`));
  const at = h(
    "select",
    { id: "at", "aria-label": "When in the day" },
    h("option", { value: "peak" }, "at the daily peak"),
    h("option", { value: "average" }, "at the daily average"),
  );
  const results = h("div", { class: "results" });
  const run = h("button", { type: "submit", class: "primary", id: "run" }, "Run");
  const form = h(
    "form",
    { class: "whatif-form" },
    h("fieldset", null, h("legend", null, "Fail"), h("div", { class: "row" }, placeSelect, addPlace), h("div", { class: "search" }, search, hits), chips),
    h("fieldset", null, h("legend", null, "Load"), h("div", { class: "row" }, load, loadOut, at)),
    run,
  );
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    clearError();
    resultView?.destroy();
    resultView = null;
    run.disabled = true;
    results.replaceChildren(spinner("Running the scenario…"));
    const body = { fail: [...failed], load: `${load.value}x`, at: at.value };
    post<WhatIfReport>("/what-if", body)
      .then((r) => {
        resultView = renderReport(results, r, body.fail);
      })
      .catch((err) => {
        results.replaceChildren();
        showError(err);
      })
      .finally(() => (run.disabled = false));
  });
  drawChips();
  root.replaceChildren(h("section", { class: "whatif-page" }, h("h1", null, "What if…"), form, results));
  mapData()
    .then((d) => {
      nodes = d.nodes;
      fillPlaces();
    })
    .catch(showError);
  return () => resultView?.destroy();
};
