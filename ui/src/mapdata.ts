/** The map's data (`GET /map`), fetched once and shared by the map and the what-if pages. */

import { get } from "./api.js";
import type { MapData } from "./types.js";

let cached: Promise<MapData> | null = null;

/** The estate's map; `refresh` fetches it again (after a `twin` event). */
export function mapData(refresh = false): Promise<MapData> {
  if (!cached || refresh) {
    const p = get<MapData>("/map");
    cached = p;
    p.catch(() => {
      if (cached === p) cached = null;
    });
  }
  return cached;
}

/** Forgets the cached map (on sign-out). */
export function forgetMap(): void {
  cached = null;
}
