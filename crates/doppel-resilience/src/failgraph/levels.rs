//! Killer sets of a graph numbered in dependency order, level by level, on one thread or two.
//!
//! A *level* is a run of consecutive components none of which needs another of the run, so
//! every set in it can be computed from the levels below alone. [`FailGraph::build`] numbers
//! a graph by level, which makes the levels large (all the pods, then all the workloads,
//! then services by how deep they call). Within a level the two threads take chunks of
//! components in turn; each writes the links of the components it took and lists their own
//! members in a buffer of its own. Between levels the buffers are appended to the forest's
//! list and the links' starts moved by where each buffer landed, so the next level reads
//! one list. Nothing here is unsafe: the links are atomics read and written without ordering
//! cost, and the end of each level orders them (see [`Shared::busy`]). The second thread is
//! one of rayon's pool (starting a thread per call cost 50 to 200 µs here); it spins between
//! levels, and yields its core when a wait grows long.

use super::{FailGraph, Forest, ITSELF, KillerSets, Link, NO_BASE, Outcome, SetScratch, Unions, hub_bit};
use std::ops::Range;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering::Relaxed, Ordering::SeqCst};
use std::sync::{Arc, Mutex, PoisonError, RwLock};

/// Graphs with fewer components are computed on one thread (a second costs more to start
/// than it saves).
pub(super) const TWO_THREADS_FROM: usize = 16_384;

/// Levels with fewer components are computed by the calling thread alone.
pub(super) const SHARED_FROM: usize = 64;

/// How long a waiting thread spins before it starts yielding its core.
const SPINS_BEFORE_YIELDING: u32 = 1 << 14;

/// The killer sets of `g`, which must be numbered in dependency order (every input below
/// its component), on `threads` threads (1 or 2), sharing levels of `shared_from` or more
/// components. None if the numbering is not a dependency order.
pub(super) fn killer_sets(g: &FailGraph, threads: usize, shared_from: usize) -> Option<KillerSets> {
    let levels = levels(g)?;
    let shared = Shared::new(g, threads > 1);
    let mut own = Worker::new(g.len());
    let mut run = || {
        // Lets the helper go however this thread leaves the scope.
        let _stop = StopOnDrop(&shared.stop);
        for level in levels.windows(2).map(|b| b[0]..b[1]) {
            let together = threads > 1 && level.len() >= shared_from;
            if together {
                shared.work.store(packed(level), SeqCst);
                shared.take_chunks(&mut own);
                wait(|| shared.busy.load(SeqCst) == 0);
            } else {
                let members = shared.members.read().unwrap_or_else(PoisonError::into_inner);
                let done = shared.done(&members);
                level.for_each(|c| own.grow(g, c, &done));
            }
            shared.merge(&mut own, together);
        }
    };
    // On one thread rayon's pool is not even started.
    if threads > 1 {
        rayon::in_place_scope(|scope| {
            scope.spawn(|_| shared.help());
            run();
        });
    } else {
        run();
    }
    let helper = shared.helper.into_inner().unwrap_or_else(PoisonError::into_inner);
    let (helper_unions, helped) = helper.map_or((Unions::default(), 0), |h| (h.scratch.unions, h.grown));
    let unions = own.scratch.unions + helper_unions;
    Some(KillerSets {
        members: shared.members.into_inner().unwrap_or_else(PoisonError::into_inner),
        links: shared.links.into_iter().map(|l| l.get()).collect(),
        order: None,
        down_already: shared.down.into_iter().map(AtomicBool::into_inner).collect(),
        approximated: Vec::new(),
        hubs: shared.hubs.into_iter().map(AtomicU32::into_inner).collect(),
        unions,
        helped,
        carried: Some(Arc::clone(&g.carried)),
    })
}

/// Where each level starts, plus the end: a component opens a new level when one of its
/// inputs is in the current one. None if some input is not numbered below its component.
fn levels(g: &FailGraph) -> Option<Vec<u32>> {
    let n = g.len() as u32;
    let mut starts = vec![0];
    let mut start = 0;
    for c in 0..n {
        if let Some(&last) = g.inputs(c).last() {
            if last >= c {
                return None;
            }
            if last >= start {
                start = c;
                starts.push(c);
            }
        }
    }
    if n > 0 {
        starts.push(n);
    }
    Some(starts)
}

/// A range of components as one word: its start in the low half, its end in the high half.
fn packed(r: Range<u32>) -> u64 {
    u64::from(r.start) | u64::from(r.end) << 32
}

