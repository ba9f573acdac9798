//! Command-line arguments.

use clap::{Args, Parser, Subcommand, ValueEnum};
use std::path::PathBuf;

/// Doppel: a digital twin of your infrastructure. Load an estate, query it, read its history.
#[derive(Debug, Parser)]
#[command(name = "doppel", version, disable_version_flag = true, propagate_version = false)]
#[command(
    after_help = "Start with `doppel demo`. Exit codes: 0 ok, 1 unexpected, 2 usage, 3 invalid input, 4 not found, 5 conflict, 6 unavailable, 7 drift found (drift --fail-on-drift)."
)]
pub struct Cli {
    /// The store file (SQLite).
    #[arg(long, global = true, env = "DOPPEL_STORE", default_value = "doppel.db")]
    pub store: PathBuf,
    /// Print JSON instead of tables.
    #[arg(long, global = true)]
    pub json: bool,
    /// When to use colour.
    #[arg(long, global = true, value_enum, default_value_t = ColorChoice::Auto)]
    pub color: ColorChoice,
    /// Print only results and errors (no progress, no hints).
    #[arg(long, short, global = true)]
    pub quiet: bool,
    /// Print the version of doppel.
    #[arg(short = 'V', long = "version", action = clap::ArgAction::Version)]
    pub print_version: Option<bool>,
    #[command(subcommand)]
    pub command: Command,
}

/// When to use colour.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ColorChoice {
    /// On a terminal only.
    Auto,
    /// Always.
    Always,
    /// Never.
    Never,
}

/// How `doppel import` commits what it read.
#[derive(Debug, Args, Clone, Default)]
pub struct ImportCommit {
    /// Show what would change, but store nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Who is responsible for the change (default: $USER).
    #[arg(long)]
    pub author: Option<String>,
}

/// Systems `doppel import` reads.
#[derive(Debug, Subcommand)]
pub enum ImportFrom {
    /// Kubernetes manifests: YAML or JSON files, directories (recursively), `-` for stdin;
    /// or, with `--cluster`, one full list of a live cluster.
    K8s {
        /// Files, directories, or `-`.
        #[arg(required_unless_present = "cluster", conflicts_with = "cluster")]
        paths: Vec<PathBuf>,
        /// List a live cluster (the kubeconfig's current context) instead of reading files: a
        /// complete listing, so what this instance imported before and the cluster lacks is removed.
        #[arg(long)]
        cluster: bool,
        /// The kubeconfig file (default: $KUBECONFIG, then ~/.kube/config).
        #[arg(long, requires = "cluster")]
        kubeconfig: Option<PathBuf>,
        /// The kubeconfig context (default: its current context).
        #[arg(long, requires = "cluster")]
        context: Option<String>,
        /// Namespace of objects that name none.
        #[arg(long, short, default_value = "default")]
        namespace: String,
        /// Name of this source instance (what its entities are labelled with).
        #[arg(long, default_value = "kubernetes")]
        name: String,
        /// The input is everything of this instance: remove what it imported before but no longer lists.
        #[arg(long)]
        prune: bool,
        /// Skip a file that cannot be read (with a warning naming it) instead of stopping;
        /// nothing is pruned when one was skipped.
        #[arg(long)]
        keep_going: bool,
        #[command(flatten)]
        commit: ImportCommit,
    },
    /// Prometheus: run the bindings' PromQL through the HTTP API once and store the samples.
    Prometheus {
        /// Server, bindings and window.
        #[command(flatten)]
        args: PrometheusArgs,
        /// Show what would be stored, but store nothing.
        #[arg(long)]
        dry_run: bool,
    },
    /// Terraform: `terraform show -json` of a state or a saved plan (detected), `-` for stdin.
    Terraform {
        /// Files, or `-`.
        #[arg(required = true)]
        paths: Vec<PathBuf>,
        /// Name of this source instance (what its entities are labelled with).
        #[arg(long, default_value = "terraform")]
        name: String,
        /// The files are only part of this instance: remove nothing they lack.
        #[arg(long)]
        partial: bool,
        #[command(flatten)]
        commit: ImportCommit,
    },
}

