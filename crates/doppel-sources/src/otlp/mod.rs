//! The `otlp` source: OpenTelemetry traces to the service call graph. Spans arrive by
//! push (OTLP/HTTP and OTLP/gRPC receivers in `http.rs`, bodies decoded in `decode.rs`)
//! into an accumulator (`traces.rs`) that joins client spans with the server spans they
//! caused and names peers that send no spans from their attributes (`peer.rs`); a pull
//! drains it into services, datastores, queues and externals, `calls` relations with their
//! rates, and series samples. Recorded exports (OTLP/JSON lines or protobuf files) can be
//! replayed through the same accumulator.

mod decode;
mod hist;
pub mod http;
mod peer;
mod traces;

pub use decode::{BodyLimits, Encoding, Format, OtlpError, check_headers, decode};
pub use http::{GrpcReceiver, Receivers, SharedTraces, grpc_service, router};
pub use traces::{CallGraph, Counts, EdgeSummary, Ingested, Limits, NodeSummary, Traces};

use crate::{Batch, Error, Observation, Place, Result, Source};
use doppel_model::{RelSpec, Twin};
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use serde::{Deserialize, Serialize};
use std::io::{BufRead, Read};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// The `otlp` section of a sources file: where to listen, how often to commit, the limits,
/// and recorded exports to replay.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct OtlpConfig {
    /// The instance name (`otlp`): the owner label's value.
    pub name: String,
    /// Address for OTLP/HTTP (`127.0.0.1:4318`), if served.
    pub http: Option<String>,
    /// Address for OTLP/gRPC (`127.0.0.1:4317`), if served.
    pub grpc: Option<String>,
    /// Seconds between commits of the call graph.
    pub interval_s: f64,
    /// Largest request body accepted, bytes (a gRPC message too).
    pub max_body_bytes: usize,
    /// Largest body once gzip is undone, bytes.
    pub max_decoded_bytes: usize,
    /// Seconds a client span waits for the server span it caused before it counts as a
    /// call to a peer that sends no spans.
    pub pending_age_s: f64,
    /// Spans waiting for their parent or callee, at most.
    pub max_pending: usize,
    /// Distinct edges in one window, at most.
    pub max_edges: usize,
    /// Distinct service and peer names held, at most.
    pub max_names: usize,
    /// Recorded exports read at the first pull: OTLP/JSON, one request a line (`.json`,
    /// `.jsonl`, `.ndjson`; what the Collector's file exporter writes), or one protobuf
    /// `ExportTraceServiceRequest` a file (any other name).
    pub files: Vec<PathBuf>,
}

impl Default for OtlpConfig {
    fn default() -> OtlpConfig {
        let limits = Limits::default();
        let body = BodyLimits::default();
        OtlpConfig {
            name: "otlp".into(),
            http: None,
            grpc: None,
            interval_s: 10.0,
            max_body_bytes: body.max_body_bytes,
            max_decoded_bytes: body.max_decoded_bytes,
            pending_age_s: limits.pending_age.as_secs_f64(),
            max_pending: limits.max_pending,
            max_edges: limits.max_edges,
            max_names: limits.max_names,
            files: Vec::new(),
        }
    }
}

impl OtlpConfig {
    /// The accumulator's limits.
    pub fn limits(&self) -> Limits {
        Limits {
            max_pending: self.max_pending,
            pending_age: Duration::try_from_secs_f64(self.pending_age_s).unwrap_or(Limits::default().pending_age),
            max_edges: self.max_edges,
            max_names: self.max_names,
        }
    }

    /// The receivers' body limits.
    pub fn body_limits(&self) -> BodyLimits {
        BodyLimits { max_body_bytes: self.max_body_bytes, max_decoded_bytes: self.max_decoded_bytes }
    }

    /// The source, with an empty accumulator.
    pub fn build(self) -> Otlp {
        let traces = Arc::new(Mutex::new(Traces::new(self.limits())));
        Otlp { config: self, traces, replayed: false }
    }
}

/// The `otlp` source: an accumulator of spans that receivers feed and pulls drain.
#[derive(Debug)]
pub struct Otlp {
    config: OtlpConfig,
    traces: SharedTraces,
    replayed: bool,
}

impl Otlp {
    /// The accumulator, for the receivers to feed.
    pub fn traces(&self) -> SharedTraces {
        self.traces.clone()
    }

    /// Its settings.
    pub fn config(&self) -> &OtlpConfig {
        &self.config
    }

