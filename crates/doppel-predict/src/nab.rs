//! The Numenta Anomaly Benchmark's scoring, written from its documentation (Lavin and
//! Ahmad, "Evaluating Real-time Anomaly Detection Algorithms – the Numenta Anomaly
//! Benchmark", 2015; NAB's README and wiki), checked against how NAB's scorer behaves.
//!
//! - Each labelled window rewards its earliest detection by a scaled sigmoid of where in
//!   the window it falls: `A_TP` at the window's first point, about a quarter of it at the
//!   last; later detections in the same window count for nothing.
//! - A window without a detection costs `A_FN`.
//! - A detection outside every window costs `A_FP` times the scaled sigmoid of its
//!   distance past the end of the window before it, in that window's widths: almost
//!   nothing right after a window, the full `A_FP` three widths on, or with no window
//!   before it.
//! - The probationary period, the first 15% of each file (at most 750 points), is not
//!   scored: a window ending inside it is neither found nor missed.
//! - Raw scores are summed over the corpus; the detection threshold is the one of all
//!   score values that gives the best corpus total (NAB's sweep); the total is normalised
//!   as `100 * (S - S_null) / (S_perfect - S_null)`, where the null detector gives one
//!   constant score everywhere and the perfect one finds every window at its first point.

/// The share of each file that is probationary (not scored).
pub const PROBATION_PERCENT: f64 = 0.15;

/// The weights of an application profile (NAB's `config/profiles.json`, `CostMatrix`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Profile {
    /// The reward of a detection at a window's first point (`tpWeight`).
    pub tp: f64,
    /// The cost of a detection far from any window (`fpWeight`).
    pub fp: f64,
    /// The cost of a window without a detection (`fnWeight`).
    pub fn_: f64,
    /// True negatives' weight (`tnWeight`); NAB's score does not use it.
    pub tn: f64,
}

impl Profile {
    /// NAB's `standard` profile.
    pub const STANDARD: Profile = Profile { tp: 1.0, fp: 0.11, fn_: 1.0, tn: 1.0 };
    /// NAB's `reward_low_FP_rate` profile.
    pub const REWARD_LOW_FP: Profile = Profile { tp: 1.0, fp: 0.22, fn_: 1.0, tn: 1.0 };
    /// NAB's `reward_low_FN_rate` profile.
    pub const REWARD_LOW_FN: Profile = Profile { tp: 1.0, fp: 0.11, fn_: 2.0, tn: 1.0 };
}

/// The points of a file of `rows` points that are probationary: `min(floor(0.15 rows), 750)`.
pub fn probationary_length(rows: usize) -> usize {
    ((PROBATION_PERCENT * rows as f64).floor()).min(PROBATION_PERCENT * 5000.0) as usize
}

/// NAB's scaled sigmoid of a relative position `x`: `2 / (1 + e^(5x)) - 1`, which is
/// `-tanh(2.5 x)`; -1 from `x >= 3` on.
pub fn scaled_sigmoid(x: f64) -> f64 {
    if x >= 3.0 { -1.0 } else { -(2.5 * x).tanh() }
}

/// One scored point of a file: its anomaly score, what detecting it would be worth, and
/// its window (an index into the corpus' windows) if it is inside one.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SweepPoint {
    /// The detector's score.
    pub score: f64,
    /// The weighted reward (in a window) or cost (outside) of a detection here.
    pub worth: f64,
    /// The window it is in, numbered from `first_window`.
    pub window: Option<usize>,
}

/// Window bounds as point indices: the first point at or after the start to the last at
/// or before the end (NAB's labels fall on points, so this is NAB's own matching); windows
/// that hold no point are dropped. Timestamps ascend.
pub fn window_indices(timestamps: &[i64], windows: &[(i64, i64)]) -> Vec<(usize, usize)> {
    let mut out: Vec<(usize, usize)> = windows
        .iter()
        .filter_map(|&(start, end)| {
            let l = timestamps.partition_point(|&t| t < start);
            let r = timestamps.partition_point(|&t| t <= end);
            (r > l).then(|| (l, r - 1))
        })
        .collect();
    out.sort_unstable();
    out
}

