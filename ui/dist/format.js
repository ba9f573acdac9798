/** Number, time and unit formatting shared by pages and charts. */
const BYTE_UNITS = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];
/** Guesses the unit of an attribute from its name (units live in names: `_ms`, `_bytes`, `_rps`). */
export function unitOf(attribute, unit = null) {
    if (unit)
        return unit;
    const a = attribute.split(":")[0] ?? attribute;
    if (/_bytes$/.test(a))
        return "bytes";
    if (/_ms$/.test(a))
        return "ms";
    if (/_rps$/.test(a))
        return "rps";
    if (/_pct$/.test(a))
        return "%";
    if (/cores$/.test(a))
        return "cores";
    if (/(utilisation|ratio|share)$/.test(a))
        return "ratio";
    return null;
}
/** Formats a value with its unit, compactly (`1.5 GiB`, `120 ms`, `3.2k rps`). */
export function fmtValue(v, unit) {
    if (!Number.isFinite(v))
        return "–";
    if (unit === "bytes") {
        let i = 0;
        let x = Math.abs(v);
        while (x >= 1024 && i < BYTE_UNITS.length - 1) {
            x /= 1024;
            i++;
        }
        return `${(Math.sign(v) * x).toFixed(x >= 100 || Number.isInteger(x) ? 0 : 1)} ${BYTE_UNITS[i]}`;
    }
    const n = fmtNumber(v);
    if (unit === "ratio")
        return `${(v * 100).toFixed(0)}%`;
    return unit ? `${n} ${unit}` : n;
}
/** Formats a plain number compactly (k, M, G suffixes; few decimals). */
export function fmtNumber(v) {
    const a = Math.abs(v);
    if (a >= 1e9)
        return `${(v / 1e9).toFixed(1)}G`;
    if (a >= 1e6)
        return `${(v / 1e6).toFixed(1)}M`;
    if (a >= 1e4)
        return `${(v / 1e3).toFixed(1)}k`;
    if (a >= 100)
        return v.toFixed(0);
    if (a >= 10)
        return v.toFixed(1);
    if (a >= 1)
        return v.toFixed(2);
    if (a === 0)
        return "0";
    return v.toPrecision(2);
}
/** A date and time in the user's locale, to the minute. */
export function fmtTime(ms) {
    const d = new Date(ms);
    return d.toLocaleString(undefined, { year: "numeric", month: "short", day: "numeric", hour: "2-digit", minute: "2-digit" });
}
/** A short date for axis ticks. */
export function fmtDay(ms) {
    return new Date(ms).toLocaleDateString(undefined, { month: "short", day: "numeric" });
}
/** How far `ms` is from `now`, in words (`in 43 h`, `2 d ago`). */
export function fmtRelative(ms, now = Date.now()) {
    const d = ms - now;
    const a = Math.abs(d);
    let t;
    if (a < 3_600_000)
        t = `${Math.round(a / 60_000)} min`;
    else if (a < 72 * 3_600_000)
        t = `${Math.round(a / 3_600_000)} h`;
    else
        t = `${(a / 86_400_000).toFixed(1)} d`;
    return d >= 0 ? `in ${t}` : `${t} ago`;
}
/** Seconds as `6 min`, `40 s`, `1.5 h`. */
export function fmtSeconds(s) {
    if (s < 90)
        return `${Math.round(s)} s`;
    if (s < 5400)
        return `${Math.round(s / 60)} min`;
    return `${(s / 3600).toFixed(1)} h`;
}
