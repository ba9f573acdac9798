/** The sign-in form: asks for an API token (`dpl_...`). */

import { h } from "../dom.js";

/** Renders the sign-in form with an optional message (the server's reason); calls `done` with the token. */
export function renderSignIn(root: HTMLElement, message: string | null, done: (token: string) => void): void {
  const input = h("input", {
    type: "password",
    id: "token",
    name: "token",
    autocomplete: "off",
    placeholder: "dpl_…",
    required: true,
    "aria-describedby": "signin-help",
  });
  const form = h(
    "form",
    { class: "signin", "data-testid": "signin" },
    h("h1", null, "Sign in to Doppel"),
    message ? h("p", { class: "banner banner-error", role: "alert", "data-testid": "signin-message" }, message) : null,
    h("label", { for: "token" }, "API token"),
    input,
    h(
      "p",
      { id: "signin-help", class: "muted" },
      "Ask an admin for a token (doppel token create), or use the one `doppel serve` printed when it first started.",
    ),
    h("button", { type: "submit", class: "primary" }, "Sign in"),
  );
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    if (input.value.trim()) done(input.value.trim());
  });
  root.replaceChildren(form);
  input.focus();
}
