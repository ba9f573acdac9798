//! One-shot scale measurements on a generated estate: live heap per entity (a counting
//! allocator, so allocator slack and freed-but-kept memory do not count), time to commit,
//! and time and resident memory to reopen the store in a fresh process.
//!
//! `cargo run --release -p doppel-bench --bin scale -- 1000000` prints one JSON object.

use doppel_bench::{estate_changeset, resident_bytes, services_for};
use doppel_model::{Twin, TwinView};
use doppel_store::{At, SqliteStore, Store};
use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

/// Counts the bytes currently allocated.
struct Counting;

static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

// SAFETY: every call is forwarded to the system allocator unchanged; we only count.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let now = LIVE.fetch_add(layout.size(), Ordering::Relaxed) + layout.size();
        PEAK.fetch_max(now, Ordering::Relaxed);
        // SAFETY: same contract as our caller's.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
        // SAFETY: same contract as our caller's.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if new_size >= layout.size() {
            let now = LIVE.fetch_add(new_size - layout.size(), Ordering::Relaxed) + new_size - layout.size();
            PEAK.fetch_max(now, Ordering::Relaxed);
        } else {
            LIVE.fetch_sub(layout.size() - new_size, Ordering::Relaxed);
        }
        // SAFETY: same contract as our caller's.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

fn live() -> usize {
    LIVE.load(Ordering::Relaxed)
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    match args.get(1).map(String::as_str) {
        Some("reopen") => reopen(&args[2]),
        _ => build(args.get(1).and_then(|a| a.parse().ok()).unwrap_or(1_000_000)),
    }
}

/// Reads the store's head in this (fresh) process and reports time and memory.
fn reopen(path: &str) {
    let rss_start = resident_bytes().unwrap_or(0);
    let t = Instant::now();
    let store = SqliteStore::open_existing(path).expect("store");
    let twin = store.twin_at(At::Head, None).expect("read");
    let seconds = t.elapsed().as_secs_f64();
    println!(
        "{}",
        serde_json::json!({
            "reopen_s": seconds,
            "entities": twin.entity_count(),
            "heap_bytes": live(),
            "rss_bytes": resident_bytes().unwrap_or(0) - rss_start,
            "peak_heap_bytes": PEAK.load(Ordering::Relaxed),
        })
    );
}

fn build(entities: usize) {
    let changes = estate_changeset(services_for(entities), 42);
    let t = Instant::now();
    let mut twin = Twin::new();
    twin.apply(&changes).expect("generated estates are valid");
    let apply_s = t.elapsed().as_secs_f64();
    drop(changes);
    // Only the twin is alive now (the generator's output was dropped).
    let heap = live();
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("scale.db");
    let mut store = SqliteStore::open(&path).expect("store");
    let changes = doppel_model::diff(&Twin::new(), &twin);
    let t = Instant::now();
    let (_, twin) = store.commit(Twin::new(), &changes).expect("commit");
    let commit_s = t.elapsed().as_secs_f64();
    drop(changes);
    drop(store);
    let t = Instant::now();
    let child = std::process::Command::new(std::env::current_exe().expect("own path"))
        .arg("reopen")
        .arg(&path)
        .output()
        .expect("run the reopen measurement");
    let process_s = t.elapsed().as_secs_f64();
    let reopen: serde_json::Value = serde_json::from_slice(&child.stdout).expect("reopen prints JSON");
    let file_bytes = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
    let n = twin.entity_count();
    println!(
        "{}",
        serde_json::json!({
            "entities": n,
            "relations": twin.relation_count(),
            "twin_heap_bytes": heap,
            "twin_heap_bytes_per_entity": heap as f64 / n as f64,
            "apply_s": apply_s,
            "commit_s": commit_s,
            "store_file_bytes": file_bytes,
            "reopen": reopen,
            "reopen_process_s": process_s,
            "reopen_rss_bytes_per_entity": reopen["rss_bytes"].as_f64().unwrap_or(0.0) / n as f64,
        })
    );
}
