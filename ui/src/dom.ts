/** Small helpers to build DOM and SVG elements without a framework. */

/** A child accepted by {@link h}: nodes, text, or nothing (skipped). */
export type Child = Node | string | number | null | undefined | false | Child[];

/** Attributes for {@link h}: strings set as attributes, functions under `on*` as listeners. */
export type Attrs = Record<string, string | number | boolean | null | undefined | EventListener>;

function append(parent: Node, child: Child): void {
  if (child === null || child === undefined || child === false) return;
  if (Array.isArray(child)) {
    for (const c of child) append(parent, c);
  } else if (child instanceof Node) {
    parent.appendChild(child);
  } else {
    parent.appendChild(document.createTextNode(String(child)));
  }
}

function setAttrs(el: Element, attrs: Attrs | null): void {
  if (!attrs) return;
  for (const [name, value] of Object.entries(attrs)) {
    if (value === null || value === undefined || value === false) continue;
    if (typeof value === "function") {
      el.addEventListener(name.replace(/^on/, "").toLowerCase(), value);
    } else {
      el.setAttribute(name, value === true ? "" : String(value));
    }
  }
}

/** Creates an HTML element with attributes and children. */
export function h<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attrs: Attrs | null = null,
  ...children: Child[]
): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  setAttrs(el, attrs);
  append(el, children);
  return el;
}

const SVG_NS = "http://www.w3.org/2000/svg";

/** Creates an SVG element with attributes and children. */
export function s<K extends keyof SVGElementTagNameMap>(
  tag: K,
  attrs: Attrs | null = null,
  ...children: Child[]
): SVGElementTagNameMap[K] {
  const el = document.createElementNS(SVG_NS, tag);
  setAttrs(el, attrs);
  append(el, children);
  return el;
}

/** Replaces every child of `el` with `children`. */
export function mount(el: Element, ...children: Child[]): void {
  el.replaceChildren();
  append(el, children);
}

/** A link to an entity's page. */
export function entityLink(key: string, text: string = key): HTMLAnchorElement {
  return h("a", { href: `#/entity/${key}`, class: "entity-link" }, text);
}

/** A coloured badge for a health or state word (up, degraded, down, unknown). */
export function stateBadge(state: string): HTMLSpanElement {
  return h("span", { class: `badge state-${state}`, "data-state": state }, state);
}

/** A loading indicator, shown for calls that take a moment. */
export function spinner(text = "Loading…"): HTMLDivElement {
  return h("div", { class: "loading", role: "status", "aria-live": "polite" }, h("span", { class: "spin" }), text);
}

/** A friendly empty state. */
export function empty(text: string): HTMLDivElement {
  return h("div", { class: "empty" }, text);
}
