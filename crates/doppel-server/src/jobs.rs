//! Long analyses run as jobs: started with 202, followed by polling or live updates.

use crate::error::ApiError;
use crate::live::Event;
use serde::Serialize;
use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use tokio::sync::broadcast;

/// A job as its owner sees it.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct Job {
    /// Its id.
    pub id: u64,
    /// What it runs (`spof`, `availability`, `simulate`, `predict`).
    pub analysis: String,
    /// `running`, `done`, `failed` or `cancelled`.
    pub state: &'static str,
    /// Steps done.
    pub done: u64,
    /// Steps in all (0 while unknown).
    pub total: u64,
    /// What it is doing.
    pub stage: String,
    /// When it started, in milliseconds since the epoch.
    pub started_ms: i64,
    /// The report, once done.
    #[schemars(with = "Option<serde_json::Map<String, serde_json::Value>>")]
    pub result: Option<serde_json::Value>,
    /// Why it failed.
    pub error: Option<ApiError>,
    /// The token that started it.
    #[serde(skip)]
    pub owner: String,
}

/// Every job of this server (kept until the server stops; the newest 200 finished ones).
#[derive(Default)]
pub struct Jobs {
    next: AtomicU64,
    jobs: Mutex<HashMap<u64, Job>>,
}

impl Jobs {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<u64, Job>> {
        self.jobs.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Registers a new running job.
    pub fn start(&self, analysis: &str, owner: &str, now_ms: i64) -> Job {
        let id = self.next.fetch_add(1, Ordering::Relaxed) + 1;
        let job = Job {
            id,
            analysis: analysis.to_string(),
            state: "running",
            done: 0,
            total: 0,
            stage: "starting".into(),
            started_ms: now_ms,
            result: None,
            error: None,
            owner: owner.to_string(),
        };
        let mut jobs = self.lock();
        if jobs.len() > 200 {
            let mut finished: Vec<u64> = jobs.values().filter(|j| j.state != "running").map(|j| j.id).collect();
            finished.sort_unstable();
            for id in finished.iter().take(jobs.len() - 200) {
                jobs.remove(id);
            }
        }
        jobs.insert(id, job.clone());
        job
    }

    /// A job, if `owner` may see it (its own, or any for admins).
    pub fn get(&self, id: u64, owner: &str, admin: bool) -> Option<Job> {
        self.lock().get(&id).filter(|j| admin || j.owner == owner).cloned()
    }

    /// Updates a job's progress and tells listeners; false when it was cancelled.
    pub fn progress(&self, events: &broadcast::Sender<Event>, id: u64, done: u64, total: u64, stage: &str) -> bool {
        let mut jobs = self.lock();
        let Some(job) = jobs.get_mut(&id) else { return false };
        if job.state != "running" {
            return false;
        }
        job.done = done;
        job.total = total;
        if job.stage != stage {
            job.stage = stage.to_string();
        }
        let _ = events.send(event(job));
        true
    }

    /// Ends a job with its report or its error.
    pub fn finish(&self, events: &broadcast::Sender<Event>, id: u64, result: Result<serde_json::Value, ApiError>) {
        let mut jobs = self.lock();
        let Some(job) = jobs.get_mut(&id) else { return };
        if job.state != "running" {
            return;
        }
        match result {
            Ok(value) => {
                job.state = "done";
                job.done = job.total.max(job.done);
                job.stage = "done".into();
                job.result = Some(value);
            }
            Err(e) => {
                job.state = "failed";
                job.stage = "failed".into();
                job.error = Some(e);
            }
        }
        let _ = events.send(event(job));
    }

    /// Cancels a running job; its result, when it comes, is dropped.
    pub fn cancel(&self, events: &broadcast::Sender<Event>, id: u64, owner: &str, admin: bool) -> Option<Job> {
        let mut jobs = self.lock();
        let job = jobs.get_mut(&id).filter(|j| admin || j.owner == owner)?;
        if job.state == "running" {
            job.state = "cancelled";
            job.stage = "cancelled".into();
            let _ = events.send(event(job));
        }
        Some(job.clone())
    }
}

fn event(job: &Job) -> Event {
    Event::Job {
        id: job.id,
        owner: job.owner.clone(),
        state: job.state,
        done: job.done,
        total: job.total,
        stage: job.stage.clone(),
    }
}
