//! The audit log: who did what, kept in the store's SQLite file.
//!
//! Recorded: every request that changes something or runs an analysis, every refusal
//! (401, 403, 404 on a scoped key, 413, 429) and token management. Plain reads that
//! succeed are not recorded, so a busy dashboard does not fill the log.

use crate::error::ApiError;
use rusqlite::{Connection, params};
use serde::Serialize;
use std::path::Path;
use std::sync::Mutex;
use std::sync::mpsc;

/// One entry of the audit log.
#[derive(Debug, Clone, PartialEq, Serialize, schemars::JsonSchema)]
pub struct AuditEntry {
    /// Position in the log.
    pub seq: i64,
    /// When, in milliseconds since the epoch.
    pub time_ms: i64,
    /// Token id, or `-` when none was valid.
    pub token: String,
    /// Token name.
    pub name: String,
    /// Token role.
    pub role: String,
    /// HTTP method.
    pub method: String,
    /// Path and query.
    pub path: String,
    /// HTTP status answered.
    pub status: u16,
    /// The client's address.
    pub client: String,
}

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS server_audit (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    time_ms INTEGER NOT NULL,
    token TEXT NOT NULL,
    name TEXT NOT NULL,
    role TEXT NOT NULL,
    method TEXT NOT NULL,
    path TEXT NOT NULL,
    status INTEGER NOT NULL,
    client TEXT NOT NULL
);";

/// The audit log of one store; entries are written by a thread of their own, in batches.
pub struct Audit {
    sender: Mutex<mpsc::Sender<AuditEntry>>,
    reader: Mutex<Connection>,
}

impl Audit {
    /// Opens the log of the store at `path`.
    pub fn open(path: &Path) -> Result<Audit, ApiError> {
        let writer = Connection::open(path)?;
        writer.busy_timeout(std::time::Duration::from_secs(10))?;
        writer.execute_batch(SCHEMA)?;
        let reader = Connection::open(path)?;
        reader.busy_timeout(std::time::Duration::from_secs(10))?;
        let (sender, receiver) = mpsc::channel::<AuditEntry>();
        std::thread::Builder::new()
            .name("doppel-audit".into())
            .spawn(move || {
                let mut writer = writer;
                while let Ok(first) = receiver.recv() {
                    let mut batch = vec![first];
                    batch.extend(receiver.try_iter().take(999));
                    if let Err(e) = write(&mut writer, &batch) {
                        eprintln!("doppel serve: could not write {} audit entries: {e}", batch.len());
                    }
                }
            })
            .map_err(|e| ApiError::internal(format!("starting the audit writer: {e}")))?;
        Ok(Audit { sender: Mutex::new(sender), reader: Mutex::new(reader) })
    }

    /// Records an entry (written shortly after, in order).
    pub fn record(&self, entry: AuditEntry) {
        let sender = self.sender.lock().unwrap_or_else(|p| p.into_inner());
        // The writer only stops with the process.
        let _ = sender.send(entry);
    }

    /// The newest entries, newest first.
    pub fn recent(&self, limit: usize) -> Result<Vec<AuditEntry>, ApiError> {
        let conn = self.reader.lock().unwrap_or_else(|p| p.into_inner());
        let mut stmt = conn.prepare(
            "SELECT seq, time_ms, token, name, role, method, path, status, client FROM server_audit ORDER BY seq DESC LIMIT ?1",
        )?;
        let rows = stmt.query_map(params![limit as i64], |r| {
            Ok(AuditEntry {
                seq: r.get(0)?,
                time_ms: r.get(1)?,
                token: r.get(2)?,
                name: r.get(3)?,
                role: r.get(4)?,
                method: r.get(5)?,
                path: r.get(6)?,
                status: r.get(7)?,
                client: r.get(8)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }
}

fn write(conn: &mut Connection, batch: &[AuditEntry]) -> rusqlite::Result<()> {
    let tx = conn.transaction()?;
    {
        let mut stmt = tx.prepare(
            "INSERT INTO server_audit (time_ms, token, name, role, method, path, status, client) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
        )?;
        for e in batch {
            stmt.execute(params![e.time_ms, e.token, e.name, e.role, e.method, e.path, e.status, e.client])?;
        }
    }
    tx.commit()
}
