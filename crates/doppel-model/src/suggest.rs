//! "Did you mean": the closest candidate to a misspelt word.

/// Edit distance between two strings (insertions, deletions, substitutions, transpositions).
pub fn edit_distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let mut prev2: Vec<usize> = vec![0; b.len() + 1];
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    let mut cur: Vec<usize> = vec![0; b.len() + 1];
    for i in 1..=a.len() {
        cur[0] = i;
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut best = (prev[j] + 1).min(cur[j - 1] + 1).min(prev[j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                best = best.min(prev2[j - 2] + 1);
            }
            cur[j] = best;
        }
        std::mem::swap(&mut prev2, &mut prev);
        std::mem::swap(&mut prev, &mut cur);
    }
    prev[b.len()]
}

/// The candidate closest to `word`, if it is close enough to be a likely typo.
pub fn closest<'a>(word: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let limit = (word.chars().count() / 3).max(1) + 1;
    let mut best: Option<(usize, &'a str)> = None;
    for candidate in candidates {
        // Cheap length filter before the quadratic distance.
        if candidate.len().abs_diff(word.len()) > limit {
            continue;
        }
        let distance = edit_distance(word, candidate);
        if distance <= limit && best.is_none_or(|(d, _)| distance < d) {
            best = Some((distance, candidate));
        }
    }
    best.map(|(_, c)| c)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn distance_counts_edits() {
        assert_eq!(edit_distance("replicas", "replicas"), 0);
        assert_eq!(edit_distance("replcas", "replicas"), 1);
        assert_eq!(edit_distance("rpelicas", "replicas"), 1);
        assert_eq!(edit_distance("", "abc"), 3);
    }

    #[test]
    fn closest_finds_typos_and_ignores_strangers() {
        let kinds = ["service", "zone", "region", "deployment"];
        assert_eq!(closest("servcie", kinds), Some("service"));
        assert_eq!(closest("deploymnet", kinds), Some("deployment"));
        assert_eq!(closest("banana", kinds), None);
    }
}
