/** Hash routes: `#/map`, `#/entity/<key>`, `#/what-if`, `#/spof`, ... */
/** The pages the router knows; anything else falls back to the map. */
export const PAGES = ["map", "entity", "what-if", "spof", "capacity", "history", "predictions", "api"];
/** Parses a location hash (`#/entity/service/cart?x=1`) into a route. */
export function parse(hash) {
    const raw = hash.replace(/^#\/?/, "");
    const [path = "", qs = ""] = raw.split("?", 2);
    const slash = path.indexOf("/");
    const page = slash < 0 ? path : path.slice(0, slash);
    const arg = slash < 0 ? "" : decodeURIComponent(path.slice(slash + 1));
    const known = PAGES.includes(page);
    return { page: known ? page : "map", arg: known ? arg : "", query: new URLSearchParams(qs) };
}
/** Calls `render` with the new route whenever the hash changes. */
export function onRouteChange(render) {
    window.addEventListener("hashchange", () => render(parse(location.hash)));
}
/** Navigates to a hash route. */
export function navigate(hash) {
    if (location.hash === hash)
        window.dispatchEvent(new HashChangeEvent("hashchange"));
    else
        location.hash = hash;
}
