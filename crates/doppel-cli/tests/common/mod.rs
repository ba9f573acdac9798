//! What the CLI's test files share: a scratch directory with a store, the output of a run,
//! and a scripted Kubernetes API.
// Each test file uses its own part of this module.
#![allow(dead_code)]

use assert_cmd::Command;
use std::path::PathBuf;

/// A scratch directory with a store path inside.
pub struct Scratch {
    pub dir: tempfile::TempDir,
}

impl Scratch {
    pub fn new() -> Scratch {
        Scratch { dir: tempfile::tempdir().unwrap() }
    }

    pub fn store(&self) -> PathBuf {
        self.dir.path().join("twin.db")
    }

    pub fn file(&self, name: &str, text: &str) -> PathBuf {
        let path = self.dir.path().join(name);
        std::fs::write(&path, text).unwrap();
        path
    }

    /// `doppel --store <scratch store> ARGS`, run in the scratch directory (killed after
    /// five minutes).
    pub fn doppel(&self, args: &[&str]) -> assert_cmd::assert::Assert {
        Command::cargo_bin("doppel")
            .unwrap()
            .current_dir(self.dir.path())
            .arg("--store")
            .arg(self.store())
            .args(args)
            .timeout(std::time::Duration::from_secs(300))
            .assert()
    }

    /// Everything a reader sees of the store: its history and its whole content.
    pub fn fingerprint(&self) -> (String, String) {
        let history = self.doppel(&["history", "--json"]).success().get_output().stdout.clone();
        let content = self.doppel(&["show", "*", "--json", "--limit", "100000"]).success().get_output().stdout.clone();
        (String::from_utf8(history).unwrap(), String::from_utf8(content).unwrap())
    }
}

pub fn stdout(assert: &assert_cmd::assert::Assert) -> String {
    String::from_utf8_lossy(&assert.get_output().stdout).into_owned()
}

pub fn stderr(assert: &assert_cmd::assert::Assert) -> String {
    String::from_utf8_lossy(&assert.get_output().stderr).into_owned()
}

pub fn json(assert: &assert_cmd::assert::Assert) -> serde_json::Value {
    serde_json::from_slice(&assert.get_output().stdout).expect("stdout is JSON")
}

/// A scripted Kubernetes API: answers lists from `lists` (path -> items; other paths: no
/// items) and holds watch requests open without an event.
pub fn scripted_cluster(lists: std::sync::Arc<std::sync::Mutex<Vec<(&'static str, String)>>>) -> String {
    use std::io::{BufRead, BufReader, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let lists = lists.clone();
            std::thread::spawn(move || {
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                let mut first = String::new();
                reader.read_line(&mut first).unwrap_or_default();
                let mut line = String::new();
                while reader.read_line(&mut line).map(|n| n > 0).unwrap_or(false) && line != "\r\n" {
                    line.clear();
                }
                let target = first.split(' ').nth(1).unwrap_or("");
                let (path, query) = target.split_once('?').unwrap_or((target, ""));
                if query.split('&').any(|p| p == "watch=true") {
                    let _ = write!(
                        stream,
                        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
                    );
                    std::thread::sleep(std::time::Duration::from_secs(30));
                    return;
                }
                let items = lists.lock().unwrap().iter().find(|(p, _)| *p == path).map(|(_, i)| i.clone());
                let body = format!(
                    r#"{{"kind":"List","apiVersion":"v1","metadata":{{"resourceVersion":"7"}},"items":[{}]}}"#,
                    items.unwrap_or_default()
                );
                let _ = write!(
                    stream,
                    "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                );
            });
        }
    });
    url
}
