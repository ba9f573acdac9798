/** The bearer token: taken from `#token=...` once, kept in sessionStorage, asked for otherwise. */
const KEY = "doppel.token";
/**
 * Moves a token given in the URL fragment (`#token=dpl_...`) into sessionStorage and strips
 * it from the address bar, so it is neither bookmarked nor kept in history.
 */
export function takeTokenFromFragment() {
    const m = /^#token=([^&]+)/.exec(location.hash);
    if (!m || !m[1])
        return;
    sessionStorage.setItem(KEY, decodeURIComponent(m[1]));
    history.replaceState(null, "", `${location.pathname}${location.search}#/map`);
}
/** The current token, if signed in. */
export function token() {
    return sessionStorage.getItem(KEY);
}
/** Remembers a token for this browser tab. */
export function setToken(t) {
    sessionStorage.setItem(KEY, t.trim());
}
/** Forgets the token. */
export function clearToken() {
    sessionStorage.removeItem(KEY);
}