/// The scorable points of one file (probation left out), each with its worth under
/// `profile`; windows are numbered from `first_window` so a corpus can share numbers.
pub fn sweep_points(
    timestamps: &[i64],
    scores: &[f64],
    windows: &[(i64, i64)],
    profile: &Profile,
    first_window: usize,
) -> Vec<SweepPoint> {
    let n = timestamps.len().min(scores.len());
    let windows = window_indices(&timestamps[..n], windows);
    let probation = probationary_length(n);
    let max_tp = scaled_sigmoid(-1.0);
    let mut out = Vec::with_capacity(n.saturating_sub(probation));
    let mut next = 0; // the next window not yet ended
    let mut prev: Option<(usize, usize)> = None; // (right index, width) of the last window ended
    for (i, &score) in scores.iter().enumerate().take(n) {
        while next < windows.len() && windows[next].1 < i {
            let (l, r) = windows[next];
            prev = Some((r, r - l + 1));
            next += 1;
        }
        let inside = windows.get(next).filter(|w| w.0 <= i);
        let (worth, window) = match (inside, prev) {
            (Some(&(l, r)), _) => {
                let width = (r - l + 1) as f64;
                let position = -((r - i + 1) as f64) / width;
                (profile.tp * scaled_sigmoid(position) / max_tp, Some(first_window + next))
            }
            (None, Some((r, width))) => {
                // NAB divides by the width less one; a one-point window would divide by 0.
                let position = (i - r) as f64 / (width.saturating_sub(1).max(1)) as f64;
                (profile.fp * scaled_sigmoid(position), None)
            }
            (None, None) => (-profile.fp, None),
        };
        if i >= probation {
            let score = if score.is_nan() { 0.0 } else { score };
            out.push(SweepPoint { score, worth, window });
        }
    }
    out
}

/// The number of windows of a file that hold a point (what [`sweep_points`] numbers).
pub fn window_count(timestamps: &[i64], windows: &[(i64, i64)]) -> usize {
    window_indices(timestamps, windows).len()
}

/// One file's result at a given set of detections.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct SeriesScore {
    /// The raw score: windows' rewards (or `-A_FN` each missed) plus false positives' costs.
    pub score: f64,
    /// Detections inside windows (points, after probation).
    pub tp: usize,
    /// Detections outside windows.
    pub fp: usize,
    /// Points inside windows not detected.
    pub fn_: usize,
    /// Points outside windows not detected.
    pub tn: usize,
    /// Windows (ending after probation) with at least one detection.
    pub windows_found: usize,
    /// Windows ending after probation.
    pub windows: usize,
}

/// The raw score of one file: `detections[i]` says whether point `i` (at
/// `timestamps[i]`, ascending) was flagged; `windows` are the labelled windows' bounds.
pub fn score_series(timestamps: &[i64], detections: &[bool], windows: &[(i64, i64)], profile: &Profile) -> SeriesScore {
    let scores: Vec<f64> = detections.iter().map(|&d| if d { 1.0 } else { 0.0 }).collect();
    let points = sweep_points(timestamps, &scores, windows, profile, 0);
    score_points(&points, 0.5, profile)
}

fn score_points(points: &[SweepPoint], threshold: f64, profile: &Profile) -> SeriesScore {
    let mut best: Vec<Option<f64>> = Vec::new();
    let mut seen: Vec<bool> = Vec::new();
    let mut out = SeriesScore::default();
    let mut fp_cost = 0.0;
    for p in points {
        let hit = p.score >= threshold;
        match p.window {
            Some(w) => {
                if w >= seen.len() {
                    seen.resize(w + 1, false);
                    best.resize(w + 1, None);
                }
                seen[w] = true;
                if hit {
                    out.tp += 1;
                    best[w] = Some(best[w].map_or(p.worth, |b: f64| b.max(p.worth)));
                } else {
                    out.fn_ += 1;
                }
            }
            None if hit => {
                out.fp += 1;
                fp_cost += p.worth;
            }
            None => out.tn += 1,
        }
    }
    let windows: f64 = seen.iter().zip(&best).filter(|(s, _)| **s).map(|(_, b)| b.unwrap_or(-profile.fn_)).sum();
    out.windows = seen.iter().filter(|s| **s).count();
    out.windows_found = best.iter().filter(|b| b.is_some()).count();
    out.score = windows + fp_cost;
    out
}