/// Spins until `ready`, yielding the core after a while.
fn wait(ready: impl Fn() -> bool) {
    let mut backoff = Backoff::default();
    while !ready() {
        backoff.snooze();
    }
}

/// How a thread waits: it spins a while, then yields its core each time.
#[derive(Default)]
struct Backoff(u32);

impl Backoff {
    fn snooze(&mut self) {
        if self.0 < SPINS_BEFORE_YIELDING {
            self.0 += 1;
            std::hint::spin_loop();
        } else {
            std::thread::yield_now();
        }
    }
}

/// What both threads share while the sets are computed.
struct Shared<'g> {
    /// The graph.
    g: &'g FailGraph,
    /// Per component, its link (written once, by whichever thread computed it).
    links: Vec<AtomicLink>,
    /// Per component, its set's hub bits.
    hubs: Vec<AtomicU32>,
    /// Per component, whether it is down before anything fails.
    down: Vec<AtomicBool>,
    /// The own members of the levels done, back to back; written between levels only.
    members: RwLock<Vec<u32>>,
    /// The part of the level being shared that no thread has taken yet, [`packed`].
    work: AtomicU64,
    /// Whether the helper is taking chunks of the level. The calling thread merges only once
    /// every chunk is taken and this is 0, which also makes the helper's links visible to it;
    /// the helper reads the calling thread's through the lock on `members`.
    busy: AtomicU32,
    /// Tells the helper to finish.
    stop: AtomicBool,
    /// The helper's working memory and buffer (none on one thread).
    helper: Mutex<Option<Worker>>,
}

impl<'g> Shared<'g> {
    fn new(g: &'g FailGraph, two: bool) -> Shared<'g> {
        let n = g.len();
        Shared {
            g,
            links: (0..n).map(|_| AtomicLink::default()).collect(),
            hubs: (0..n).map(|_| AtomicU32::new(0)).collect(),
            down: (0..n).map(|_| AtomicBool::new(false)).collect(),
            members: RwLock::new(Vec::with_capacity(n)),
            work: AtomicU64::new(0),
            busy: AtomicU32::new(0),
            stop: AtomicBool::new(false),
            helper: Mutex::new(two.then(|| Worker::new(n))),
        }
    }

    /// The levels done so far, with `members` their own members.
    fn done<'a>(&'a self, members: &'a [u32]) -> Done<'a> {
        Done { links: &self.links, hubs: &self.hubs, down: &self.down, members }
    }

    /// The next chunk of the shared level for a thread to compute, if any is left: a share
    /// of what is left, so the two finish close together.
    fn claim(&self) -> Option<Range<u32>> {
        let mut cur = self.work.load(SeqCst);
        loop {
            let (next, end) = (cur as u32, (cur >> 32) as u32);
            if next >= end {
                return None;
            }
            let to = next + ((end - next) / 4).clamp(8, 2048).min(end - next);
            match self.work.compare_exchange_weak(cur, packed(to..end), SeqCst, SeqCst) {
                Ok(_) => return Some(next..to),
                Err(now) => cur = now,
            }
        }
    }

    /// Computes chunks of the shared level until none is left.
    fn take_chunks(&self, w: &mut Worker) {
        let members = self.members.read().unwrap_or_else(PoisonError::into_inner);
        let done = self.done(&members);
        while let Some(chunk) = self.claim() {
            chunk.for_each(|c| w.grow(self.g, c, &done));
        }
    }

    /// The helper thread: takes chunks of each shared level until told to stop.
    fn help(&self) {
        let mut backoff = Backoff::default();
        while !self.stop.load(SeqCst) {
            let cur = self.work.load(SeqCst);
            if cur as u32 >= (cur >> 32) as u32 {
                backoff.snooze();
                continue;
            }
            backoff = Backoff::default();
            self.busy.fetch_add(1, SeqCst);
            let _idle = IdleOnDrop(&self.busy);
            let mut helper = self.helper.lock().unwrap_or_else(PoisonError::into_inner);
            if let Some(w) = helper.as_mut() {
                self.take_chunks(w);
            }
        }
    }

    /// Appends what `own` (and, if the level was shared, the helper) listed to the members
    /// and moves the starts of their links to match.
    fn merge(&self, own: &mut Worker, together: bool) {
        let mut members = self.members.write().unwrap_or_else(PoisonError::into_inner);
        let mut helper = together.then(|| self.helper.lock().unwrap_or_else(PoisonError::into_inner));
        let helper = helper.as_mut().and_then(|h| h.as_mut());
        for w in std::iter::once(own).chain(helper) {
            let by = members.len() as u32;
            members.extend_from_slice(&w.members);
            for &c in &w.listing {
                self.links[c as usize].move_start(by);
            }
            w.members.clear();
            w.listing.clear();
        }
    }
}

/// Sets a flag when dropped.
struct StopOnDrop<'a>(&'a AtomicBool);