/// How a Prometheus pull is asked for on the command line.
#[derive(Debug, Args, Clone)]
pub struct PrometheusArgs {
    /// The bindings file: a `prometheus:` section (docs/sources.md).
    #[arg(long, short)]
    pub bindings: PathBuf,
    /// The server's URL (http://HOST:9090); default: the file's `url`.
    #[arg(long)]
    pub url: Option<String>,
    /// Read a range ending now (`1h`, `30m`) instead of one instant.
    #[arg(long)]
    pub range: Option<String>,
    /// The resolution of a range (`60s`).
    #[arg(long, default_value = "60s")]
    pub step: String,
    /// How long to wait for each answer (`10s`); default: the file's `timeout_s`, else 10 s.
    #[arg(long)]
    pub timeout: Option<String>,
    /// Name of this source instance; default: the file's `name`, else `prometheus`.
    #[arg(long)]
    pub name: Option<String>,
}

/// Which version of the twin to read.
#[derive(Debug, Args, Clone, Default)]
pub struct AtArgs {
    /// Read this version of the twin (see `doppel history`).
    #[arg(long = "version", value_name = "N", conflicts_with = "at")]
    pub version: Option<u64>,
    /// Read the twin as it was at this time (2026-11-20T10:00Z).
    #[arg(long, value_name = "TIME")]
    pub at: Option<String>,
}