    /// The call graph since the last drain (recorded files replayed first, once).
    pub fn drain(&mut self) -> Result<CallGraph> {
        if !self.replayed && !self.config.files.is_empty() {
            self.replay()?;
        }
        let mut traces = self.traces.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        Ok(traces.drain())
    }

    /// Reads every file twice: once to check it all, then to ingest, so a bad file keeps
    /// nothing of the others and only one request is in memory at a time.
    fn replay(&mut self) -> Result<()> {
        let files = self.config.files.clone();
        for path in &files {
            self.read_file(path, &mut |_| {})?;
        }
        let traces = self.traces.clone();
        let mut traces = traces.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        for path in &files {
            self.read_file(path, &mut |request| {
                traces.ingest(&request);
            })?;
        }
        traces.flush();
        self.replayed = true;
        Ok(())
    }

    fn read_file(&self, path: &Path, each: &mut dyn FnMut(ExportTraceServiceRequest)) -> Result<()> {
        let file_name = path.display().to_string();
        let unreadable = |e: std::io::Error| Error::Unreadable {
            source_name: self.config.name.clone(),
            what: file_name.clone(),
            message: e.to_string(),
        };
        let bad = |line: u32, col: u32, message: String| Error::Object {
            source_name: self.config.name.clone(),
            object: "export request".into(),
            place: Place { file: file_name.clone(), line, col },
            message,
        };
        let limit = self.config.max_decoded_bytes as u64;
        let file = std::fs::File::open(path).map_err(unreadable)?;
        let extension = path.extension().and_then(|e| e.to_str()).unwrap_or("").to_ascii_lowercase();
        if !matches!(extension.as_str(), "json" | "jsonl" | "ndjson") {
            let mut bytes = Vec::new();
            file.take(limit + 1).read_to_end(&mut bytes).map_err(unreadable)?;
            let limits = BodyLimits { max_body_bytes: limit as usize, max_decoded_bytes: limit as usize };
            let request =
                decode(&bytes, Format::Protobuf, Encoding::Identity, limits).map_err(|e| bad(0, 0, e.to_string()))?;
            each(request);
            return Ok(());
        }
        let mut reader = std::io::BufReader::new(file);
        let mut line = Vec::new();
        for number in 1u32.. {
            line.clear();
            let read = (&mut reader).take(limit + 1).read_until(b'\n', &mut line).map_err(unreadable)?;
            if read == 0 {
                break;
            }
            if line.len() as u64 > limit {
                return Err(bad(number, 1, format!("the line is over {limit} bytes")));
            }
            if line.iter().all(u8::is_ascii_whitespace) {
                continue;
            }
            match serde_json::from_slice::<ExportTraceServiceRequest>(&line) {
                Ok(request) => each(request),
                Err(e) => {
                    let message = format!("not an OTLP/JSON ExportTraceServiceRequest: {e}");
                    return Err(bad(number, e.column() as u32, message));
                }
            }
        }
        Ok(())
    }
}

impl Source for Otlp {
    fn system(&self) -> &'static str {
        "otlp"
    }

    fn name(&self) -> &str {
        &self.config.name
    }

    fn pull(&mut self) -> Result<Observation> {
        Ok(self.drain()?.observation())
    }

    /// Pulls, then plans against `twin` ([`Otlp::plan`]).
    fn changes(&mut self, twin: &Twin) -> Result<Batch> {
        let observation = self.pull()?;
        self.plan(observation, twin)
    }
}

impl Otlp {
    /// Plans an observation this source pulled against `twin` as every source does, except
    /// that a `calls` relation the twin already has keeps its attributes but the rate:
    /// traces own only `rate_rps` (timeouts, retries and the like stay as declared). A pull
    /// drains what was received, so a caller whose twin moved plans the same observation
    /// again with this rather than pulling twice.
    pub fn plan(&self, mut observation: Observation, twin: &Twin) -> Result<Batch> {
        for relation in &mut observation.relations {
            let key = relation.key();
            if let (RelSpec::Calls(seen), Some(RelSpec::Calls(declared))) =
                (&mut relation.spec, doppel_model::TwinView::relation(twin, &key))
            {
                let rate_rps = seen.rate_rps;
                **seen = (**declared).clone();
                seen.rate_rps = rate_rps;
            }
        }
        crate::plan_checked(observation, twin, self.system(), self.name())
    }
}
