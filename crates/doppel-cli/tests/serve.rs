//! `doppel serve` and `doppel token` as a user runs them: the real binary, a real store.

mod common;

use common::Scratch;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn shop(scratch: &Scratch) {
    let shop = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/shop");
    scratch.doppel(&["load", shop.to_str().unwrap()]).success();
}

/// Starts `doppel serve` and reads its first lines: the URL and the admin token, if one.
fn serve(scratch: &Scratch, args: &[&str]) -> (Running, String, Option<String>) {
    let mut child = Command::new(assert_cmd::cargo::cargo_bin("doppel"))
        .arg("--store")
        .arg(scratch.store())
        .arg("serve")
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let running = Running(child);
    let first = lines.next().unwrap().unwrap();
    let url = first.strip_prefix("listening ").unwrap_or_else(|| panic!("{first}")).to_string();
    let second = lines.next().unwrap().unwrap();
    let token = second.strip_prefix("admin token ").map(str::to_string);
    std::thread::spawn(move || for _ in lines {});
    (running, url, token)
}

fn get(url: &str, token: Option<&str>) -> (u16, String) {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(30)))
        .build()
        .into();
    let mut request = agent.get(url);
    if let Some(t) = token {
        request = request.header("Authorization", &format!("Bearer {t}"));
    }
    let response = request.call().unwrap();
    (response.status().as_u16(), response.into_body().read_to_string().unwrap())
}

#[test]
fn serve_makes_one_admin_token_at_first_start_and_serves_the_ui_and_api() {
    let scratch = Scratch::new();
    shop(&scratch);
    let (server, url, token) = serve(&scratch, &["--listen", "127.0.0.1:0"]);
    let token = token.expect("a first start prints an admin token");
    let (status, body) = get(&format!("{url}/api/v1/twin"), Some(&token));
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("\"role\":\"admin\""), "{body}");
    assert_eq!(get(&format!("{url}/api/v1/twin"), None).0, 401);
    let (status, page) = get(&format!("{url}/"), None);
    assert_eq!(status, 200);
    assert!(page.contains("<html") || page.contains("<!doctype"), "{page}");
    drop(server);
    // The second start makes none: the first still works, and is listed.
    let (_server, url, again) = serve(&scratch, &["--listen", "127.0.0.1:0"]);
    assert_eq!(again, None);
    assert_eq!(get(&format!("{url}/api/v1/twin"), Some(&token)).0, 200);
    let listed = scratch.doppel(&["token", "list"]).success();
    let listed = String::from_utf8_lossy(&listed.get_output().stdout).to_string();
    assert!(listed.contains("admin (made at first start)"), "{listed}");
}

#[test]
fn tokens_made_on_the_command_line_work_until_revoked() {
    let scratch = Scratch::new();
    shop(&scratch);
    let made = scratch
        .doppel(&["token", "create", "ci", "--role", "analyst", "--scope", "label:pci-scope", "--expires", "1d"])
        .success();
    let token = String::from_utf8_lossy(&made.get_output().stdout).lines().next().unwrap().trim().to_string();
    assert!(token.starts_with("dpl_"), "{token}");
    let (_server, url, first) = serve(&scratch, &["--listen", "127.0.0.1:0"]);
    assert_eq!(first, None, "a usable token exists, so none is made");
    let (status, body) = get(&format!("{url}/api/v1/entities?select=kind:service"), Some(&token));
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("\"total\":1") && body.contains("service/payment"), "the scope picks one service: {body}");
    let id = token.split('_').nth(1).unwrap();
    scratch.doppel(&["token", "revoke", id]).success();
    // Verified tokens are remembered for up to a minute; a new server asks the store.
    drop(_server);
    let (_server, url, _) = serve(&scratch, &["--listen", "127.0.0.1:0"]);
    assert_eq!(get(&format!("{url}/api/v1/twin"), Some(&token)).0, 401);
    let bad = scratch.doppel(&["token", "create", "x", "--role", "root"]).failure();
    assert!(String::from_utf8_lossy(&bad.get_output().stderr).contains("viewer, analyst"));
    let bad = scratch.doppel(&["token", "create", "x", "--scope", "kind:nonsense"]).failure();
    assert!(String::from_utf8_lossy(&bad.get_output().stderr).contains("scope[0]"));
}

