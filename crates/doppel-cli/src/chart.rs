//! Charts of a series and its forecast: in the terminal (braille dots for the lines, shade
//! for the interval) and as an SVG file.

pub use doppel_foresight::units::{human, unit_of};
use std::fmt::Write;

/// What a chart shows: history, then a forecast with its interval, and a limit.
#[derive(Debug, Clone, Default)]
pub struct Chart {
    /// Title above it.
    pub title: String,
    /// Observed `(ms, value)`, oldest first.
    pub history: Vec<(i64, f64)>,
    /// Forecast `(ms, mean, lower, upper)`, oldest first.
    pub forecast: Vec<(i64, f64, f64, f64)>,
    /// A limit to draw across (a disk's size), with its label.
    pub limit: Option<(f64, String)>,
    /// The unit of the values, for the axis (`bytes`, `rps`, `ms`, or empty).
    pub unit: String,
}

impl Chart {
    /// The time range and the value range (with a little room), or `None` when empty.
    fn extent(&self) -> Option<((i64, i64), (f64, f64))> {
        let times = self.history.iter().map(|p| p.0).chain(self.forecast.iter().map(|p| p.0));
        let (t0, t1) = times.fold((i64::MAX, i64::MIN), |(a, b), t| (a.min(t), b.max(t)));
        let values = self.history.iter().map(|p| p.1).chain(self.forecast.iter().flat_map(|p| [p.2, p.3]));
        let values = values.chain(self.limit.iter().map(|l| l.0)).filter(|v| v.is_finite());
        let (lo, hi) = values.fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), v| (a.min(v), b.max(v)));
        if t0 > t1 || lo > hi {
            return None;
        }
        let pad = if hi > lo { (hi - lo) * 0.05 } else { hi.abs().max(1.0) * 0.05 };
        // Values never below zero keep the axis at zero.
        let bottom = if lo >= 0.0 { (lo - pad).max(0.0) } else { lo - pad };
        Some(((t0, t1.max(t0 + 1)), (bottom, hi + pad)))
    }

    /// The chart as text, `width` x `height` cells of plot beside a value axis; colour
    /// when `colour` is set.
    pub fn text(&self, width: usize, height: usize, colour: bool) -> String {
        let Some(((t0, t1), (lo, hi))) = self.extent() else {
            return format!("{}\n  (nothing to draw)\n", self.title);
        };
        let (w, h) = (width.max(10), height.max(3));
        // Braille: each cell is 2 dots wide and 4 high.
        let (dw, dh) = (w * 2, h * 4);
        let x = |t: i64| (((t - t0) as f64 / (t1 - t0) as f64) * (dw - 1) as f64).round() as usize;
        let y = |v: f64| {
            let f = ((v - lo) / (hi - lo)).clamp(0.0, 1.0);
            dh - 1 - (f * (dh - 1) as f64).round() as usize
        };
        #[derive(Clone, Copy, PartialEq)]
        enum Ink {
            None,
            History,
            Forecast,
            Limit,
        }
        let mut dots = vec![vec![false; dw]; dh];
        let mut ink = vec![vec![Ink::None; w]; h];
        let mut band = vec![vec![false; w]; h];
        let mut line = |points: &[(usize, usize)], what: Ink| {
            for pair in points.windows(2) {
                let ((x0, y0), (x1, y1)) = (pair[0], pair[1]);
                let steps = x1.abs_diff(x0).max(y1.abs_diff(y0)).max(1);
                for s in 0..=steps {
                    let px = x0 as f64 + (x1 as f64 - x0 as f64) * s as f64 / steps as f64;
                    let py = y0 as f64 + (y1 as f64 - y0 as f64) * s as f64 / steps as f64;
                    let (px, py) = (px.round() as usize, py.round() as usize);
                    dots[py][px] = true;
                    ink[py / 4][px / 2] = what;
                }
            }
        };
        for &(t, _, lower, upper) in &self.forecast {
            let col = x(t) / 2;
            let (top, bottom) = (y(upper) / 4, y(lower) / 4);
            for row in band.iter_mut().take(bottom + 1).skip(top) {
                row[col] = true;
            }
        }
        if let Some((limit, _)) = &self.limit {
            let row = y(*limit);
            line(&[(0, row), (dw - 1, row)], Ink::Limit);
        }
        let points: Vec<(usize, usize)> =
            self.history.iter().filter(|p| p.1.is_finite()).map(|p| (x(p.0), y(p.1))).collect();
        line(&points, Ink::History);
        let points: Vec<(usize, usize)> = self.forecast.iter().map(|p| (x(p.0), y(p.1))).collect();
        line(&points, Ink::Forecast);

        let label = |v: f64| human(v, &self.unit);
        let labels: Vec<String> = (0..h)
            .map(|r| match r {
                0 => label(hi),
                r if r == h - 1 => label(lo),
                r if r == h / 2 => label((hi + lo) / 2.0),
                _ => String::new(),
            })
            .collect();
        let gutter = labels.iter().map(|l| l.chars().count()).max().unwrap_or(0);
        let paint =
            |text: &str, code: &str| if colour { format!("\x1b[{code}m{text}\x1b[0m") } else { text.to_string() };
        let mut out = String::new();
        let _ = writeln!(out, "{}", self.title);
        for r in 0..h {
            let _ = write!(out, "{:>gutter$} ┤", labels[r]);
            for c in 0..w {
                let mut bits = 0u32;
                for (dy, dx, bit) in [
                    (0, 0, 0x01),
                    (1, 0, 0x02),
                    (2, 0, 0x04),
                    (0, 1, 0x08),
                    (1, 1, 0x10),
                    (2, 1, 0x20),
                    (3, 0, 0x40),
                    (3, 1, 0x80),
                ] {
                    if dots[r * 4 + dy][c * 2 + dx] {
                        bits |= bit;
                    }
                }
                let cell = if bits == 0 {
                    if band[r][c] { paint("░", "2;36") } else { " ".to_string() }
                } else {
                    let glyph = char::from_u32(0x2800 + bits).unwrap_or('•').to_string();
                    match ink[r][c] {
                        Ink::Forecast => paint(&glyph, "36"),
                        Ink::Limit => paint(&glyph, "31"),
                        _ => glyph,
                    }
                };
                out.push_str(&cell);
            }
            out.push('\n');
        }
        let now = self.history.last().map(|p| p.0);
        let stamp = |ms: i64| {
            jiff::Timestamp::from_millisecond(ms).map_or(ms.to_string(), |t| t.strftime("%Y-%m-%d %H:%MZ").to_string())
        };
        let (start, end) = (stamp(t0), stamp(t1));
        let _ = writeln!(out, "{:gutter$} └{}", "", "─".repeat(w));
        let room = w.saturating_sub(start.chars().count() + end.chars().count());
        let _ = writeln!(out, "{:gutter$}  {start}{}{end}", "", " ".repeat(room.max(1)));
        if let Some(now) = now.filter(|_| !self.forecast.is_empty()) {
            let mark = format!("▲ now {}", stamp(now));
            let col = (x(now) / 2).min(w.saturating_sub(mark.chars().count()));
            let _ = writeln!(out, "{:gutter$}  {}{mark}", "", " ".repeat(col));
        }
        let mut key = vec![paint("⠒ observed", "0")];
        if !self.forecast.is_empty() {
            key.push(paint("⠒ forecast", "36"));
            key.push(paint("░ interval", "2;36"));
        }
        if let Some((limit, name)) = &self.limit {
            key.push(paint(&format!("⠒ {name} {}", label(*limit)), "31"));
        }
        let _ = writeln!(out, "{:gutter$}  {}", "", key.join("   "));
        out
    }

    /// The chart as an SVG document, `width` x `height` pixels.
    pub fn svg(&self, width: u32, height: u32) -> String {
        let (w, h) = (f64::from(width.max(200)), f64::from(height.max(120)));
        let (left, right, top, bottom) = (70.0, 20.0, 36.0, 40.0);
        let mut out = String::new();
        let _ = writeln!(
            out,
            r#"<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" viewBox="0 0 {w} {h}" font-family="system-ui, sans-serif" font-size="12">"#
        );
        let _ = writeln!(out, r##"<rect width="100%" height="100%" fill="#ffffff"/>"##);
        let _ = writeln!(
            out,
            r##"<text x="{left}" y="20" font-size="14" font-weight="600" fill="#222">{}</text>"##,
            escape(&self.title)
        );
        let Some(((t0, t1), (lo, hi))) = self.extent() else {
            let _ = writeln!(out, r##"<text x="{left}" y="{}" fill="#666">nothing to draw</text></svg>"##, h / 2.0);
            return out;
        };
        let x = |t: i64| left + (t - t0) as f64 / (t1 - t0) as f64 * (w - left - right);
        let y = |v: f64| top + (1.0 - ((v - lo) / (hi - lo)).clamp(0.0, 1.0)) * (h - top - bottom);
        for i in 0..=4 {
            let v = lo + (hi - lo) * f64::from(i) / 4.0;
            let _ = writeln!(
                out,
                r##"<line x1="{left}" x2="{}" y1="{y:.1}" y2="{y:.1}" stroke="#e5e5e5"/><text x="{}" y="{:.1}" text-anchor="end" fill="#555">{}</text>"##,
                w - right,
                left - 6.0,
                y(v) + 4.0,
                escape(&human(v, &self.unit)),
                y = y(v)
            );
        }
        if !self.forecast.is_empty() {
            let upper: Vec<String> = self.forecast.iter().map(|p| format!("{:.1},{:.1}", x(p.0), y(p.3))).collect();
            let lower: Vec<String> =
                self.forecast.iter().rev().map(|p| format!("{:.1},{:.1}", x(p.0), y(p.2))).collect();
            let _ = writeln!(
                out,
                r##"<polygon points="{} {}" fill="#59a14f" fill-opacity="0.2" stroke="none"/>"##,
                upper.join(" "),
                lower.join(" ")
            );
            let mean: Vec<String> = self.forecast.iter().map(|p| format!("{:.1},{:.1}", x(p.0), y(p.1))).collect();
            let _ = writeln!(
                out,
                r##"<polyline points="{}" fill="none" stroke="#2e7d32" stroke-width="1.5" stroke-dasharray="5 3"/>"##,
                mean.join(" ")
            );
        }
        let history: Vec<String> =
            self.history.iter().filter(|p| p.1.is_finite()).map(|p| format!("{:.1},{:.1}", x(p.0), y(p.1))).collect();
        let _ = writeln!(
            out,
            r##"<polyline points="{}" fill="none" stroke="#4e79a7" stroke-width="1.2"/>"##,
            history.join(" ")
        );
        if let Some((limit, name)) = &self.limit {
            let _ = writeln!(
                out,
                r##"<line x1="{left}" x2="{}" y1="{y:.1}" y2="{y:.1}" stroke="#d62728" stroke-dasharray="6 3"/><text x="{}" y="{:.1}" text-anchor="end" fill="#d62728">{} {}</text>"##,
                w - right,
                w - right,
                y(*limit) - 5.0,
                escape(name),
                escape(&human(*limit, &self.unit)),
                y = y(*limit)
            );
        }
        if let Some(now) = self.history.last().map(|p| p.0).filter(|_| !self.forecast.is_empty()) {
            let _ = writeln!(
                out,
                r##"<line x1="{x:.1}" x2="{x:.1}" y1="{top}" y2="{}" stroke="#888" stroke-dasharray="2 2"/><text x="{x:.1}" y="{}" text-anchor="middle" fill="#555">now</text>"##,
                h - bottom,
                top - 4.0,
                x = x(now)
            );
        }
        for (t, anchor) in [(t0, "start"), (t1, "end")] {
            let _ = writeln!(
                out,
                r##"<text x="{:.1}" y="{}" text-anchor="{anchor}" fill="#555">{}</text>"##,
                x(t),
                h - bottom + 18.0,
                escape(&crate::time::format_ms(t))
            );
        }
        out.push_str("</svg>\n");
        out
    }
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Chart {
        let hour = 3_600_000;
        Chart {
            title: "disk_used_bytes on datastore/orders-db".into(),
            history: (0..48).map(|i| (i * hour, 100.0 + i as f64)).collect(),
            forecast: (48..96).map(|i| (i * hour, 100.0 + i as f64, 95.0 + i as f64, 105.0 + i as f64)).collect(),
            limit: Some((180.0, "limit".into())),
            unit: String::new(),
        }
    }

    #[test]
    fn the_text_chart_rises_left_to_right_with_its_band_and_limit() {
        let text = sample().text(40, 10, false);
        let rows: Vec<&str> = text.lines().collect();
        assert_eq!(rows.len(), 1 + 10 + 4, "{text}");
        // The line starts low on the left and ends high on the right.
        let plot = |r: &str| r.split_once('┤').map(|(_, p)| p.chars().collect::<Vec<char>>()).unwrap_or_default();
        let first_col_row = (1..=10).find(|&r| plot(rows[r]).first().is_some_and(|c| *c != ' ')).unwrap();
        let last_col_row = (1..=10).find(|&r| plot(rows[r]).last().is_some_and(|c| *c != ' ' && *c != '░')).unwrap();
        assert!(first_col_row > last_col_row, "{text}");
        assert!(text.contains('░'), "the interval is shaded: {text}");
        assert!(text.contains("▲ now 1970-01-02 23:00Z"), "{text}");
        assert!(text.contains("limit 180"), "{text}");
        assert!(!text.contains("\x1b["));
        assert!(sample().text(40, 10, true).contains("\x1b[36m"));
    }

    #[test]
    fn the_svg_has_its_parts_and_empty_charts_say_so() {
        let svg = sample().svg(800, 300);
        assert!(svg.starts_with("<svg") && svg.trim_end().ends_with("</svg>"));
        for part in ["<polygon", "stroke-dasharray=\"5 3\"", "#d62728", ">now<", "orders-db"] {
            assert!(svg.contains(part), "{part}");
        }
        let empty = Chart { title: "x <y>".into(), ..Chart::default() };
        assert!(empty.svg(800, 300).contains("nothing to draw"));
        assert!(empty.svg(800, 300).contains("x &lt;y&gt;"));
        assert!(empty.text(40, 10, false).contains("nothing to draw"));
    }

    #[test]
    fn values_read_in_their_unit() {
        assert_eq!(human(500.0 * 1024f64.powi(3), "bytes"), "500 GiB");
        assert_eq!(human(12_500.0, "rps"), "12.5k rps");
        assert_eq!(human(0.25, ""), "0.25");
        assert_eq!(unit_of("latency_p99_ms:GET /"), "ms");
        assert_eq!(unit_of("disk_used_bytes"), "bytes");
    }
}
