//! Capacity answers on the analytic solver: does every entry point meet its latency
//! objectives, how far can the load grow before one breaks (the saturation point), and how
//! many replicas each service needs to meet them at a target load.

use crate::PerfError;
use crate::analytic::{EntrySolution, Solution, solve};
use crate::network::Network;

/// The first objective a solution breaks, in words; `None` when all hold.
pub fn first_breach(net: &Network, solution: &Solution) -> Option<String> {
    solution.entries.iter().find_map(|e| breach(net, e))
}

/// The objective one entry point breaks, in words (p99 first, then p50).
fn breach(net: &Network, e: &EntrySolution) -> Option<String> {
    let endpoint = &net.endpoints[e.endpoint];
    [("p99", endpoint.slo.p99_ms, e.p99_ms), ("p50", endpoint.slo.p50_ms, e.p50_ms)].into_iter().find_map(
        |(name, target, got)| {
            target
                .filter(|t| got > *t)
                .map(|t| format!("{}: {name} {got:.0} ms over its {t:.0} ms objective", endpoint.name))
        },
    )
}

/// The network with every source's rate times `factor`.
pub fn scaled(net: &Network, factor: f64) -> Network {
    let mut out = net.clone();
    for s in &mut out.sources {
        s.rate_rps *= factor;
    }
    out
}

/// How far the load can grow.
#[derive(Debug, Clone, PartialEq)]
pub struct Saturation {
    /// Largest load factor (on the network's rates) at which every objective holds and
    /// every queue settles, to within 1%.
    pub factor: f64,
    /// What breaks just above it.
    pub breaks: String,
}

/// The saturation point: the largest load factor before an objective breaks or a station
/// is overloaded, by bisection; `None` when nothing breaks up to `most`.
pub fn saturation(net: &Network, most: f64) -> Result<Option<Saturation>, PerfError> {
    net.check()?;
    let verdict = |f: f64| -> Option<String> {
        match solve(&scaled(net, f)) {
            Ok(s) => first_breach(net, &s),
            Err(err) => Some(err.to_string()),
        }
    };
    if let Some(why) = verdict(1e-9) {
        return Ok(Some(Saturation { factor: 0.0, breaks: why }));
    }
    let (mut low, mut high) = (1e-9, 1.0);
    while verdict(high).is_none() {
        low = high;
        high *= 2.0;
        if high > most {
            return Ok(None);
        }
    }
    while high - low > 0.005 * high {
        let mid = (low + high) / 2.0;
        if verdict(mid).is_none() { low = mid } else { high = mid }
    }
    let breaks = verdict(high).unwrap_or_default();
    Ok(Some(Saturation { factor: low, breaks }))
}

/// A station whose replicas may change, and the servers one replica brings.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Scalable {
    /// Index of the station.
    pub station: usize,
    /// Servers per replica (its concurrency).
    pub per_replica: u32,
    /// Replicas now.
    pub replicas: u32,
}

/// Replicas per scalable station (same order) that meet every objective at the network's
/// rates: overloaded stations first get enough replicas to be 80% busy, then one replica at
/// a time goes to the busiest scalable station the breached entry point reaches.
pub fn replicas_needed(net: &Network, scalable: &[Scalable], most_replicas: u32) -> Result<Vec<u32>, PerfError> {
    net.check()?;
    let mut net = net.clone();
    let mut replicas: Vec<u32> = scalable.iter().map(|s| s.replicas).collect();
    for _ in 0..10_000 {
        for (i, s) in scalable.iter().enumerate() {
            net.stations[s.station].servers = replicas[i].saturating_mul(s.per_replica);
        }
        match solve(&net) {
            Err(
                PerfError::Overloaded { station, index: s, arrival_rps, .. }
                | PerfError::Down { station, index: s, arrival_rps },
            ) => {
                let Some(i) = scalable.iter().position(|x| x.station == s) else {
                    return Err(PerfError::Model(format!(
                        "{station} is overloaded ({arrival_rps:.1} rps) and has no replicas to add"
                    )));
                };
                // Enough replicas for the offered work to keep them 80% busy.
                let work = crate::analytic::offered(&net)?[s].work;
                let want =
                    (work / 0.8 / f64::from(scalable[i].per_replica.max(1))).ceil().min(f64::from(u32::MAX)) as u32;
                replicas[i] = want.max(replicas[i] + 1);
            }
            Err(other) => return Err(other),
            Ok(solution) => {
                let Some((entry, why)) = solution.entries.iter().find_map(|e| breach(&net, e).map(|why| (e, why)))
                else {
                    return Ok(replicas);
                };
                let reach = reachable(&net, entry.endpoint);
                let busiest = scalable
                    .iter()
                    .enumerate()
                    .filter(|(_, s)| reach[s.station])
                    .max_by(|a, b| {
                        let ua = solution.stations[a.1.station].utilisation;
                        let ub = solution.stations[b.1.station].utilisation;
                        ua.total_cmp(&ub)
                    })
                    .map(|(i, _)| i);
                let Some(i) = busiest else {
                    return Err(PerfError::Model(format!("{why}: no replicas on its path can be added")));
                };
                if solution.stations[scalable[i].station].utilisation < 0.05 {
                    return Err(PerfError::Model(format!(
                        "{why}: more replicas would not help (its own service times exceed the objective)"
                    )));
                }
                replicas[i] += 1;
            }
        }
        if replicas.iter().any(|&r| r > most_replicas) {
            return Err(PerfError::Model(format!("more than {most_replicas} replicas of a service would be needed")));
        }
    }
    Err(PerfError::Model("no replica count found that meets every objective".into()))
}