#[test]
fn serve_refuses_no_auth_off_loopback_and_a_missing_store() {
    let scratch = Scratch::new();
    shop(&scratch);
    let refused = scratch.doppel(&["serve", "--no-auth", "--listen", "0.0.0.0:0"]).code(2);
    let text = String::from_utf8_lossy(&refused.get_output().stderr).to_string();
    assert!(text.contains("not a loopback address"), "{text}");
    let missing = Scratch::new();
    let refused = missing.doppel(&["serve"]).failure();
    let text = String::from_utf8_lossy(&refused.get_output().stderr).to_string();
    assert!(text.contains("no store"), "{text}");
}

#[test]
fn demo_serves_its_twin_with_a_one_time_admin_token() {
    let scratch = Scratch::new();
    let mut child = Command::new(assert_cmd::cargo::cargo_bin("doppel"))
        .current_dir(scratch.dir.path())
        .args(["demo", "--serve", "--listen", "127.0.0.1:0"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let _running = Running(child);
    let mut url = None;
    let mut token = None;
    for line in lines {
        let line = line.unwrap();
        if let Some(u) = line.strip_prefix("listening ") {
            url = Some(u.to_string());
        } else if let Some(t) = line.strip_prefix("admin token ") {
            token = Some(t.to_string());
            break;
        }
    }
    let (url, token) = (url.expect("the demo prints its URL"), token.expect("and an admin token"));
    let (status, body) = get(&format!("{url}/api/v1/predictions?horizon=14d"), Some(&token));
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("datastore/orders-db"), "the demo's telemetry is served: {body}");
}

/// A program the test needs, with how to get it when it is missing.
fn tool(name: &str) -> String {
    let found = Command::new("sh").arg("-c").arg(format!("command -v {name}")).output().unwrap();
    assert!(found.status.success(), "{name} is needed for this test: apt-get install {name}");
    String::from_utf8_lossy(&found.stdout).trim().to_string()
}

#[test]
fn serve_speaks_tls_with_the_given_certificate() {
    let scratch = Scratch::new();
    shop(&scratch);
    let (cert, key) = (scratch.dir.path().join("cert.pem"), scratch.dir.path().join("key.pem"));
    let made = Command::new(tool("openssl"))
        .args(["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-days", "1"])
        .args(["-subj", "/CN=localhost", "-addext", "subjectAltName=IP:127.0.0.1"])
        .arg("-keyout")
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .output()
        .unwrap();
    assert!(made.status.success(), "{}", String::from_utf8_lossy(&made.stderr));
    let (_server, url, token) = serve(
        &scratch,
        &["--listen", "127.0.0.1:0", "--tls-cert", cert.to_str().unwrap(), "--tls-key", key.to_str().unwrap()],
    );
    assert!(url.starts_with("https://"), "{url}");
    let token = token.unwrap();
    let curl = |extra: &[&str]| {
        Command::new(tool("curl"))
            .args(["-sS", "--max-time", "20", "-H", &format!("Authorization: Bearer {token}")])
            .args(extra)
            .arg(format!("{url}/api/v1/twin"))
            .output()
            .unwrap()
    };
    let answer = curl(&["--cacert", cert.to_str().unwrap()]);
    let body = String::from_utf8_lossy(&answer.stdout);
    assert!(
        answer.status.success() && body.contains("\"version\":1"),
        "{body} {}",
        String::from_utf8_lossy(&answer.stderr)
    );
    // Without trusting the certificate, the client refuses: it is really TLS.
    assert!(!curl(&[]).status.success());
    // Plain HTTP on the TLS port gets no answer.
    let plain = Command::new(tool("curl"))
        .args(["-sS", "--max-time", "5", &url.replace("https://", "http://")])
        .output()
        .unwrap();
    assert!(!String::from_utf8_lossy(&plain.stdout).contains("version"));
}
