/** `#/api`: the API reference, drawn from `/api/v1/openapi.json`. */

import { empty, h, spinner } from "../dom.js";
import { showError } from "../notify.js";

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };
type Obj = { [k: string]: Json };

function isObj(v: Json | undefined): v is Obj {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

const METHODS = ["get", "post", "put", "patch", "delete"];

/** Resolves a local `$ref` (`#/components/schemas/X`) in the document. */
function resolve(doc: Obj, v: Json | undefined): Json | undefined {
  if (!isObj(v) || typeof v["$ref"] !== "string") return v;
  let cur: Json | undefined = doc;
  for (const part of v["$ref"].replace(/^#\//, "").split("/")) cur = isObj(cur) ? cur[part.replace(/~1/g, "/").replace(/~0/g, "~")] : undefined;
  return cur;
}

function typeName(doc: Obj, sch: Json | undefined): string {
  if (!isObj(sch)) return "any";
  if (typeof sch["$ref"] === "string") return sch["$ref"].split("/").pop() ?? "ref";
  const t = sch["type"];
  if (Array.isArray(t)) return t.join(" | ");
  if (t === "array") return `${typeName(doc, sch["items"])}[]`;
  if (typeof t === "string") return sch["format"] ? `${t} (${String(sch["format"])})` : t;
  for (const k of ["oneOf", "anyOf", "allOf"]) {
    const alts = sch[k];
    if (Array.isArray(alts)) return alts.map((a) => typeName(doc, a)).join(k === "allOf" ? " & " : " | ");
  }
  if (Array.isArray(sch["enum"])) return sch["enum"].map((e) => JSON.stringify(e)).join(" | ");
  return "object";
}

/** Draws a schema as a nested list of fields (types, descriptions), following `$ref`s a few levels deep. */
export function schemaTree(doc: Obj, sch: Json | undefined, depth = 0, seen: Set<string> = new Set()): HTMLElement {
  const ref = isObj(sch) && typeof sch["$ref"] === "string" ? sch["$ref"] : null;
  const s = resolve(doc, sch);
  if (!isObj(s)) return h("span", { class: "muted" }, "any");
  if (ref && (seen.has(ref) || depth > 5)) return h("code", null, typeName(doc, sch));
  const next = new Set(seen);
  if (ref) next.add(ref);
  const props = isObj(s["properties"]) ? s["properties"] : null;
  const items = s["type"] === "array" ? s["items"] : undefined;
  const required = Array.isArray(s["required"]) ? (s["required"] as Json[]).map(String) : [];
  const desc = typeof s["description"] === "string" ? s["description"] : null;
  if (props) {
    return h(
      "div",
      { class: "schema" },
      h("code", null, ref ? (ref.split("/").pop() ?? "") : "object"),
      desc ? h("span", { class: "muted" }, ` ${desc}`) : null,
      h(
        "ul",
        null,
        Object.entries(props).map(([name, p]) => {
          const inner = resolve(doc, p);
          const nested = isObj(inner) && (isObj(inner["properties"]) || (inner["type"] === "array" && isObj(resolve(doc, inner["items"])) && isObj((resolve(doc, inner["items"]) as Obj)["properties"])));
          const pd = isObj(p) && typeof p["description"] === "string" ? p["description"] : isObj(inner) && typeof inner["description"] === "string" ? inner["description"] : null;
          return h(
            "li",
            null,
            h("code", { class: "field" }, name),
            required.includes(name) ? h("span", { class: "req" }, "*") : null,
            " ",
            h("code", { class: "type" }, typeName(doc, p)),
            pd ? h("span", { class: "muted" }, ` ${pd}`) : null,
            nested && depth < 4 ? h("details", null, h("summary", null, "fields"), schemaTree(doc, p, depth + 1, next)) : null,
          );
        }),
      ),
    );
  }
  if (items !== undefined) return h("div", { class: "schema" }, "array of ", schemaTree(doc, items, depth + 1, next));
  return h("div", { class: "schema" }, h("code", null, typeName(doc, sch)), desc ? h("span", { class: "muted" }, ` ${desc}`) : null);
}

function operation(doc: Obj, path: string, method: string, op: Obj): HTMLElement {
  const role = typeof op["x-min-role"] === "string" ? op["x-min-role"] : "none";
  const params = Array.isArray(op["parameters"]) ? op["parameters"].map((p) => resolve(doc, p)).filter(isObj) : [];
  const body = resolve(doc, op["requestBody"]);
  const bodySchema = isObj(body) && isObj(body["content"]) ? Object.values(body["content"]).find(isObj)?.["schema"] : undefined;
  const responses = isObj(op["responses"]) ? Object.entries(op["responses"]) : [];
  return h(
    "details",
    { class: "op", "data-path": path, "data-method": method },
    h(
      "summary",
      null,
      h("span", { class: `method m-${method}` }, method.toUpperCase()),
      " ",
      h("code", null, path),
      " ",
      h("span", { class: "muted" }, typeof op["summary"] === "string" ? op["summary"] : ""),
      " ",
      h("span", { class: `badge role role-${role}`, title: "role needed" }, role),
    ),
    typeof op["description"] === "string" ? h("p", null, op["description"]) : null,
    h("p", null, "Role needed: ", h("strong", null, role)),
    params.length
      ? h(
          "table",
          { class: "table" },
          h("thead", null, h("tr", null, ["parameter", "in", "required", "type", "description"].map((t) => h("th", null, t)))),
          h(
            "tbody",
            null,
            params.map((p) =>
              h(
                "tr",
                null,
                h("td", null, h("code", null, String(p["name"] ?? ""))),
                h("td", null, String(p["in"] ?? "")),
                h("td", null, p["required"] === true ? "yes" : "no"),
                h("td", null, h("code", null, typeName(doc, p["schema"]))),
                h("td", { class: "muted" }, typeof p["description"] === "string" ? p["description"] : ""),
              ),
            ),
          ),
        )
      : null,
    bodySchema !== undefined ? h("div", null, h("h4", null, "Request body"), schemaTree(doc, bodySchema)) : null,
    responses.length
      ? h(
          "div",
          null,
          h("h4", null, "Answers"),
          responses.map(([code, r]) => {
            const res = resolve(doc, r);
            const sch = isObj(res) && isObj(res["content"]) ? Object.values(res["content"]).find(isObj)?.["schema"] : undefined;
            return h(
              "div",
              { class: "response" },
              h("strong", null, code),
              " ",
              h("span", { class: "muted" }, isObj(res) && typeof res["description"] === "string" ? res["description"] : ""),
              sch !== undefined ? schemaTree(doc, sch) : null,
            );
          }),
        )
      : null,
  );
}

/** Renders the API reference. */
export const renderApi = (root: HTMLElement): (() => void) => {
  let alive = true;
  root.replaceChildren(h("h1", null, "API"), spinner());
  fetch("/api/v1/openapi.json", { headers: { Accept: "application/json" } })
    .then(async (res) => {
      if (!res.ok) throw new Error(`openapi.json: ${res.status} ${res.statusText}`);
      return (await res.json()) as Json;
    })
    .then((doc) => {
      if (!alive) return;
      if (!isObj(doc) || !isObj(doc["paths"])) {
        root.replaceChildren(h("h1", null, "API"), empty("The API description has no paths."));
        return;
      }
      const groups = new Map<string, HTMLElement[]>();
      for (const [path, item] of Object.entries(doc["paths"])) {
        if (!isObj(item)) continue;
        for (const m of METHODS) {
          const op = item[m];
          if (!isObj(op)) continue;
          const tag = Array.isArray(op["tags"]) && typeof op["tags"][0] === "string" ? op["tags"][0] : "other";
          const list = groups.get(tag) ?? [];
          list.push(operation(doc, path, m, op));
          groups.set(tag, list);
        }
      }
      const info = isObj(doc["info"]) ? doc["info"] : {};
      root.replaceChildren(
        h(
          "section",
          { class: "api-page" },
          h("h1", null, `${typeof info["title"] === "string" ? info["title"] : "API"} ${typeof info["version"] === "string" ? info["version"] : ""}`),
          h("p", { class: "muted" }, "Every call takes ", h("code", null, "Authorization: Bearer <token>"), "; the badge is the least role that may call it (viewer < analyst < operator < admin)."),
          [...groups.entries()].sort(([a], [b]) => a.localeCompare(b)).map(([tag, ops]) => h("section", { class: "api-group", "data-tag": tag }, h("h2", null, tag), ops)),
        ),
      );
    })
    .catch((e) => {
      if (!alive) return;
      root.replaceChildren(h("h1", null, "API"), empty("The API description is not available."));
      showError(e);
    });
  return () => {
    alive = false;
  };
};