/// One file of a corpus: its timestamps (ascending), the detector's scores and the
/// labelled windows.
#[derive(Debug, Clone, Copy)]
pub struct CorpusFile<'a> {
    /// A name for reports (`realTweets/Twitter_volume_AAPL.csv`).
    pub name: &'a str,
    /// Timestamps, any unit, ascending.
    pub timestamps: &'a [i64],
    /// Anomaly scores, one per timestamp (NaN counts as 0).
    pub scores: &'a [f64],
    /// Labelled windows `(start, end)`, inclusive, in the timestamps' unit.
    pub windows: &'a [(i64, i64)],
}

/// A corpus' result under one profile.
#[derive(Debug, Clone, PartialEq)]
pub struct CorpusScore {
    /// The threshold the sweep chose: scores at or above it are detections.
    pub threshold: f64,
    /// The raw corpus score at that threshold (the sum of `files`).
    pub raw: f64,
    /// The null detector's raw score.
    pub null: f64,
    /// The perfect detector's raw score (`A_TP` per labelled window).
    pub perfect: f64,
    /// `100 * (raw - null) / (perfect - null)`.
    pub normalized: f64,
    /// Each file's result at the threshold, in the corpus' order.
    pub files: Vec<SeriesScore>,
}

/// The best threshold over the corpus and its raw score, as NAB's sweep finds them: the
/// candidates are 1.1 (no detection) and every score value; the highest of equally good
/// thresholds wins.
pub fn sweep_threshold(files: &[CorpusFile], profile: &Profile) -> (f64, f64) {
    let mut points = Vec::new();
    let mut windows = 0;
    for f in files {
        points.extend(sweep_points(f.timestamps, f.scores, f.windows, profile, windows));
        windows += window_count(f.timestamps, f.windows);
    }
    points.sort_by(|a, b| b.score.total_cmp(&a.score));
    let mut part: Vec<Option<f64>> = vec![None; windows];
    let mut present = vec![false; windows];
    for p in &points {
        if let Some(w) = p.window {
            present[w] = true;
        }
    }
    let mut total = -profile.fn_ * present.iter().filter(|p| **p).count() as f64;
    let mut best = (1.1, total);
    let mut i = 0;
    while i < points.len() {
        let threshold = points[i].score;
        while i < points.len() && points[i].score == threshold {
            let p = points[i];
            match p.window {
                Some(w) => {
                    let old = part[w].unwrap_or(-profile.fn_);
                    let new = part[w].map_or(p.worth, |b| b.max(p.worth));
                    part[w] = Some(new);
                    total += new - old;
                }
                None => total += p.worth,
            }
            i += 1;
        }
        if total > best.1 {
            best = (threshold, total);
        }
    }
    best
}

/// The corpus scored as NAB does: the best threshold over all files, each file's raw
/// score there, the null and perfect detectors' scores and the normalised score.
pub fn corpus_score(files: &[CorpusFile], profile: &Profile) -> CorpusScore {
    let (threshold, _) = sweep_threshold(files, profile);
    let scored: Vec<SeriesScore> = files
        .iter()
        .map(|f| score_points(&sweep_points(f.timestamps, f.scores, f.windows, profile, 0), threshold, profile))
        .collect();
    let raw = scored.iter().map(|s| s.score).sum();
    let constants: Vec<Vec<f64>> = files.iter().map(|f| vec![0.5; f.scores.len()]).collect();
    let null_files: Vec<CorpusFile> =
        files.iter().zip(&constants).map(|(f, c)| CorpusFile { scores: c, ..*f }).collect();
    let (_, null) = sweep_threshold(&null_files, profile);
    let perfect = profile.tp * files.iter().map(|f| f.windows.len()).sum::<usize>() as f64;
    let normalized = if perfect > null { 100.0 * (raw - null) / (perfect - null) } else { 0.0 };
    CorpusScore { threshold, raw, null, perfect, normalized, files: scored }
}

#[cfg(test)]
mod tests {
    use super::*;

