/** The HTTP client of the API under /api/v1: bearer token, JSON, and the server's error shape. */
import { token } from "./auth.js";
/** An error answered by the server (`{ "error": { status, code, message, where } }`) or the network. */
export class ApiError extends Error {
    status;
    code;
    where;
    role;
    constructor(status, code, message, where = null, role = null) {
        super(message);
        this.status = status;
        this.code = code;
        this.where = where;
        this.role = role;
        this.name = "ApiError";
    }
    /** A sentence for an error banner. */
    describe() {
        if (this.status === 403) {
            return `Your role cannot do this${this.role ? ` (it needs the ${this.role} role)` : ""}: ${this.message}`;
        }
        const where = this.where ? ` (at ${this.where})` : "";
        return `${this.message}${where}`;
    }
}
let onUnauthorized = () => { };
/** Sets what happens on a 401: the app goes back to the sign-in form with the server's message. */
export function setUnauthorizedHandler(f) {
    onUnauthorized = f;
}
/** Percent-encodes a key `kind/name` for a path, keeping its slashes. */
export function keyPath(key) {
    return key.split("/").map(encodeURIComponent).join("/");
}
const ROLES = ["viewer", "analyst", "operator", "admin"];
function roleFrom(body, message) {
    for (const f of ["role", "min_role", "needs", "required_role"]) {
        const v = body[f];
        if (typeof v === "string")
            return v;
    }
    const needs = /needs the (\w+) role/i.exec(message);
    if (needs?.[1])
        return needs[1].toLowerCase();
    const words = message.toLowerCase().match(/\b(viewer|analyst|operator|admin)\b/g);
    if (!words)
        return null;
    // The needed role is the highest one named ("analyst needed, you are viewer").
    return words.reduce((a, b) => (ROLES.indexOf(b) > ROLES.indexOf(a) ? b : a));
}
/** The headers of every request: the bearer token when signed in. */
export function authHeaders() {
    const t = token();
    return t ? { Authorization: `Bearer ${t}` } : {};
}
/**
 * Calls the API and parses its JSON answer. A 401 also calls the unauthorized handler;
 * every error status throws an {@link ApiError}.
 */
export async function api(method, path, body, signal) {
    const headers = { Accept: "application/json", ...authHeaders() };
    const init = { method, headers };
    if (signal)
        init.signal = signal;
    if (body !== undefined) {
        headers["Content-Type"] = "application/json";
        init.body = JSON.stringify(body);
    }
    let res;
    try {
        res = await fetch(`/api/v1${path}`, init);
    }
    catch (e) {
        if (e instanceof DOMException && e.name === "AbortError")
            throw e;
        throw new ApiError(0, "network", `the server cannot be reached (${String(e)})`);
    }
    const text = await res.text();
    let json = null;
    try {
        json = text ? JSON.parse(text) : null;
    }
    catch {
        if (res.ok)
            throw new ApiError(res.status, "bad_json", "the server's answer is not JSON");
    }
    if (!res.ok) {
        const err = (json && typeof json === "object" && "error" in json ? json.error : {}) ?? {};
        const message = typeof err["message"] === "string" ? err["message"] : `${res.status} ${res.statusText}`;
        const code = typeof err["code"] === "string" ? err["code"] : String(res.status);
        const where = typeof err["where"] === "string" ? err["where"] : null;
        const e = new ApiError(res.status, code, message, where, res.status === 403 ? roleFrom(err, message) : null);
        if (res.status === 401)
            onUnauthorized(message);
        throw e;
    }
    return json;
}
/** GET shorthand. */
export function get(path, signal) {
    return api("GET", path, undefined, signal);
}
/** POST shorthand. */
export function post(path, body) {
    return api("POST", path, body);
}
