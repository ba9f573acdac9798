//! `doppel observe`: telemetry from CSV files into the store's series, checked against
//! the twin first, all or nothing.

use super::read_from;
use crate::exit;
use crate::output::Output;
use anyhow::Result;
use doppel_model::{Key, TwinView};
use doppel_store::{At, Sample, SqliteStore, Store};
use std::path::PathBuf;

/// The header every file starts with.
pub const HEADER: &str = "entity,attribute,time,value";

/// Reads one CSV file of samples: `entity,attribute,time,value` after the header; the
/// attribute may hold commas (the first field and the last two are split off). Times are
/// RFC 3339 or milliseconds since the epoch. Errors say `file:line:` and what was expected.
pub fn parse(name: &str, text: &str) -> Result<Vec<Sample>, String> {
    let mut lines = text.lines().enumerate().filter(|(_, l)| !l.trim().is_empty() && !l.starts_with('#'));
    match lines.next() {
        Some((_, header)) if header.trim() == HEADER => {}
        Some((i, header)) => {
            return Err(format!("{name}:{}: the header is `{}`; expected `{HEADER}`", i + 1, header.trim()));
        }
        None => return Err(format!("{name}: no samples; expected a header `{HEADER}` and lines under it")),
    }
    let mut samples = Vec::new();
    for (i, line) in lines {
        let at = |what: String| format!("{name}:{}: {what}", i + 1);
        let line = line.trim_end_matches('\r');
        let Some((entity, rest)) = line.split_once(',') else {
            return Err(at(format!("`{line}` has no commas; expected {HEADER}")));
        };
        let mut tail = rest.rsplitn(3, ',');
        let (Some(value), Some(time), Some(attribute)) = (tail.next(), tail.next(), tail.next()) else {
            return Err(at(format!("`{line}` has fewer than 4 fields; expected {HEADER}")));
        };
        let entity: Key = entity.trim().parse().map_err(|e| at(format!("entity `{}`: {e}", entity.trim())))?;
        let attribute = attribute.trim();
        if attribute.is_empty() {
            return Err(at("the attribute is empty".into()));
        }
        let time = time.trim();
        let ts_ms = match time.parse::<i64>() {
            Ok(ms) => ms,
            Err(_) => crate::time::parse_time(time).map_err(|e| at(format!("time: {e}")))?,
        };
        let value = value
            .trim()
            .parse::<f64>()
            .ok()
            .filter(|v| v.is_finite())
            .ok_or_else(|| at(format!("value `{}` is not a finite number", value.trim())))?;
        let series = attribute.split_once(':').map_or(attribute, |(s, _)| s);
        if series == doppel_resilience::behaviour::series::UTILISATION && !(0.0..=1.0).contains(&value) {
            return Err(at(format!("{attribute} is {value}; expected a share from 0 to 1")));
        }
        if (series.ends_with("_ms") || series.ends_with("_rps")) && value < 0.0 {
            return Err(at(format!("{attribute} is {value}; expected at least 0")));
        }
        samples.push(Sample { entity, attribute: attribute.to_string(), ts_ms, value });
    }
    Ok(samples)
}

/// Runs `doppel observe`.
pub fn run(store_path: &std::path::Path, files: &[PathBuf], out: &Output) -> Result<()> {
    let mut store = SqliteStore::open_existing(store_path)?;
    let twin = read_from(&store, At::Head, out)?;
    let mut samples = Vec::new();
    for path in files {
        let shown = path.display().to_string();
        let text = super::read_text(path)?;
        let mut parsed = parse(&shown, &text).map_err(exit::invalid)?;
        if let Some(unknown) = parsed.iter().find(|s| twin.entity(&s.entity).is_none()) {
            return Err(exit::invalid(format!(
                "{shown}: {} is not in the twin (see `doppel show`); nothing was stored",
                unknown.entity
            )));
        }
        samples.append(&mut parsed);
    }
    let stored = store.append_samples(&samples)?;
    if out.json {
        return out.print_json(&serde_json::json!({"samples": stored}));
    }
    let series: std::collections::BTreeSet<(&Key, &str)> =
        samples.iter().map(|s| (&s.entity, s.attribute.as_str())).collect();
    out.success(&format!("stored {stored} samples of {} series in {}", series.len(), store.path()));
    Ok(())
}

