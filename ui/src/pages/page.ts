/** What every page module provides to the shell. */

import type { Route } from "../router.js";

/** Renders a page into `root`; returns what to do when leaving it, if anything. */
export type Page = (root: HTMLElement, route: Route) => (() => void) | void;