/// The commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Load the bundled example estate into a fresh store and show what is in it.
    Demo {
        /// Store file for the demo (recreated).
        #[arg(long = "demo-store", default_value = "doppel-demo.db")]
        demo_store: PathBuf,
        /// Serve the twin and its web UI at the end even when not on a terminal.
        #[arg(long, conflicts_with = "no_serve")]
        serve: bool,
        /// End after the tour without serving (the default when not on a terminal).
        #[arg(long)]
        no_serve: bool,
        /// Where the demo serves.
        #[arg(long, default_value = "127.0.0.1:7878")]
        listen: std::net::SocketAddr,
    },
    /// Import from an outside system as one ChangeSet with its provenance.
    Import {
        /// What to import from.
        #[command(subcommand)]
        from: ImportFrom,
    },
    /// Apply estate files (YAML or JSON; directories are read whole) as one ChangeSet.
    Load {
        /// Files or directories.
        #[arg(required = true)]
        files: Vec<PathBuf>,
        /// Also remove what the files do not mention (a full sync).
        #[arg(long)]
        prune: bool,
        /// Check and show what would change, but store nothing.
        #[arg(long)]
        dry_run: bool,
        /// Who is responsible for the change (default: $USER).
        #[arg(long)]
        author: Option<String>,
        /// One line saying why (recorded in the history).
        #[arg(long, short)]
        message: Option<String>,
    },
    /// Check estate files without storing anything (against the store's head, if any).
    Validate {
        /// Files or directories.
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
    /// List entities matching a selector, or one entity in detail; no selector: a summary.
    Show {
        /// Selector: KIND/NAME (globs allowed), kind:KIND, zone=NAME, label:K=V, deps(KEY), dependents(KEY).
        selector: Vec<String>,
        /// Most rows to print.
        #[arg(long, default_value_t = 200)]
        limit: usize,
        #[command(flatten)]
        at: AtArgs,
    },
    /// What an entity depends on, as a tree.
    Deps {
        /// Entity key (service/checkout).
        key: String,
        /// Deepest level to show.
        #[arg(long)]
        depth: Option<usize>,
        #[command(flatten)]
        at: AtArgs,
    },
    /// What depends on an entity (its blast radius), as a tree.
    Dependents {
        /// Entity key (zone/us-east-1a).
        key: String,
        /// Deepest level to show.
        #[arg(long)]
        depth: Option<usize>,
        #[command(flatten)]
        at: AtArgs,
    },
    /// The change log, newest first.
    History {
        /// Most entries to print.
        #[arg(long, default_value_t = 20)]
        limit: usize,
    },
    /// What changed between two versions or times (`head` is the newest).
    Diff {
        /// From: a version number, `head`, or a time.
        from: String,
        /// To: a version number, `head`, or a time.
        #[arg(default_value = "head")]
        to: String,
        /// Most changes to list.
        #[arg(long, default_value_t = 200)]
        limit: usize,
    },
    /// What happens if something fails: follow it through every layer to the entry points.
    #[command(name = "what-if")]
    WhatIf {
        #[command(flatten)]
        args: WhatIfArgs,
        /// Run on this version of the twin (see `doppel history`).
        #[arg(long = "version", value_name = "N")]
        version: Option<u64>,
    },
    /// Single points of failure, redundancy gaps, and every single failure ranked by its cost.
    Spof {
        #[command(flatten)]
        args: SpofArgs,
        /// Run on this version of the twin (see `doppel history`).
        #[arg(long = "version", value_name = "N")]
        version: Option<u64>,
    },
    /// Expected yearly availability of each entry point against its objective.
    Availability {
        /// Random instants to draw for entry points with redundancy on their path.
        #[arg(long, value_name = "N", default_value_t = 20_000_000)]
        samples: u64,
        /// Seed of the draw; the same twin and seed give the same figures.
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Print Markdown (for a pull request comment).
        #[arg(long)]
        markdown: bool,
        /// Run on this version of the twin (see `doppel history`).
        #[arg(long = "version", value_name = "N")]
        version: Option<u64>,
    },
    /// Latency and utilisation under load: p50/p99 per entry point, the bottleneck, and
    /// what-ifs (load, replicas, instance speed, added latency, a failure).
    Perf {
        #[command(flatten)]
        args: PerfArgs,
        #[command(flatten)]
        failure: PerfFailArgs,
        #[command(flatten)]
        sim: SimArgs,
        /// Run on this version of the twin (see `doppel history`).
        #[arg(long = "version", value_name = "N")]
        version: Option<u64>,
    },
    /// How far the load can grow before an objective breaks, and the replicas each service
    /// needs to meet its objectives at a target load.
    Capacity {
        #[command(flatten)]
        args: PerfArgs,
        /// Load to plan for (3x).
        #[arg(long, value_name = "FACTOR", default_value = "2x")]
        target: String,
        /// Run on this version of the twin (see `doppel history`).
        #[arg(long = "version", value_name = "N")]
        version: Option<u64>,
    },
    /// Store telemetry from CSV files (entity,attribute,time,value) as series bound to
    /// entities, for calibration and fidelity; every line is checked before any is stored.
    Observe {
        /// CSV files with the header `entity,attribute,time,value`.
        #[arg(required_unless_present = "synthetic")]
        files: Vec<PathBuf>,
        /// Instead of files: plausible telemetry up to now, generated from the twin's own
        /// model (load by its profiles with growth; utilisation, rates and latencies from
        /// the queueing model; disks, connections and memory against their limits). On the
        /// bundled shop, orders-db's disk fills and cart leaks memory.
        #[arg(long, conflicts_with = "files")]
        synthetic: bool,
        /// Days of synthetic history (at 5 minutes).
        #[arg(long, default_value_t = 28, requires = "synthetic", value_parser = clap::value_parser!(u32).range(1..=366))]
        days: u32,
        /// Seed of the synthetic telemetry.
        #[arg(long, default_value_t = 7, requires = "synthetic")]
        seed: u64,
        /// Load growth per week of the synthetic telemetry (0.05: 5%), which its forecasts
        /// carry on.
        #[arg(long, default_value_t = 0.05, requires = "synthetic")]
        growth: f64,
        /// Time of the last synthetic sample (RFC 3339 or ms since the epoch); now when absent.
        #[arg(long, requires = "synthetic")]
        until: Option<String>,
    },
    /// Receive telemetry pushed to Doppel: Prometheus remote-write (samples the bindings map
    /// onto entities of the twin, stored as they come) and OpenTelemetry traces over OTLP/HTTP
    /// and OTLP/gRPC (the service call graph, committed every `--interval`).
    Receive {
        /// Address to listen on for remote-write (`127.0.0.1:9201`; port 0 picks one).
        #[arg(long = "remote-write", value_name = "ADDR", requires = "bindings")]
        remote_write: Option<String>,
        /// The bindings file: a `prometheus:` section whose bindings name a `metric`.
        #[arg(long, short)]
        bindings: Option<PathBuf>,
        /// Stop after this many remote-write requests were stored (default: run until killed).
        #[arg(long, value_name = "N")]
        max_requests: Option<usize>,
        /// Address to listen on for OTLP/HTTP traces, `POST /v1/traces` (127.0.0.1:4318
        /// when given without one; port 0 picks one).
        #[arg(long = "otlp-http", value_name = "ADDR", num_args = 0..=1, default_missing_value = "127.0.0.1:4318")]
        otlp_http: Option<String>,
        /// Address to listen on for OTLP/gRPC traces (127.0.0.1:4317 when given without one).
        #[arg(long = "otlp-grpc", value_name = "ADDR", num_args = 0..=1, default_missing_value = "127.0.0.1:4317")]
        otlp_grpc: Option<String>,
        /// How often the call graph from traces is committed (`10s`, `1m`).
        #[arg(long, value_name = "DURATION", default_value = "10s")]
        interval: String,
        /// How long a client span waits for the server span it caused before it counts as a
        /// call to a peer that sends no spans.
        #[arg(long, value_name = "DURATION", default_value = "10s")]
        pending_age: String,
        /// Stop after this many commit rounds of traces (default: run until killed).
        #[arg(long, value_name = "N")]
        max_rounds: Option<usize>,
        /// The OTLP source instance's name (the owner label of what it adds).
        #[arg(long, value_name = "NAME", default_value = "otlp")]
        otlp_name: String,
    },
    /// Forecast one stored series ahead, with its prediction interval, drawn in the terminal
    /// (and as SVG with --svg); a series bounded by a limit (a disk's size, a memory limit)
    /// says when it reaches it.
    Forecast {
        /// The series: ENTITY.ATTRIBUTE (`datastore/orders-db.disk_used_bytes`,
        /// `service/frontend.request_rate_rps:GET /`).
        series: String,
        /// How far ahead (`12h`, `7d`, `2w`).
        #[arg(long, default_value = "7d")]
        horizon: String,
        /// Probability the interval is meant to hold.
        #[arg(long, default_value_t = 0.9)]
        level: f64,
        /// Also write the chart as an SVG file.
        #[arg(long, value_name = "FILE")]
        svg: Option<PathBuf>,
    },
    /// Every risk the forecasts show within the horizon, soonest first: limits that fill
    /// (disks, memory, connections, addresses) and latency objectives broken at the
    /// forecast load, with the replicas that prevent it, checked on a fork of the twin.
    Predict {
        /// How far ahead (`1d`, `7d`, `30d`).
        #[arg(long, default_value = "7d")]
        horizon: String,
        /// Probability the intervals are meant to hold.
        #[arg(long, default_value_t = 0.9)]
        level: f64,
        /// When model drift is confirmed (45 minutes), recalibrate the service times from
        /// those 45 minutes and commit them (as `doppel calibrate --window 2700 --apply`).
        #[arg(long)]
        recalibrate: bool,
    },
    /// Anomalies in the stored series (a streaming detector over each: seasonal profile,
    /// robust score, level shifts, change points), as incidents, newest first.
    Anomalies {
        /// How far back from the newest sample to report.
        #[arg(long, default_value = "1d")]
        since: String,
        /// Only this entity's series.
        #[arg(long)]
        entity: Option<String>,
    },
    /// Why entry points are slow: symptoms found in a window of telemetry, and their likely
    /// root causes ranked over the call graph (anomaly scores, and self-time, busy share and
    /// call latency against the model at the observed load).
    Rca {
        /// End of the window (RFC 3339, such as 2026-11-24T15:30Z, or ms since the epoch);
        /// the newest sample when absent.
        #[arg(long)]
        at: Option<String>,
        /// Length of the window.
        #[arg(long, default_value = "15m")]
        window: String,
    },
    /// Service times from the telemetry (utilisation law, span self-times), with the
    /// model's fidelity before and after; proposed as a ChangeSet.
    Calibrate {
        /// Seconds of telemetry to read, ending at the newest sample.
        #[arg(long, value_name = "SECONDS", default_value_t = 3600.0)]
        window: f64,
        /// Commit the calibrated service times to the twin.
        #[arg(long)]
        apply: bool,
    },
    /// Keep the twin in sync with every source of a sources file: each on its interval, a
    /// live cluster on its watch; one commit per source per pull. Ctrl-C stops after the
    /// current commit.
    Sync {
        /// The sources file (docs/sources.md, "Continuous sync").
        #[arg(long, short = 'c', value_name = "FILE")]
        config: PathBuf,
        /// Pull every source once and exit (non-zero if any failed): for CI.
        #[arg(long, conflicts_with = "rounds")]
        once: bool,
        /// Pull every source this many times, then exit (non-zero if any pull failed).
        #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
        rounds: Option<u32>,
        /// Who is responsible for the commits (default: $USER).
        #[arg(long)]
        author: Option<String>,
    },
    /// Where declared sources (estate files, manifests, Terraform) and observed ones (a
    /// cluster, traces) disagree, from what the last sync saw.
    Drift {
        /// The sources file: compare only its sources (default: every source a sync recorded).
        #[arg(long, short = 'c', value_name = "FILE")]
        config: Option<PathBuf>,
        /// Exit with code 7 when drift is found (for CI).
        #[arg(long)]
        fail_on_drift: bool,
        /// Findings to list per kind in the table (all with --json).
        #[arg(long, default_value_t = 50)]
        limit: usize,
    },
    /// Serve the twin over HTTP: the API under /api/v1, live updates and the web UI.
    ///
    /// Tokens are needed (make them with `doppel token create`); when the store has no
    /// usable token, one admin token is made and printed once.
    Serve {
        /// Addresses to listen on (comma-separated; port 0 picks one).
        #[arg(long, value_delimiter = ',', default_value = "127.0.0.1:7878")]
        listen: Vec<std::net::SocketAddr>,
        /// Serve without tokens (everyone is admin): refused on a non-loopback address.
        #[arg(long)]
        no_auth: bool,
        /// TLS certificate chain (PEM); needs --tls-key.
        #[arg(long, requires = "tls_key")]
        tls_cert: Option<PathBuf>,
        /// TLS private key (PEM); needs --tls-cert.
        #[arg(long, requires = "tls_cert")]
        tls_key: Option<PathBuf>,
        /// Largest request body, in bytes.
        #[arg(long, default_value_t = 1 << 20)]
        max_body: usize,
        /// Requests a second per token, bursts of twice as many (0: no limit).
        #[arg(long, default_value_t = 200.0)]
        rate: f64,
    },
    /// Manage the API tokens of `doppel serve` (kept hashed in the store).
    Token {
        #[command(subcommand)]
        action: TokenAction,
    },
    /// Print the JSON Schema of estate files (for editor completion).
    Schema,
    /// Write a synthetic estate of realistic shape (about 11 entities per service).
    Gen {
        /// Number of services.
        #[arg(long, default_value_t = 100)]
        services: usize,
        /// Random seed.
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Output file (.yaml or .json); standard output when absent.
        #[arg(long, short)]
        output: Option<PathBuf>,
    },
}

