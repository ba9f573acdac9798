/** `#/spof`: single points of failure and every single failure ranked by its cost. */

import { ApiError, get } from "../api.js";
import { empty, entityLink, h, spinner, stateBadge } from "../dom.js";
import { runJob } from "../jobs.js";
import { fmtNumber } from "../format.js";
import { showError } from "../notify.js";
import type { SpofReport } from "../types.js";

/** Renders the SPOF page. */
export const renderSpof = (root: HTMLElement): (() => void) => {
  let alive = true;
  const ctl = new AbortController();
  const status = spinner("Sweeping every single failure (this can take a while)…");
  const bar = h("progress", { max: 1, value: 0, "aria-label": "Progress of the sweep" });
  root.replaceChildren(h("h1", null, "Single points of failure"), status, bar);
  // The sweep runs as a job (POST /jobs/spof); a server without jobs answers GET /spof.
  runJob<SpofReport>("spof", { at: "peak" }, (j) => {
    bar.max = Math.max(j.total, 1);
    bar.value = j.done;
    status.lastChild!.textContent = `${j.stage || "sweeping"}: ${j.done} of ${j.total || "?"}`;
  }, ctl.signal)
    .catch((e: unknown) => {
      if (e instanceof ApiError && (e.status === 404 || e.status === 405)) return get<SpofReport>("/spof");
      throw e;
    })
    .then((r) => {
      if (!alive) return;
      const ranked = [...r.singles].sort((a, b) => b.impact - a.impact);
      root.replaceChildren(
        h(
          "section",
          { class: "spof-page" },
          h("h1", null, "Single points of failure"),
          h("p", { class: "summary" }, `${r.components} components, ${r.entries} entry points, ${r.swept} failures swept at ${r.load}.`),
          h("h2", null, `Single points of failure (${r.spofs.length})`),
          r.spofs.length === 0
            ? empty("No single component cuts off an entry point.")
            : h(
                "table",
                { class: "table", "data-testid": "spofs" },
                h("thead", null, h("tr", null, h("th", null, "component"), h("th", null, "class"), h("th", null, "entry points cut off"), h("th", null, "why"))),
                h(
                  "tbody",
                  null,
                  r.spofs.map((s) =>
                    h("tr", null, h("td", null, entityLink(s.component)), h("td", null, s.class), h("td", { class: "num" }, String(s.entries.length)), h("td", { class: "muted" }, s.why.join(" → "))),
                  ),
                ),
              ),
          h("h2", null, "Every single failure, ranked by impact"),
          ranked.length === 0
            ? empty("Nothing was swept.")
            : h(
                "table",
                { class: "table", "data-testid": "singles" },
                h(
                  "thead",
                  null,
                  h("tr", null, ["#", "component", "class", "entry points down", "degraded", "components down", "rps lost", "worst", "error budget", "cause"].map((t) => h("th", null, t))),
                ),
                h(
                  "tbody",
                  null,
                  ranked.map((s, i) =>
                    h(
                      "tr",
                      null,
                      h("td", { class: "num" }, String(i + 1)),
                      h("td", null, entityLink(s.component)),
                      h("td", null, s.class),
                      h("td", { class: "num" }, String(s.entries_down.length)),
                      h("td", { class: "num" }, String(s.entries_degraded.length)),
                      h("td", { class: "num" }, String(s.components_down)),
                      h("td", { class: "num" }, fmtNumber(s.rps_down)),
                      h("td", null, s.simulated ? stateBadge(s.simulated.worst) : "–"),
                      h("td", { class: "num" }, s.simulated?.worst_budget_pct != null ? `${s.simulated.worst_budget_pct.toFixed(0)}%` : "–"),
                      h("td", { class: "muted" }, s.simulated?.cause.join(" ← ") ?? ""),
                    ),
                  ),
                ),
              ),
          r.gaps.length ? h("h2", null, "Redundancy gaps") : null,
          r.gaps.length ? h("ul", null, r.gaps.map((g) => h("li", null, entityLink(g.subject), `: ${g.detail} (${g.kind.replace(/_/g, " ")})`))) : null,
          r.notes.length ? h("ul", { class: "notes" }, r.notes.map((n) => h("li", { class: "muted" }, n))) : null,
        ),
      );
    })
    .catch((e) => {
      if (!alive) return;
      root.replaceChildren(h("h1", null, "Single points of failure"), empty("The sweep is not available."));
      showError(e);
    });
  return () => {
    alive = false;
    ctl.abort();
  };
};
