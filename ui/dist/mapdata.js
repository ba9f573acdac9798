/** The map's data (`GET /map`), fetched once and shared by the map and the what-if pages. */
import { get } from "./api.js";
let cached = null;
/** The estate's map; `refresh` fetches it again (after a `twin` event). */
export function mapData(refresh = false) {
    if (!cached || refresh) {
        const p = get("/map");
        cached = p;
        p.catch(() => {
            if (cached === p)
                cached = null;
        });
    }
    return cached;
}
/** Forgets the cached map (on sign-out). */
export function forgetMap() {
    cached = null;
}