/// What fails or degrades, on the command line.
#[derive(Debug, Args, Clone, Default)]
pub struct FaultArgs {
    /// Fail what this selector matches (zone/us-east-1a, node/NAME, service/cart, external/x); repeatable.
    #[arg(long, value_name = "SELECTOR")]
    pub fail: Vec<String>,
    /// Degrade: SELECTOR:latency_ms=2000,error_rate=0.1,capacity_loss=0.5; repeatable.
    #[arg(long, value_name = "SPEC")]
    pub degrade: Vec<String>,
}

impl FaultArgs {
    /// Whether anything fails or degrades.
    pub fn any(&self) -> bool {
        !self.fail.is_empty() || !self.degrade.is_empty()
    }
}

/// What a what-if fails, and at what load.
#[derive(Debug, Args, Clone, Default)]
pub struct WhatIfArgs {
    #[command(flatten)]
    pub faults: FaultArgs,
    /// A disaster-recovery drill instead: region-loss, zone-loss or datastore-loss (at the peak
    /// unless --at says otherwise).
    #[arg(long, value_enum, value_name = "DRILL", conflicts_with_all = ["fail", "degrade", "file"])]
    pub drill: Option<DrillArg>,
    /// A scenario file (YAML) instead of --fail/--degrade.
    #[arg(long, short = 'f', value_name = "FILE", conflicts_with_all = ["fail", "degrade"])]
    pub file: Option<PathBuf>,
    /// Load factor on top (2x).
    #[arg(long, value_name = "FACTOR")]
    pub load: Option<String>,
    /// When in the day: average (default), peak, or an hour 0-23.
    #[arg(long = "at", value_name = "POINT")]
    pub at_point: Option<String>,
    /// Seconds to follow (default 3600).
    #[arg(long = "horizon", value_name = "SECONDS")]
    pub horizon_s: Option<f64>,
    /// Do not let the cluster autoscaler add nodes.
    #[arg(long)]
    pub no_autoscaler: bool,
    /// Print Markdown (for a pull request comment).
    #[arg(long)]
    pub markdown: bool,
}