impl Drop for StopOnDrop<'_> {
    fn drop(&mut self) {
        self.0.store(true, SeqCst);
    }
}

/// Counts a thread out of [`Shared::busy`] when dropped.
struct IdleOnDrop<'a>(&'a AtomicU32);

impl Drop for IdleOnDrop<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, SeqCst);
    }
}

/// A [`Link`] that threads can share: start and length, then base and size, a word each.
struct AtomicLink {
    listed: AtomicU64,
    rest: AtomicU64,
}

impl Default for AtomicLink {
    fn default() -> AtomicLink {
        AtomicLink { listed: AtomicU64::new(0), rest: AtomicU64::new(u64::from(NO_BASE)) }
    }
}

impl AtomicLink {
    fn get(&self) -> Link {
        let (a, b) = (self.listed.load(Relaxed), self.rest.load(Relaxed));
        Link { start: a as u32, len: (a >> 32) as u32, base: b as u32, size: (b >> 32) as u32 }
    }

    fn set(&self, l: Link) {
        self.listed.store(u64::from(l.start) | u64::from(l.len) << 32, Relaxed);
        self.rest.store(u64::from(l.base) | u64::from(l.size) << 32, Relaxed);
    }

    /// Moves where its listed members start by `by`.
    fn move_start(&self, by: u32) {
        let a = self.listed.load(Relaxed);
        self.listed.store(u64::from((a as u32) + by) | (a >> 32) << 32, Relaxed);
    }
}

/// The levels done so far, as a thread computing the next one reads them.
struct Done<'a> {
    links: &'a [AtomicLink],
    hubs: &'a [AtomicU32],
    down: &'a [AtomicBool],
    members: &'a [u32],
}

impl Forest for Done<'_> {
    fn link(&self, c: u32) -> Link {
        self.links[c as usize].get()
    }

    fn base(&self, c: u32) -> u32 {
        self.links[c as usize].rest.load(Relaxed) as u32
    }

    fn listed(&self, l: Link) -> &[u32] {
        l.listed_in(self.members)
    }

    fn hub_mask(&self, c: u32) -> u32 {
        self.hubs[c as usize].load(Relaxed)
    }

    fn down(&self, c: u32) -> bool {
        self.down[c as usize].load(Relaxed)
    }
}

/// One thread's working memory, and the own members it listed in the current level.
struct Worker {
    scratch: SetScratch,
    /// Own members listed this level, back to back.
    members: Vec<u32>,
    /// The components whose links point into `members`.
    listing: Vec<u32>,
    /// How many components' sets it computed.
    grown: u32,
}

impl Worker {
    fn new(n: usize) -> Worker {
        Worker { scratch: SetScratch::new(n), members: Vec::new(), listing: Vec::new(), grown: 0 }
    }

    /// Computes and writes the set of `c`, whose inputs are all in `done`.
    fn grow(&mut self, g: &FailGraph, c: u32, done: &Done) {
        self.grown += 1;
        let made = match g.one_input(c, done) {
            Some(made) => {
                self.scratch.acc.clear();
                made
            }
            None => g.gate_set(c, done, &mut self.scratch, true),
        };
        let Outcome::Set { base, itself } = made else {
            done.down[c as usize].store(true, Relaxed);
            return;
        };
        let own = &self.scratch.acc;
        let flags = if itself { ITSELF | g.carried_flag(c) } else { 0 };
        let link = Link::new(self.members.len() as u32, own.len(), flags, base, done);
        if !own.is_empty() {
            self.listing.push(c);
            self.members.extend_from_slice(own);
        }
        let below = if base == NO_BASE { 0 } else { done.hub_mask(base) };
        let hubs = own.iter().fold(below | if itself { hub_bit(c) } else { 0 }, |m, &x| m | hub_bit(x));
        done.links[c as usize].set(link);
        done.hubs[c as usize].store(hubs, Relaxed);
    }
}