/// Stations an endpoint's requests reach (itself included).
fn reachable(net: &Network, from: usize) -> Vec<bool> {
    let mut seen = vec![false; net.endpoints.len()];
    let mut stations = vec![false; net.stations.len()];
    let mut stack = vec![from];
    while let Some(e) = stack.pop() {
        if std::mem::replace(&mut seen[e], true) {
            continue;
        }
        stations[net.endpoints[e].station as usize] = true;
        stack.extend(net.calls_of(e).map(|(c, _)| c.to as usize));
    }
    stations
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::network::Slo;

    /// Two stations in line, 10 rps, 20 ms and 50 ms, one server each; p99 objective 1 s.
    fn line() -> Network {
        let mut net = Network::jackson(&[1, 1], &[20.0, 50.0], &[10.0, 0.0], &[vec![0.0, 1.0], vec![0.0, 0.0]]);
        net.endpoints[0].slo = Slo { p50_ms: None, p99_ms: Some(1000.0) };
        net
    }

    #[test]
    fn saturation_is_where_the_objective_breaks() {
        let net = line();
        let s = saturation(&net, 100.0).unwrap().unwrap();
        // Just below: the objective holds; just above: it breaks.
        assert!(first_breach(&net, &solve(&scaled(&net, s.factor)).unwrap()).is_none());
        let above = solve(&scaled(&net, s.factor * 1.02)).map(|x| first_breach(&net, &x));
        assert!(!matches!(above, Ok(None)), "{above:?}");
        // The 50 ms station saturates at 20 rps (factor 2), before that the p99 objective breaks.
        assert!(s.factor > 1.0 && s.factor < 2.0, "{s:?}");
        assert!(s.breaks.contains("p99"), "{s:?}");
        // Without an objective the queue itself is the limit: factor 2.
        let mut free = net.clone();
        free.endpoints[0].slo = Slo::default();
        let s = saturation(&free, 100.0).unwrap().unwrap();
        assert!((s.factor - 2.0).abs() < 0.02, "{s:?}");
        assert!(s.breaks.contains("station 1"), "{s:?}");
    }

    #[test]
    fn replicas_are_added_where_they_help() {
        let net = scaled(&line(), 3.0); // 30 rps: station 1 needs 1.5 servers' worth of work
        let scalable = [
            Scalable { station: 0, per_replica: 1, replicas: 1 },
            Scalable { station: 1, per_replica: 1, replicas: 1 },
        ];
        let r = replicas_needed(&net, &scalable, 100).unwrap();
        assert!(r[1] >= 2, "{r:?}");
        let mut check = net.clone();
        check.stations[0].servers = r[0];
        check.stations[1].servers = r[1];
        assert!(first_breach(&check, &solve(&check).unwrap()).is_none());
        // One fewer replica of the back end would not do.
        check.stations[1].servers = r[1] - 1;
        assert!(solve(&check).map(|s| first_breach(&check, &s)).map_or(true, |b| b.is_some()));
        // A station that cannot scale is named.
        let err = replicas_needed(&net, &scalable[..1], 100).unwrap_err().to_string();
        assert!(err.contains("station 1 is overloaded"), "{err}");
    }
}