/// Generates telemetry of `days` up to `end_ms` for the twin (see
/// `doppel_foresight::telemetry`) and stores it; the shop's filling disk and leak only where
/// the twin has those entities. Returns the samples and series stored.
pub fn store_synthetic(
    store: &mut SqliteStore,
    twin: &impl TwinView,
    days: u32,
    seed: u64,
    growth_per_week: f64,
    end_ms: i64,
) -> Result<(usize, usize)> {
    use doppel_foresight::telemetry::{TelemetryConfig, generate};
    if !(growth_per_week.is_finite() && growth_per_week > -1.0 && growth_per_week <= 10.0) {
        return Err(exit::usage(format!(
            "--growth: expected a share a week above -1 and at most 10 (0.05 for 5%), not {growth_per_week}"
        )));
    }
    let mut config = TelemetryConfig { days, seed, growth_per_week, ..TelemetryConfig::shop(end_ms) };
    config.filling_disk = config.filling_disk.filter(|d| twin.contains(&d.0));
    config.leak = config.leak.filter(|l| twin.contains(&l.0));
    config.incident = config.incident.filter(|i| twin.contains(&i.0));
    let series = generate(twin, &config).map_err(exit::invalid)?;
    let samples = doppel_foresight::telemetry::samples_of(&series);
    Ok((store.append_samples(&samples)?, series.len()))
}

/// Runs `doppel observe --synthetic`.
pub fn synthetic(
    store_path: &std::path::Path,
    days: u32,
    seed: u64,
    growth: f64,
    until: Option<&str>,
    out: &Output,
) -> Result<()> {
    let end_ms = match until {
        Some(text) => match text.trim().parse::<i64>() {
            Ok(ms) => ms,
            Err(_) => crate::time::parse_time(text)?,
        },
        None => crate::time::now_ms(),
    };
    let mut store = SqliteStore::open_existing(store_path)?;
    let twin = read_from(&store, At::Head, out)?;
    let spinner = out.spinner(&format!("generating {days} days of telemetry"));
    let (stored, series) = store_synthetic(&mut store, &twin, days, seed, growth, end_ms)?;
    spinner.finish_and_clear();
    if out.json {
        return out.print_json(&serde_json::json!({"samples": stored, "series": series}));
    }
    out.success(&format!("stored {stored} samples of {series} series in {}", store.path()));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn samples_are_read_with_commas_in_the_attribute_and_either_time() {
        let text = "entity,attribute,time,value\n# a comment\nservice/cart,request_rate_rps:GET /a,b,1000,12.5\nservice/cart,utilisation,2026-11-20T10:00Z,0.4\n";
        let samples = parse("t.csv", text).unwrap();
        assert_eq!(samples.len(), 2);
        assert_eq!(samples[0].attribute, "request_rate_rps:GET /a,b");
        assert_eq!(samples[0].ts_ms, 1000);
        assert_eq!(samples[1].ts_ms, 1_795_168_800_000);
        assert_eq!(samples[1].value, 0.4);
    }

    #[test]
    fn bad_lines_are_named_with_their_line() {
        let cases = [
            ("", "no samples"),
            ("time,value\n", "t.csv:1: the header is `time,value`"),
            ("entity,attribute,time,value\nservice/cart\n", "t.csv:2: `service/cart` has no commas"),
            ("entity,attribute,time,value\nservice/cart,u,1\n", "t.csv:2: `service/cart,u,1` has fewer than 4 fields"),
            ("entity,attribute,time,value\nnope,u,1,2\n", "t.csv:2: entity `nope`"),
            ("entity,attribute,time,value\nservice/cart,u,yesterday,2\n", "t.csv:2: time:"),
            ("entity,attribute,time,value\n\nservice/cart,u,1,NaN\n", "t.csv:3: value `NaN` is not a finite number"),
            ("entity,attribute,time,value\nservice/cart, ,1,2\n", "t.csv:2: the attribute is empty"),
            (
                "entity,attribute,time,value\nservice/cart,utilisation,1,1.5\n",
                "t.csv:2: utilisation is 1.5; expected a share",
            ),
            (
                "entity,attribute,time,value\nservice/cart,latency_mean_ms:GET /,1,-2\n",
                "t.csv:2: latency_mean_ms:GET / is -2",
            ),
        ];
        for (text, expected) in cases {
            let err = parse("t.csv", text).unwrap_err();
            assert!(err.contains(expected), "{text:?}: {err}");
        }
    }

    proptest! {
        /// Any text: samples or an error naming the file, never a panic.
        #[test]
        fn any_text_is_read_or_refused(body in ".{0,200}", lines in proptest::collection::vec("[a-z/,:0-9. -]{0,40}", 0..8)) {
            let text = format!("{HEADER}\n{}\n{body}", lines.join("\n"));
            match parse("f.csv", &text) {
                Ok(samples) => prop_assert!(samples.iter().all(|s| s.value.is_finite() && !s.attribute.is_empty())),
                Err(err) => prop_assert!(err.starts_with("f.csv"), "{err}"),
            }
        }
    }
}
