/** `#/predictions`: what breaks when, soonest first, with the fix and whether it was checked. */

import { get } from "../api.js";
import { empty, entityLink, h, spinner } from "../dom.js";
import { fmtRelative, fmtTime } from "../format.js";
import { showError } from "../notify.js";
import type { Predictions, Risk } from "../types.js";

/** The fix of a risk in words and whether it was checked on a fork of the twin. */
export function fixOf(r: Risk): { text: string; checked: boolean | null } {
  if (r.remedy) {
    const what = r.remedy.replicas.map(([k, now, need]) => `${k} ${now} → ${need} replicas`).join(", ");
    const cost = r.remedy.usd_per_hour !== null ? ` (+$${r.remedy.usd_per_hour.toFixed(2)} per hour)` : "";
    return { text: `${what || (typeof r.fix === "string" ? r.fix : "a change")}${cost}`, checked: r.remedy.checked };
  }
  if (r.fix === null || r.fix === undefined) return { text: "No fix proposed.", checked: null };
  if (typeof r.fix === "string") {
    const checked = /checked on a fork: every objective holds|confirmed/.test(r.fix) ? true : /not enough|not yet confirmed/.test(r.fix) ? false : null;
    return { text: r.fix, checked };
  }
  return { text: JSON.stringify(r.fix), checked: typeof r.fix.checked === "boolean" ? r.fix.checked : null };
}

function subjectLink(subject: string): HTMLElement {
  const dot = subject.lastIndexOf(".");
  const key = dot > subject.indexOf("/") && dot > 0 ? subject.slice(0, dot) : subject;
  const attr = key === subject ? null : subject.slice(dot + 1);
  const a = entityLink(key, subject);
  if (attr) a.href = `#/entity/${key}?series=${encodeURIComponent(attr)}`;
  return a;
}

/** Renders the predictions page. */
export const renderPredictions = (root: HTMLElement): (() => void) => {
  let alive = true;
  const horizon = h("select", { "aria-label": "Horizon" }, ["3d", "7d", "14d", "30d"].map((v) => h("option", { value: v, selected: v === "14d" }, v)));
  const body = h("div");
  const load = (): void => {
    body.replaceChildren(spinner("Forecasting every series…"));
    get<Predictions>(`/predictions?horizon=${horizon.value}`)
      .then((p) => {
        if (!alive) return;
        const risks = [...p.risks].sort((a, b) => a.at_ms - b.at_ms);
        body.replaceChildren(
          risks.length === 0
            ? empty(`Nothing is predicted to break within ${horizon.value}.`)
            : h(
                "ol",
                { class: "risks", "data-testid": "risks" },
                risks.map((r) => {
                  const fix = fixOf(r);
                  return h(
                    "li",
                    { class: `risk risk-${r.kind}`, "data-kind": r.kind },
                    h(
                      "div",
                      { class: "risk-when" },
                      h("strong", null, fmtRelative(r.at_ms)),
                      h("span", { class: "muted" }, fmtTime(r.at_ms)),
                      r.interval_ms ? h("span", { class: "muted" }, `between ${fmtTime(r.interval_ms[0])} and ${r.interval_ms[1] !== null ? fmtTime(r.interval_ms[1]) : "later"}`) : null,
                    ),
                    h("div", { class: "risk-what" }, h("span", { class: "badge" }, r.kind), " ", subjectLink(r.subject), h("p", null, r.what)),
                    h(
                      "div",
                      { class: "risk-fix" },
                      h("span", null, fix.text),
                      fix.checked === null ? null : h("span", { class: `badge ${fix.checked ? "state-up" : "state-degraded"}` }, fix.checked ? "checked" : "not enough"),
                    ),
                  );
                }),
              ),
        );
      })
      .catch((e) => {
        if (!alive) return;
        body.replaceChildren(empty("The predictions are not available."));
        showError(e);
      });
  };
  horizon.addEventListener("change", load);
  root.replaceChildren(h("section", { class: "predictions-page" }, h("header", { class: "page-head" }, h("h1", null, "Predictions"), h("label", null, "Horizon ", horizon)), body));
  load();
  return () => {
    alive = false;
  };
};
