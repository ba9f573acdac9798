//! Outside programs the tests run for real, found or refused with a message saying how to
//! install them (tests fail, never skip), and a child process that is killed when dropped.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

/// A child process killed (and waited for) when dropped, so a failed assertion leaves
/// nothing running.
pub struct Running(pub Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The `prometheus` binary: `$PROMETHEUS`, else `prometheus` on PATH.
pub fn prometheus_binary() -> String {
    let path = std::env::var("PROMETHEUS").unwrap_or_else(|_| "prometheus".into());
    match Command::new(&path).arg("--version").stdout(Stdio::null()).stderr(Stdio::null()).status() {
        Ok(status) if status.success() => path,
        _ => panic!(
            "the Prometheus tests need a `prometheus` binary on PATH (or $PROMETHEUS): install it with \
             `apt-get install -y prometheus` (Debian's package; scripts/needs does this)"
        ),
    }
}

/// The Python with the OpenTelemetry SDK: `DOPPEL_OTEL_PYTHON`, or `.venv-test/` at the
/// workspace's root, made by `scripts/needs`.
pub fn otel_python() -> PathBuf {
    let python = match std::env::var_os("DOPPEL_OTEL_PYTHON") {
        Some(python) => PathBuf::from(python),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join("../../.venv-test/bin/python"),
    };
    let probe = "import opentelemetry.sdk.trace, opentelemetry.exporter.otlp.proto.grpc.trace_exporter, opentelemetry.exporter.otlp.proto.http.trace_exporter";
    let ok = Command::new(&python).args(["-c", probe]).output().is_ok_and(|o| o.status.success());
    assert!(
        ok,
        "the OpenTelemetry Python SDK is not installed at {}: run scripts/needs (it makes .venv-test/ with opentelemetry-sdk and opentelemetry-exporter-otlp from PyPI), or set DOPPEL_OTEL_PYTHON to a python that has them",
        python.display()
    );
    python
}