    // 100 points at t = 0..99: the probation is floor(0.15 * 100) = 15 points (0..=14).
    // One window [40, 49]: width 10.
    const N: usize = 100;
    const W: (i64, i64) = (40, 49);
    // max_tp = scaled_sigmoid(-1) = tanh(2.5) = 0.986614298...
    const MAX_TP: f64 = 0.986_614_298_151_430_3;

    fn ts() -> Vec<i64> {
        (0..N as i64).collect()
    }

    fn at(points: &[usize]) -> Vec<bool> {
        (0..N).map(|i| points.contains(&i)).collect()
    }

    fn standard(points: &[usize]) -> SeriesScore {
        score_series(&ts(), &at(points), &[W], &Profile::STANDARD)
    }

    fn close(a: f64, b: f64) {
        assert!((a - b).abs() < 1e-9, "{a} != {b}");
    }

    #[test]
    fn the_sigmoid_and_probation_match_nabs_definitions() {
        close(scaled_sigmoid(-1.0), MAX_TP);
        close(scaled_sigmoid(0.0), 0.0);
        // -0.5: 2 * sigmoid(2.5) - 1 = 0.848283...
        close(scaled_sigmoid(-0.5), 0.848_283_639_957_512_7);
        assert_eq!(scaled_sigmoid(3.0), -1.0);
        assert_eq!(probationary_length(100), 15);
        assert_eq!(probationary_length(4032), 604);
        // 0.15 * 5000 = 750 at most.
        assert_eq!(probationary_length(20_000), 750);
    }

    #[test]
    fn a_detection_at_the_window_start_scores_a_tp_weight() {
        // position -(49 - 40 + 1) / 10 = -1: tanh(2.5) / max_tp = 1.
        let s = standard(&[40]);
        close(s.score, 1.0);
        assert_eq!((s.tp, s.fp, s.windows_found, s.windows), (1, 0, 1, 1));
        assert_eq!(s.fn_, 9);
    }

    #[test]
    fn a_detection_at_the_window_end_scores_little() {
        // position -(49 - 49 + 1) / 10 = -0.1: tanh(0.25) / tanh(2.5) = 0.244918662 / 0.986614298.
        close(standard(&[49]).score, 0.244_918_662_403_709_1 / MAX_TP);
    }

    #[test]
    fn only_the_earliest_of_two_detections_in_a_window_counts() {
        // 42: position -(49 - 42 + 1) / 10 = -0.8: tanh(2) / tanh(2.5) = 0.964027580 / 0.986614298;
        // 47 adds nothing (and is no false positive).
        let s = standard(&[42, 47]);
        close(s.score, 0.964_027_580_075_817 / MAX_TP);
        assert_eq!((s.tp, s.fp), (2, 0));
    }

    #[test]
    fn a_false_positive_right_after_a_window_costs_little() {
        // The window is missed: -1. 50 is 1 point past its end; position 1 / (10 - 1):
        // -tanh(2.5 / 9) = -0.270847 times A_FP 0.11.
        let s = standard(&[50]);
        close(s.score, -1.0 - 0.11 * (2.5f64 / 9.0).tanh());
        close(s.score, -1.0 - 0.11 * 0.270_847_118_516_721_4);
        assert_eq!((s.tp, s.fp), (0, 1));
    }

    #[test]
    fn a_false_positive_far_after_a_window_costs_a_full_fp_weight() {
        // 80: position (80 - 49) / 9 = 3.44 >= 3: -1 * 0.11; plus the missed window, -1.
        close(standard(&[80]).score, -1.11);
        // 76: position 27 / 9 = 3 exactly: already -1.
        close(standard(&[76]).score, -1.11);
        // 75: position 26 / 9: -tanh(7.2222) = -0.99999892...
        close(standard(&[75]).score, -1.0 - 0.11 * (2.5f64 * 26.0 / 9.0).tanh());
    }

    #[test]
    fn a_false_positive_before_any_window_costs_a_full_fp_weight() {
        close(standard(&[20]).score, -1.11);
    }

