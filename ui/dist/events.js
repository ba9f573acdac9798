/**
 * Live updates: `GET /api/v1/events` read with fetch() and a streamed body (EventSource
 * cannot send the Authorization header), parsed as server-sent events, reconnecting with
 * backoff.
 */
import { authHeaders } from "./api.js";
import { token } from "./auth.js";
const handlers = new Map();
/** Calls `f` for every event named `name` (`twin`, `job`, `risk`). Returns an unsubscribe function. */
export function on(name, f) {
    const list = handlers.get(name) ?? [];
    list.push(f);
    handlers.set(name, list);
    return () => {
        const l = handlers.get(name);
        if (l)
            handlers.set(name, l.filter((g) => g !== f));
    };
}
/** Hands an event to its handlers. Exported for tests. */
export function dispatch(e) {
    for (const f of handlers.get(e.event) ?? [])
        f(e);
}
/**
 * Parses a chunk of an SSE stream, keeping an incomplete trailing event in the returned
 * buffer. Exported for tests.
 */
export function parseSse(buffer, emit) {
    const blocks = buffer.replace(/\r\n?/g, "\n").split("\n\n");
    const rest = blocks.pop() ?? "";
    for (const block of blocks) {
        let event = "message";
        const data = [];
        for (const line of block.split("\n")) {
            if (line === "" || line.startsWith(":"))
                continue;
            const colon = line.indexOf(":");
            const field = colon < 0 ? line : line.slice(0, colon);
            let value = colon < 0 ? "" : line.slice(colon + 1);
            if (value.startsWith(" "))
                value = value.slice(1);
            if (field === "event")
                event = value;
            else if (field === "data")
                data.push(value);
        }
        if (data.length === 0)
            continue;
        const text = data.join("\n");
        let parsed = text;
        try {
            parsed = JSON.parse(text);
        }
        catch {
            /* keep the text */
        }
        emit({ event, data: parsed });
    }
    return rest;
}
let controller = null;
/** Starts (or restarts) listening to the event stream; stops on 401/403 and on {@link stopEvents}. */
export function startEvents() {
    stopEvents();
    const ctl = new AbortController();
    controller = ctl;
    let delay = 1000;
    const loop = async () => {
        while (!ctl.signal.aborted && token()) {
            try {
                const res = await fetch("/api/v1/events", { headers: { Accept: "text/event-stream", ...authHeaders() }, signal: ctl.signal });
                if (res.status === 401 || res.status === 403)
                    return;
                if (!res.ok || !res.body)
                    throw new Error(`events: ${res.status}`);
                delay = 1000;
                const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
                let buf = "";
                for (;;) {
                    const { value, done } = await reader.read();
                    if (done)
                        break;
                    buf = parseSse(buf + value, dispatch);
                }
            }
            catch {
                if (ctl.signal.aborted)
                    return;
            }
            await new Promise((r) => setTimeout(r, delay));
            delay = Math.min(delay * 2, 30_000);
        }
    };
    void loop();
}
/** Stops listening. */
export function stopEvents() {
    controller?.abort();
    controller = null;
}
