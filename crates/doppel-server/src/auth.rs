//! Tokens and roles: who may do what, stored hashed in the store's SQLite file.
//!
//! A token reads `dpl_<id>_<secret>`. The store keeps its id, name, role, scope and
//! expiry, and an argon2id hash of the secret only. Verifying a secret with argon2 takes
//! tens of milliseconds, so a token verified once is remembered in memory (keyed by the
//! whole token) until it is revoked or a minute has passed.

use crate::error::ApiError;
use argon2::Argon2;
use argon2::password_hash::{PasswordHasher, PasswordVerifier};
use rusqlite::{Connection, OptionalExtension, params};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::path::Path;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// What a token may do; each role may do everything the ones below it may.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Read the twin, its history, series and reports.
    Viewer,
    /// Also run what-ifs, analyses and jobs.
    Analyst,
    /// Also change the twin and apply remediations.
    Operator,
    /// Also manage tokens and read the audit log.
    Admin,
}

impl Role {
    /// Every role, lowest first.
    pub const ALL: [Role; 4] = [Role::Viewer, Role::Analyst, Role::Operator, Role::Admin];

    /// The role's name.
    pub fn name(self) -> &'static str {
        match self {
            Role::Viewer => "viewer",
            Role::Analyst => "analyst",
            Role::Operator => "operator",
            Role::Admin => "admin",
        }
    }

    /// Reads a role's name.
    pub fn parse(text: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|r| r.name() == text)
    }
}

impl std::fmt::Display for Role {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// A token as stored, without its secret.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct TokenInfo {
    /// Its id (the part after `dpl_`).
    pub id: String,
    /// What it is for (`ci`, `alice`).
    pub name: String,
    /// What it may do.
    pub role: Role,
    /// Selectors limiting what it sees; empty: the whole estate.
    pub scope: Vec<String>,
    /// When it was made, in milliseconds since the epoch.
    pub created_ms: i64,
    /// When it stops working, if it does.
    pub expires_ms: Option<i64>,
    /// Whether it was revoked.
    pub revoked: bool,
}

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS server_tokens (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    role TEXT NOT NULL,
    scope TEXT NOT NULL,
    hash TEXT NOT NULL,
    created_ms INTEGER NOT NULL,
    expires_ms INTEGER,
    revoked INTEGER NOT NULL DEFAULT 0
);";

/// How long a verified token is trusted without asking the store again.
const CACHE_FOR: Duration = Duration::from_secs(60);

/// The tokens of one store.
pub struct Tokens {
    conn: Mutex<Connection>,
    verified: Mutex<HashMap<String, (TokenInfo, Instant)>>,
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn argon() -> Argon2<'static> {
    Argon2::default()
}

impl Tokens {
    /// Opens the tokens of the store at `path` (the store must exist), making the table if needed.
    pub fn open(path: &Path) -> Result<Tokens, ApiError> {
        let conn = Connection::open(path)?;
        conn.busy_timeout(Duration::from_secs(10))?;
        conn.execute_batch(SCHEMA)?;
        Ok(Tokens { conn: Mutex::new(conn), verified: Mutex::new(HashMap::new()) })
    }

    fn conn(&self) -> std::sync::MutexGuard<'_, Connection> {
        self.conn.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn cache(&self) -> std::sync::MutexGuard<'_, HashMap<String, (TokenInfo, Instant)>> {
        self.verified.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Makes a token; returns what is stored and the token text, which is never stored.
    pub fn create(
        &self,
        name: &str,
        role: Role,
        scope: &[String],
        expires_ms: Option<i64>,
        now_ms: i64,
    ) -> Result<(TokenInfo, String), ApiError> {
        let mut id = [0u8; 6];
        let mut secret = [0u8; 24];
        rand::fill(&mut id);
        rand::fill(&mut secret);
        let (id, secret) = (hex(&id), hex(&secret));
        let hash = argon()
            .hash_password(secret.as_bytes())
            .map_err(|e| ApiError::internal(format!("hashing the token: {e}")))?
            .to_string();
        let scope_json = serde_json::to_string(scope).map_err(|e| ApiError::internal(e.to_string()))?;
        self.conn().execute(
            "INSERT INTO server_tokens (id, name, role, scope, hash, created_ms, expires_ms) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            params![id, name, role.name(), scope_json, hash, now_ms, expires_ms],
        )?;
        let info = TokenInfo {
            id: id.clone(),
            name: name.to_string(),
            role,
            scope: scope.to_vec(),
            created_ms: now_ms,
            expires_ms,
            revoked: false,
        };
        Ok((info, format!("dpl_{id}_{secret}")))
    }

    fn row(row: &rusqlite::Row<'_>) -> rusqlite::Result<(TokenInfo, String)> {
        let role: String = row.get(2)?;
        let scope: String = row.get(3)?;
        Ok((
            TokenInfo {
                id: row.get(0)?,
                name: row.get(1)?,
                role: Role::parse(&role).unwrap_or(Role::Viewer),
                scope: serde_json::from_str(&scope).unwrap_or_default(),
                created_ms: row.get(5)?,
                expires_ms: row.get(6)?,
                revoked: row.get::<_, i64>(7)? != 0,
            },
            row.get(4)?,
        ))
    }

