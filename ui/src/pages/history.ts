/** `#/history`: the change log as a timeline, and the diff of two versions. */

import { get } from "../api.js";
import { empty, entityLink, h, spinner } from "../dom.js";
import { fmtTime } from "../format.js";
import { showError } from "../notify.js";
import type { HistoryItem } from "../types.js";

interface Diff {
  from: number;
  to: number;
  summary: { entities: Record<string, { added: number; updated: number; removed: number }>; relations: { added: number; updated: number; removed: number } };
  changes: Record<string, Record<string, unknown>>[];
}

/** A one-line title of a change (`UpdateEntity deployment/shop/frontend`), and the entity it names. */
export function changeTitle(c: Record<string, Record<string, unknown>>): { op: string; key: string | null; text: string } {
  const op = Object.keys(c)[0] ?? "change";
  const body = c[op] ?? {};
  const key = typeof body["key"] === "string" ? body["key"] : null;
  if (key) return { op, key, text: key };
  const from = body["from"];
  const to = body["to"];
  const type = body["type"] ?? body["rel_type"] ?? body["relation"];
  if (typeof from === "string" && typeof to === "string") return { op, key: null, text: `${from} ${typeof type === "string" ? type : "→"} ${to}` };
  return { op, key: null, text: JSON.stringify(body).slice(0, 120) };
}

function counts(c: { added: number; updated: number; removed: number }): string {
  return `+${c.added} ~${c.updated} −${c.removed}`;
}

/** Renders the history page. */
export const renderHistory = (root: HTMLElement): (() => void) => {
  let alive = true;
  const diffBox = h("div", { class: "diff", "data-testid": "diff" });
  root.replaceChildren(h("h1", null, "History"), spinner());
  get<HistoryItem[]>("/history?limit=50")
    .then((items) => {
      if (!alive) return;
      if (items.length === 0) {
        root.replaceChildren(h("h1", null, "History"), empty("No versions yet: load an estate to start the history."));
        return;
      }
      const versions = items.map((i) => i.version);
      const pick = (id: string, label: string, value: number): HTMLSelectElement => {
        const sel = h("select", { id, "aria-label": label }, versions.map((v) => h("option", { value: v, selected: v === value }, `v${v}`)));
        return sel;
      };
      const newest = versions[0]!;
      const from = pick("diff-from", "From version", versions[1] ?? newest);
      const to = pick("diff-to", "To version", newest);
      const run = (): void => {
        diffBox.replaceChildren(spinner("Comparing…"));
        get<Diff>(`/diff?from=${from.value}&to=${to.value}`)
          .then((d) => {
            const kinds = Object.entries(d.summary.entities);
            diffBox.replaceChildren(
              h("h2", null, `v${d.from} → v${d.to}`),
              h(
                "p",
                null,
                kinds.length ? kinds.map(([k, c]) => `${k} ${counts(c)}`).join(", ") : "No entity changed",
                `; relations ${counts(d.summary.relations)}.`,
              ),
              d.changes.length === 0
                ? empty("The two versions are the same.")
                : h(
                    "ul",
                    { class: "changes" },
                    d.changes.map((c) => {
                      const t = changeTitle(c);
                      return h(
                        "li",
                        null,
                        h(
                          "details",
                          null,
                          h("summary", null, h("span", { class: `badge op-${t.op}` }, t.op), " ", t.key ? entityLink(t.key) : t.text),
                          h("pre", null, JSON.stringify(c[t.op], null, 2)),
                        ),
                      );
                    }),
                  ),
            );
          })
          .catch((e) => {
            diffBox.replaceChildren();
            showError(e);
          });
      };
      root.replaceChildren(
        h(
          "section",
          { class: "history-page" },
          h("h1", null, "History"),
          h(
            "ol",
            { class: "timeline", "data-testid": "timeline" },
            items.map((i) =>
              h(
                "li",
                { "data-version": i.version },
                h("div", { class: "tl-head" }, h("strong", null, `v${i.version}`), " ", h("span", { class: "muted" }, `${fmtTime(i.time_ms)} · ${i.source} · ${i.author}`)),
                h("div", null, i.summary),
                h("div", { class: "muted" }, `entities ${counts(i.entities)}, relations ${counts(i.relations)}`),
                h("button", { type: "button", class: "link", onclick: () => ((to.value = String(i.version)), (from.value = String(Math.max(i.version - 1, versions[versions.length - 1]!))), run()) }, "What changed"),
              ),
            ),
          ),
          h("h2", null, "Compare two versions"),
          h("div", { class: "row" }, h("label", null, "From ", from), h("label", null, "to ", to), h("button", { type: "button", class: "primary", onclick: run }, "Diff")),
          diffBox,
        ),
      );
    })
    .catch((e) => {
      if (!alive) return;
      root.replaceChildren(h("h1", null, "History"), empty("The history is not available."));
      showError(e);
    });
  return () => {
    alive = false;
  };
};
