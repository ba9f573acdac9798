/** The application shell: sign-in, navigation, keyboard shortcuts, theme, live updates, routing. */

import { get, setUnauthorizedHandler } from "./api.js";
import { clearToken, setToken, takeTokenFromFragment, token } from "./auth.js";
import { h } from "./dom.js";
import { on, startEvents, stopEvents } from "./events.js";
import { forgetMap } from "./mapdata.js";
import { clearError, toast } from "./notify.js";
import type { Page } from "./pages/page.js";
import { renderApi } from "./pages/api.js";
import { renderCapacity } from "./pages/capacity.js";
import { renderEntity } from "./pages/entity.js";
import { renderHistory } from "./pages/history.js";
import { renderMap } from "./pages/map.js";
import { renderPredictions } from "./pages/predictions.js";
import { renderSignIn } from "./pages/signin.js";
import { renderSpof } from "./pages/spof.js";
import { renderWhatIf } from "./pages/whatif.js";
import { onRouteChange, parse, type Route } from "./router.js";
import { currentTheme, initTheme, toggleTheme } from "./theme.js";
import type { Risk, TwinSummary } from "./types.js";

const PAGES: Record<string, Page> = {
  map: renderMap,
  entity: renderEntity,
  "what-if": renderWhatIf,
  spof: renderSpof,
  capacity: renderCapacity,
  history: renderHistory,
  predictions: renderPredictions,
  api: renderApi,
};

const NAV: [string, string, string][] = [
  ["map", "Map", "m"],
  ["what-if", "What-if", "w"],
  ["spof", "SPOF", "s"],
  ["capacity", "Capacity", "c"],
  ["history", "History", "h"],
  ["predictions", "Predictions", "p"],
  ["api", "API", "a"],
];

let leave: (() => void) | void = undefined;
let started = false;

function shell(): { main: HTMLElement; nav: HTMLElement; version: HTMLElement } {
  const themeBtn = h("button", { type: "button", id: "theme-toggle", class: "link", "aria-label": "Switch between dark and light themes" });
  const setThemeLabel = (): void => {
    themeBtn.textContent = currentTheme() === "dark" ? "☀ Light" : "☾ Dark";
  };
  setThemeLabel();
  themeBtn.addEventListener("click", () => {
    toggleTheme();
    setThemeLabel();
  });
  const nav = h(
    "nav",
    { "aria-label": "Pages" },
    NAV.map(([page, label, key]) => h("a", { href: `#/${page}`, "data-page": page, title: `g ${key}` }, label)),
  );
  const version = h("span", { class: "muted version" });
  const signOut = h("button", { type: "button", class: "link", onclick: () => signOutTo("Signed out.") }, "Sign out");
  const header = h("header", { class: "top" }, h("a", { href: "#/map", class: "brand" }, "Doppel"), nav, h("span", { class: "spacer" }), version, themeBtn, signOut);
  const main = h("main", { id: "main", tabindex: "-1" });
  document.getElementById("app")!.replaceChildren(header, h("div", { id: "banner" }), main, h("div", { id: "toasts", "aria-live": "polite" }));
  return { main, nav, version };
}

function signOutTo(message: string | null): void {
  leave?.();
  leave = undefined;
  stopEvents();
  clearToken();
  forgetMap();
  const app = document.getElementById("app")!;
  renderSignIn(app, message, (t) => {
    setToken(t);
    boot();
  });
}

function route(parts: { main: HTMLElement; nav: HTMLElement }, r: Route): void {
  leave?.();
  leave = undefined;
  clearError();
  for (const a of parts.nav.querySelectorAll("a")) {
    if (a.dataset.page === r.page) a.setAttribute("aria-current", "page");
    else a.removeAttribute("aria-current");
  }
  document.body.dataset.page = r.page;
  document.title = `Doppel · ${r.page === "entity" ? r.arg : r.page}`;
  const page = PAGES[r.page] ?? renderMap;
  leave = page(parts.main, r);
}

function shortcuts(): void {
  let g = 0;
  document.addEventListener("keydown", (e) => {
    const t = e.target as HTMLElement | null;
    if (e.ctrlKey || e.metaKey || e.altKey) return;
    if (t && (t.tagName === "INPUT" || t.tagName === "TEXTAREA" || t.tagName === "SELECT")) return;
    if (e.key === "g") {
      g = Date.now();
      return;
    }
    if (Date.now() - g < 1200) {
      const hit = NAV.find(([, , k]) => k === e.key);
      if (hit) {
        location.hash = `#/${hit[0]}`;
        e.preventDefault();
      }
      g = 0;
    }
  });
}

/** Starts the app once a token is known: shell, routes, live updates. */
function boot(): void {
  const parts = shell();
  get<TwinSummary>("/twin")
    .then((t) => {
      parts.version.textContent = `twin v${t.version} · ${t.entities} entities`;
    })
    .catch(() => {});
  current = parts;
  if (!started) {
    started = true;
    onRouteChange((r) => {
      if (token() && document.getElementById("main")) route(current, r);
    });
    shortcuts();
    on("twin", (e) => {
      const d = e.data as { version?: number; changed?: string[] };
      current.version.textContent = `twin v${d.version ?? "?"}`;
      toast(`The twin changed (v${d.version ?? "?"}, ${d.changed?.length ?? 0} entities)`);
    });
    on("risk", (e) => {
      const r = (e.data as { risk?: Partial<Risk> }).risk ?? {};
      toast(`Risk: ${r.what ?? r.subject ?? "new risk found"}`, "#/predictions", 12000);
    });
  }
  route(parts, parse(location.hash));
  startEvents();
}

let current: { main: HTMLElement; nav: HTMLElement; version: HTMLElement };

initTheme();
takeTokenFromFragment();
setUnauthorizedHandler((message) => signOutTo(message));
if (token()) boot();
else if (parse(location.hash).page === "api") {
  // The API reference needs no token.
  const main = h("main", { id: "main" });
  document.getElementById("app")!.replaceChildren(
    h("header", { class: "top" }, h("a", { href: "#/map", class: "brand" }, "Doppel"), h("span", { class: "spacer" }), h("button", { type: "button", class: "link", onclick: () => signOutTo(null) }, "Sign in")),
    h("div", { id: "banner" }),
    main,
  );
  renderApi(main);
} else signOutTo(null);