    /// Every token, newest first.
    pub fn list(&self) -> Result<Vec<TokenInfo>, ApiError> {
        let conn = self.conn();
        let mut stmt = conn.prepare(
            "SELECT id, name, role, scope, hash, created_ms, expires_ms, revoked FROM server_tokens ORDER BY created_ms DESC, id",
        )?;
        let rows = stmt.query_map([], Tokens::row)?;
        Ok(rows.map(|r| r.map(|(info, _)| info)).collect::<Result<_, _>>()?)
    }

    /// Whether no token that still works exists.
    pub fn none_usable(&self, now_ms: i64) -> Result<bool, ApiError> {
        Ok(!self.list()?.iter().any(|t| !t.revoked && t.expires_ms.is_none_or(|e| e > now_ms)))
    }

    /// Revokes a token; false when there is none with that id.
    pub fn revoke(&self, id: &str) -> Result<bool, ApiError> {
        let changed = self.conn().execute("UPDATE server_tokens SET revoked = 1 WHERE id = ?1", params![id])?;
        self.cache().retain(|_, (info, _)| info.id != id);
        Ok(changed > 0)
    }

    /// The token a request carries, if it is valid now.
    pub fn verify(&self, token: &str, now_ms: i64) -> Result<TokenInfo, ApiError> {
        let invalid = || ApiError::unauthorized("the token is not valid (unknown, mistyped or revoked)");
        if let Some((info, at)) = self.cache().get(token).cloned()
            && at.elapsed() < CACHE_FOR
        {
            return check_expiry(info, now_ms);
        }
        let rest = token.strip_prefix("dpl_").ok_or_else(invalid)?;
        let (id, secret) = rest.split_once('_').ok_or_else(invalid)?;
        if id.len() != 12 || secret.len() != 48 {
            return Err(invalid());
        }
        let found = self
            .conn()
            .query_row(
                "SELECT id, name, role, scope, hash, created_ms, expires_ms, revoked FROM server_tokens WHERE id = ?1",
                params![id],
                Tokens::row,
            )
            .optional()?;
        let Some((info, hash)) = found else {
            return Err(invalid());
        };
        let parsed = argon2::password_hash::phc::PasswordHash::new(&hash)
            .map_err(|e| ApiError::internal(format!("a stored token hash is unreadable: {e}")))?;
        if info.revoked || argon().verify_password(secret.as_bytes(), &parsed).is_err() {
            return Err(invalid());
        }
        let mut cache = self.cache();
        if cache.len() > 10_000 {
            cache.clear();
        }
        cache.insert(token.to_string(), (info.clone(), Instant::now()));
        drop(cache);
        check_expiry(info, now_ms)
    }
}

fn check_expiry(info: TokenInfo, now_ms: i64) -> Result<TokenInfo, ApiError> {
    match info.expires_ms {
        Some(at) if at <= now_ms => Err(ApiError::unauthorized(format!(
            "the token '{}' expired at {}",
            info.name,
            jiff::Timestamp::from_millisecond(at).map(|t| t.to_string()).unwrap_or_else(|_| at.to_string())
        ))),
        _ => Ok(info),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tokens() -> (tempfile::TempDir, Tokens) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.db");
        doppel_store::SqliteStore::open(&path).unwrap();
        let tokens = Tokens::open(&path).unwrap();
        (dir, tokens)
    }

    #[test]
    fn a_token_verifies_and_its_secret_is_not_stored() {
        let (_dir, tokens) = tokens();
        let (info, text) = tokens.create("ci", Role::Analyst, &["namespace=shop".into()], None, 1_000).unwrap();
        assert_eq!(tokens.verify(&text, 2_000).unwrap(), info);
        let secret = text.rsplit('_').next().unwrap();
        let stored: String = tokens.conn().query_row("SELECT hash FROM server_tokens", [], |r| r.get(0)).unwrap();
        assert!(stored.starts_with("$argon2id$"), "{stored}");
        assert!(!stored.contains(secret));
    }

    #[test]
    fn wrong_revoked_and_expired_tokens_are_refused() {
        let (_dir, tokens) = tokens();
        let (_, text) = tokens.create("a", Role::Viewer, &[], Some(5_000), 1_000).unwrap();
        let mut wrong = text.clone();
        wrong.pop();
        wrong.push(if text.ends_with('0') { '1' } else { '0' });
        assert_eq!(tokens.verify(&wrong, 2_000).unwrap_err().status, 401);
        assert_eq!(tokens.verify("dpl_x", 2_000).unwrap_err().status, 401);
        assert_eq!(tokens.verify("", 2_000).unwrap_err().status, 401);
        let expired = tokens.verify(&text, 6_000).unwrap_err();
        assert!(expired.message.contains("expired"), "{expired}");
        let id = text.split('_').nth(1).unwrap();
        assert!(tokens.verify(&text, 2_000).is_ok());
        assert!(tokens.revoke(id).unwrap());
        assert_eq!(tokens.verify(&text, 2_000).unwrap_err().status, 401);
        assert!(tokens.none_usable(2_000).unwrap());
    }
}
