//! Anomalies in stored series, as incidents: runs of anomalous samples from the streaming
//! detector (`doppel_predict::anomaly`), merged across short gaps.

use doppel_model::Key;
use doppel_predict::anomaly::{AnomalyKind, Detector, DetectorConfig};
use serde::Serialize;

/// The score from which a sample counts as anomalous: the threshold the NAB sweep chose
/// for the detector's defaults (`docs/benchmarks.md`), which keeps false alarms rare.
pub const THRESHOLD: f64 = 0.98;

/// Samples between two anomalous ones that still leave them in one incident.
const MERGE_STEPS: i64 = 3;

/// A run of anomalous samples of one series.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Incident {
    /// The entity.
    pub entity: Key,
    /// The series' attribute.
    pub attribute: String,
    /// First anomalous sample, ms since the epoch.
    pub from_ms: i64,
    /// Last anomalous sample, ms.
    pub to_ms: i64,
    /// What it looks like: `spike`, `dip`, `level shift`, `change point`.
    pub kind: &'static str,
    /// The highest score in the run, 0..=1.
    pub score: f64,
    /// The value at that sample.
    pub value: f64,
    /// What was expected there.
    pub expected: f64,
}

fn kind_name(kind: AnomalyKind) -> &'static str {
    match kind {
        AnomalyKind::Spike => "spike",
        AnomalyKind::Dip => "dip",
        AnomalyKind::LevelShift => "level shift",
        AnomalyKind::ChangePoint => "change point",
        AnomalyKind::Learning => "learning",
        AnomalyKind::Normal => "normal",
    }
}

/// Scores every sample of a series (oldest first, on a grid of `step_ms`) and returns
/// the incidents whose samples score at least `threshold` and that end at or after
/// `since_ms`, oldest first. A level shift anywhere in a run names the run.
pub fn incidents(
    entity: &Key,
    attribute: &str,
    samples: &[(i64, f64)],
    step_ms: i64,
    since_ms: i64,
    threshold: f64,
) -> Vec<Incident> {
    let mut detector = Detector::new(step_ms.max(1), DetectorConfig::default());
    let mut out: Vec<Incident> = Vec::new();
    let mut open: Option<Incident> = None;
    for &(ts, value) in samples {
        let a = detector.push(ts, value);
        let anomalous = a.score >= threshold
            && matches!(
                a.kind,
                AnomalyKind::Spike | AnomalyKind::Dip | AnomalyKind::LevelShift | AnomalyKind::ChangePoint
            );
        if let Some(inc) = &open
            && ts - inc.to_ms > MERGE_STEPS * step_ms
        {
            out.extend(open.take());
        }
        if !anomalous {
            continue;
        }
        match &mut open {
            Some(inc) => {
                inc.to_ms = ts;
                if a.kind == AnomalyKind::LevelShift {
                    inc.kind = kind_name(a.kind);
                }
                if a.score > inc.score {
                    (inc.score, inc.value, inc.expected) = (a.score, value, a.expected);
                }
            }
            None => {
                open = Some(Incident {
                    entity: entity.clone(),
                    attribute: attribute.to_string(),
                    from_ms: ts,
                    to_ms: ts,
                    kind: kind_name(a.kind),
                    score: a.score,
                    value,
                    expected: a.expected,
                });
            }
        }
    }
    out.extend(open);
    out.retain(|i| i.to_ms >= since_ms);
    out
}

/// The highest score of a series' samples within `[from_ms, to_ms]`, scoring it from the
/// start; 0 when none is there.
pub fn peak_score(samples: &[(i64, f64)], step_ms: i64, from_ms: i64, to_ms: i64) -> f64 {
    let mut detector = Detector::new(step_ms.max(1), DetectorConfig::default());
    let mut peak: f64 = 0.0;
    for &(ts, value) in samples.iter().take_while(|s| s.0 <= to_ms) {
        let a = detector.push(ts, value);
        if ts >= from_ms {
            peak = peak.max(a.score);
        }
    }
    peak
}

#[cfg(test)]
mod tests {
    use super::*;

    const STEP: i64 = 300_000;

    /// A daily cycle with a little deterministic wobble; `bump(i)` is added at sample i.
    fn daily(days: usize, bump: impl Fn(usize) -> f64) -> Vec<(i64, f64)> {
        (0..days * 288)
            .map(|i| {
                let phase = (i % 288) as f64 / 288.0 * std::f64::consts::TAU;
                let wobble = ((i * 7919) % 101) as f64 / 101.0 - 0.5;
                (i as i64 * STEP, 100.0 + 30.0 * phase.sin() + wobble * 2.0 + bump(i))
            })
            .collect()
    }

    #[test]
    fn a_quiet_series_has_no_incidents_and_a_spike_is_one() {
        let key: Key = "service/cart".parse().unwrap();
        let quiet = daily(5, |_| 0.0);
        assert!(incidents(&key, "x", &quiet, STEP, 0, THRESHOLD).is_empty());
        let spiky = daily(5, |i| if (1000..1002).contains(&i) { 80.0 } else { 0.0 });
        let found = incidents(&key, "x", &spiky, STEP, 0, THRESHOLD);
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(found[0].from_ms, 1000 * STEP);
        assert!(found[0].to_ms <= 1002 * STEP);
        assert_eq!(found[0].kind, "spike");
        assert!(found[0].value > found[0].expected + 50.0);
        // Only incidents ending at or after `since` are kept.
        assert!(incidents(&key, "x", &spiky, STEP, 1100 * STEP, THRESHOLD).is_empty());
        assert!(peak_score(&spiky, STEP, 1000 * STEP, 1001 * STEP) >= THRESHOLD);
        assert!(peak_score(&spiky, STEP, 1200 * STEP, 1300 * STEP) < THRESHOLD);
    }
}