    #[test]
    fn a_missed_window_costs_a_fn_weight() {
        let s = standard(&[]);
        close(s.score, -1.0);
        assert_eq!((s.windows_found, s.windows, s.fn_, s.tn), (0, 1, 10, 75));
        close(score_series(&ts(), &at(&[]), &[W], &Profile::REWARD_LOW_FN).score, -2.0);
    }

    #[test]
    fn detections_in_the_probationary_period_are_not_scored() {
        // 5 and 14 are probationary: not false positives, and they do not find anything.
        let s = standard(&[5, 14]);
        close(s.score, -1.0);
        assert_eq!(s.fp, 0);
        close(standard(&[5, 40]).score, 1.0);
        // 15 is the first scored point: a full false positive.
        close(standard(&[15, 40]).score, 1.0 - 0.11);
        // A window ending in the probation is neither found nor missed.
        let s = score_series(&ts(), &at(&[]), &[(2, 8)], &Profile::STANDARD);
        assert_eq!((s.score, s.windows), (0.0, 0));
    }

    #[test]
    fn a_window_is_matched_to_the_points_inside_its_bounds() {
        // Timestamps 0, 10, .., 990: the window [395, 494] holds 400..=490, 10 points.
        let t: Vec<i64> = (0..N as i64).map(|i| i * 10).collect();
        assert_eq!(window_indices(&t, &[(395, 494)]), vec![(40, 49)]);
        assert!(window_indices(&t, &[(401, 409)]).is_empty());
    }

    #[test]
    fn the_sweep_finds_the_threshold_and_the_null_and_perfect_normalise_to_0_and_100() {
        let t = ts();
        // Scores: 0.9 at the window start, 0.7 at a far false positive, 0.1 elsewhere.
        let mut scores = vec![0.1; N];
        scores[40] = 0.9;
        scores[80] = 0.7;
        let windows = [W];
        let files = [CorpusFile { name: "a", timestamps: &t, scores: &scores, windows: &windows }];
        // Thresholds: 1.1 -> -1; 0.9 -> 1; 0.7 -> 1 - 0.11; 0.1 -> 1 + every other point
        // outside the window at full or partial cost. 0.9 is best.
        let (threshold, raw) = sweep_threshold(&files, &Profile::STANDARD);
        assert_eq!(threshold, 0.9);
        close(raw, 1.0);
        let c = corpus_score(&files, &Profile::STANDARD);
        close(c.raw, 1.0);
        close(c.perfect, 1.0);
        // The null detector: one constant score; the best is to flag nothing: -1 per window.
        close(c.null, -1.0);
        close(c.normalized, 100.0);

        let flat = vec![0.5; N];
        let files = [CorpusFile { name: "a", timestamps: &t, scores: &flat, windows: &windows }];
        let c = corpus_score(&files, &Profile::STANDARD);
        close(c.normalized, 0.0);
        assert_eq!(c.threshold, 1.1);

        // Half way: one of two files' windows found at its start, nothing else flagged:
        // raw 1 - 1 = 0, null -2, perfect 2: 100 * 2 / 4 = 50.
        let files = [
            CorpusFile { name: "a", timestamps: &t, scores: &scores, windows: &windows },
            CorpusFile { name: "b", timestamps: &t, scores: &flat, windows: &windows },
        ];
        let c = corpus_score(&files, &Profile::STANDARD);
        close(c.normalized, 50.0);
        assert_eq!(c.files.len(), 2);
        close(c.files[0].score + c.files[1].score, c.raw);
    }

    #[test]
    fn the_corpus_total_at_the_chosen_threshold_is_the_sweeps_best() {
        let t = ts();
        let scores: Vec<f64> = (0..N).map(|i| ((i * 37) % 101) as f64 / 101.0).collect();
        let windows = [(30, 39), (70, 79)];
        let files = [CorpusFile { name: "a", timestamps: &t, scores: &scores, windows: &windows }];
        let (_, best) = sweep_threshold(&files, &Profile::STANDARD);
        let c = corpus_score(&files, &Profile::STANDARD);
        close(c.raw, best);
        // No other threshold does better.
        for &th in &scores {
            let d: Vec<bool> = scores.iter().map(|&s| s >= th).collect();
            assert!(score_series(&t, &d, &windows, &Profile::STANDARD).score <= best + 1e-12);
        }
    }
}