/// The load and changes a performance question asks about.
#[derive(Debug, Args, Clone, Default)]
pub struct PerfArgs {
    /// Load factor on top (3x).
    #[arg(long, value_name = "FACTOR")]
    pub load: Option<String>,
    /// When in the day: peak (default), average, or an hour 0-23.
    #[arg(long = "at", value_name = "POINT")]
    pub at_point: Option<String>,
    /// A change: replicas:SERVICE=N, speed:SERVICE=FACTOR, instance:SERVICE=TYPE or
    /// latency:TARGET=MS (added to every call into it); repeatable. SERVICE may omit `service/`.
    #[arg(long = "set", value_name = "CHANGE")]
    pub set: Vec<String>,
}

/// A failure `doppel perf` answers under: the resilience engine decides what is left
/// (ready replicas, lost capacity, down stations), the queueing model what it means.
#[derive(Debug, Args, Clone, Default)]
pub struct PerfFailArgs {
    #[command(flatten)]
    pub faults: FaultArgs,
    /// Answer this many seconds after the failure starts (default: its worst moment within
    /// --follow).
    #[arg(long, value_name = "SECONDS")]
    pub after: Option<f64>,
    /// Seconds of the failure to follow (default 3600).
    #[arg(long = "follow", value_name = "SECONDS")]
    pub follow_s: Option<f64>,
}

