//! Values in words: a number in its unit's usual steps, the unit of a series.

/// A value for an axis, in the unit's usual steps (`465 GiB`, `1.2k rps`, `250 ms`).
pub fn human(v: f64, unit: &str) -> String {
    if unit == "bytes" {
        let units = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];
        let mut x = v;
        let mut i = 0;
        while x.abs() >= 1024.0 && i + 1 < units.len() {
            x /= 1024.0;
            i += 1;
        }
        return format!("{} {}", short(x), units[i]);
    }
    let (x, prefix) = match v.abs() {
        a if a >= 1e9 => (v / 1e9, "G"),
        a if a >= 1e6 => (v / 1e6, "M"),
        a if a >= 1e4 => (v / 1e3, "k"),
        _ => (v, ""),
    };
    let text = format!("{}{prefix}", short(x));
    if unit.is_empty() { text } else { format!("{text} {unit}") }
}

/// Three significant figures at most, no trailing zeros.
fn short(x: f64) -> String {
    let text = match x.abs() {
        a if a >= 100.0 => format!("{x:.0}"),
        a if a >= 10.0 => format!("{x:.1}"),
        _ => format!("{x:.2}"),
    };
    if text.contains('.') { text.trim_end_matches('0').trim_end_matches('.').to_string() } else { text }
}

/// The unit of an attribute, from its name's suffix.
pub fn unit_of(attribute: &str) -> &'static str {
    let series = attribute.split_once(':').map_or(attribute, |(s, _)| s);
    match series {
        s if s.ends_with("_bytes") => "bytes",
        s if s.ends_with("_rps") => "rps",
        s if s.ends_with("_ms") => "ms",
        s if s.ends_with("_cores") => "cores",
        _ => "",
    }
}