/// Whether and how `doppel perf` also simulates.
#[derive(Debug, Args, Clone, Default)]
pub struct SimArgs {
    /// Also run the discrete-event simulator (timeouts, retries, queue limits, tails).
    #[arg(long)]
    pub sim: bool,
    /// Simulated seconds per replication (after a warm-up of a tenth of it).
    #[arg(long, value_name = "SECONDS", default_value_t = 300.0)]
    pub horizon: f64,
    /// Replications of the simulation (at least 2, for the confidence intervals).
    #[arg(long, value_name = "N", default_value_t = 10, value_parser = clap::value_parser!(u32).range(2..))]
    pub replications: u32,
    /// Seed of the simulation; the same twin and seed give the same figures.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
}

/// What a sweep fails and how closely it looks.
#[derive(Debug, Args, Clone, Default)]
pub struct SpofArgs {
    /// Fail only what this selector matches, one at a time (default: every component).
    #[arg(long, value_name = "SELECTOR")]
    pub only: Option<String>,
    /// Load factor on top (2x).
    #[arg(long, value_name = "FACTOR")]
    pub load: Option<String>,
    /// When in the day: peak (default), average, or an hour 0-23.
    #[arg(long = "at", value_name = "POINT")]
    pub at_point: Option<String>,
    /// How many of the worst single failures to follow over time through the engine (each
    /// zone and region added up to as many again). Default: 200, fewer on a large estate so
    /// the sweep stays quick (2 on 100,000 entities).
    #[arg(long, value_name = "N")]
    pub verify: Option<usize>,
    /// Rows of the ranking to print.
    #[arg(long, value_name = "N", default_value_t = 15)]
    pub top: usize,
    /// Print Markdown (for a pull request comment).
    #[arg(long)]
    pub markdown: bool,
}

/// Disaster-recovery drills.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
#[allow(clippy::enum_variant_names)] // the names are what users type: region-loss, zone-loss
pub enum DrillArg {
    /// Lose each active region: can the standby take over, and how long does it take?
    RegionLoss,
    /// Lose each zone of the active regions, one at a time.
    ZoneLoss,
    /// Lose each primary datastore: does its replica or standby take over?
    DatastoreLoss,
}

/// What to do with tokens.
#[derive(Debug, Subcommand)]
pub enum TokenAction {
    /// Make a token and print it (it is shown once).
    Create {
        /// What it is for (`ci`, `alice`).
        name: String,
        /// viewer (read), analyst (what-ifs), operator (change the twin), admin (tokens).
        #[arg(long, default_value = "viewer")]
        role: String,
        /// Limit what it sees to what a selector picks (`namespace=shop`); repeat to add.
        #[arg(long)]
        scope: Vec<String>,
        /// When it stops working (`30d`, `12h`); never when absent.
        #[arg(long)]
        expires: Option<String>,
    },
    /// List the tokens (never their secrets).
    List,
    /// Revoke a token by its id.
    Revoke {
        /// The id (`doppel token list`).
        id: String,
    },
}
