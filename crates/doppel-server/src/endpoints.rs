//! The table of every endpoint: router, role checks, OpenAPI and the API tests read it.

use crate::api::{Endpoint, Param, path, query, report, schema};
use crate::auth::{Role, TokenInfo};
use crate::handlers::{admin, analysis, change, events, perf, predict, read};
use axum::http::Method;
use axum::routing::{delete, get, post};

const KEY: Param = path("key", "an entity's key, `kind/name` (its slash kept)");

/// Every endpoint under `/api/v1` except the OpenAPI document itself.
pub fn all() -> Vec<Endpoint> {
    use Role::*;
    let e = |method: Method,
             path: &'static str,
             min_role: Role,
             tag: &'static str,
             summary: &'static str,
             params: Vec<Param>,
             handler| Endpoint {
        method,
        path,
        min_role: Some(min_role),
        tag,
        summary,
        params,
        body: None,
        answer: report,
        status: 200,
        handler,
    };
    vec![
        e(
            Method::GET,
            "/twin",
            Viewer,
            "twin",
            "The twin's version and what it holds, by kind",
            vec![],
            get(read::twin),
        ),
        e(
            Method::GET,
            "/entities",
            Viewer,
            "twin",
            "Entities a selector picks, by key, a page at a time",
            vec![
                query(
                    "select",
                    "a selector (`kind:service`, `zone=us-east-1a`, `*/cart*`, `label:app=cart`); default `*`",
                ),
                query("limit", "entities per page, 1 to 10,000 (default 100)"),
                query("after", "the `next` key of the previous page"),
            ],
            get(read::entities),
        ),
        e(
            Method::GET,
            "/entities/{key}",
            Viewer,
            "twin",
            "One entity: spec, labels, relations, series, when sources last saw it",
            vec![KEY],
            get(read::entity),
        ),
        e(
            Method::GET,
            "/graph",
            Viewer,
            "twin",
            "What an entity depends on, or what depends on it, as a walk",
            vec![
                Param { required: true, ..query("root", "the entity to walk from") },
                query("direction", "`deps` (default) or `dependents`"),
                query("depth", "steps to walk (default: all)"),
            ],
            get(read::graph),
        ),
        e(
            Method::GET,
            "/map",
            Viewer,
            "twin",
            "Every entity with its placement parent and health, and the edges the map draws",
            vec![query("view", "`placement` (default) or `services`")],
            get(read::map),
        ),
        e(
            Method::GET,
            "/history",
            Viewer,
            "history",
            "The change log, newest first",
            vec![query("limit", "entries (default 50)")],
            get(read::history),
        ),
        e(
            Method::GET,
            "/history/{version}",
            Viewer,
            "history",
            "The ChangeSet that made a version",
            vec![path("version", "a version number")],
            get(read::changeset),
        ),
        e(
            Method::GET,
            "/diff",
            Viewer,
            "history",
            "What changed between two versions",
            vec![
                Param { required: true, ..query("from", "a version or `head`") },
                query("to", "a version or `head` (default)"),
            ],
            get(read::diff),
        ),
        e(
            Method::GET,
            "/series/{key}/{attribute}",
            Viewer,
            "telemetry",
            "Stored samples of one series",
            vec![
                KEY,
                path("attribute", "the attribute (`request_rate_rps:GET /`)"),
                query("from", "ms since the epoch"),
                query("to", "ms since the epoch"),
            ],
            get(read::series),
        ),
        Endpoint {
            body: Some(schema::<analysis::WhatIf>),
            ..e(
                Method::POST,
                "/what-if",
                Analyst,
                "resilience",
                "Follow faults through every layer: what users see, over time, and why",
                vec![],
                post(analysis::what_if),
            )
        },
        Endpoint {
            body: Some(schema::<perf::PerfAsk>),
            ..e(
                Method::POST,
                "/perf",
                Analyst,
                "performance",
                "Latency per entry point and the bottleneck at a load, with replicas or speeds changed",
                vec![],
                post(perf::perf),
            )
        },
        Endpoint {
            body: Some(schema::<perf::PerfAsk>),
            ..e(
                Method::POST,
                "/capacity",
                Analyst,
                "performance",
                "The saturation point and the replicas each service needs at a target load (`target`, default 3x)",
                vec![],
                post(perf::capacity),
            )
        },
        e(
            Method::GET,
            "/curves",
            Viewer,
            "performance",
            "Latency (p50, p99) against load per entry point, by the queueing model",
            vec![
                query("max", "the largest load factor (default 4)"),
                query("steps", "points per curve (default 24)"),
                query("at", "point of the day (default peak)"),
            ],
            get(perf::latency_curves),
        ),
        Endpoint {
            body: Some(schema::<perf::SimulateJob>),
            answer: schema::<crate::jobs::Job>,
            status: 202,
            ..e(
                Method::POST,
                "/jobs/simulate",
                Analyst,
                "jobs",
                "Start a discrete-event simulation at a load, with 95% intervals",
                vec![],
                post(perf::simulate),
            )
        },
        e(
            Method::GET,
            "/forecast/{key}/{attribute}",
            Viewer,
            "prediction",
            "A series ahead with its interval, its recent history, and when it crosses its limit",
            vec![
                KEY,
                path("attribute", "the attribute"),
                query("horizon", "how far ahead (default 7d)"),
                query("level", "the interval's level (default 0.9)"),
            ],
            get(predict::series_forecast),
        ),
        e(
            Method::GET,
            "/predictions",
            Viewer,
            "prediction",
            "Every risk ahead, soonest first: limits crossed, the first SLO breach with its checked fix, model drift",
            vec![query("horizon", "how far ahead (default 14d)"), query("level", "the interval's level (default 0.9)")],
            get(predict::predictions),
        ),
        e(
            Method::GET,
            "/anomalies",
            Viewer,
            "prediction",
            "Incidents in the stored series over the last while, newest first",
            vec![
                query("since", "how far back from the newest sample (default 1d)"),
                query("entity", "one entity only"),
            ],
            get(predict::anomalies),
        ),
        e(
            Method::GET,
            "/rca",
            Viewer,
            "prediction",
            "Why entry points were slow in a window: symptoms and causes ranked",
            vec![
                query("at", "the window's end, ms since the epoch (default: the newest sample)"),
                query("window", "its length (default 15m)"),
            ],
            get(predict::rca),
        ),
        Endpoint {
            body: Some(schema::<change::Change>),
            ..e(
                Method::POST,
                "/changesets",
                Operator,
                "change",
                "Apply estate files to the live twin as one ChangeSet (dry_run to check only)",
                vec![],
                post(change::changesets),
            )
        },
        Endpoint {
            body: Some(schema::<change::ApplyFix>),
            ..e(
                Method::POST,
                "/remediations/apply",
                Operator,
                "change",
                "Commit the fix of the first predicted SLO breach, checked again on a fork first",
                vec![],
                post(change::apply_fix),
            )
        },
        Endpoint {
            body: Some(schema::<analysis::SpofJob>),
            answer: schema::<crate::jobs::Job>,
            status: 202,
            ..e(
                Method::POST,
                "/jobs/spof",
                Analyst,
                "jobs",
                "Start the N-1 sweep: every single failure ranked, SPOFs, worst pairs",
                vec![],
                post(analysis::spof),
            )
        },
        Endpoint {
            body: Some(schema::<analysis::AvailabilityJob>),
            answer: schema::<crate::jobs::Job>,
            status: 202,
            ..e(
                Method::POST,
                "/jobs/availability",
                Analyst,
                "jobs",
                "Start the Monte Carlo estimate of each entry point's yearly availability",
                vec![],
                post(analysis::availability),
            )
        },
        Endpoint {
            answer: schema::<crate::jobs::Job>,
            ..e(
                Method::GET,
                "/jobs/{id}",
                Analyst,
                "jobs",
                "A job of yours: progress, then its report",
                vec![path("id", "the job's id")],
                get(analysis::job),
            )
        },
        Endpoint {
            answer: schema::<crate::jobs::Job>,
            ..e(
                Method::DELETE,
                "/jobs/{id}",
                Analyst,
                "jobs",
                "Cancel a job of yours",
                vec![path("id", "the job's id")],
                delete(analysis::cancel_job),
            )
        },
        e(
            Method::GET,
            "/events",
            Viewer,
            "live",
            "Server-sent events: `twin` (version, changed keys), `job` (progress), `risk`; filtered to the token's scope",
            vec![],
            get(events::events),
        ),
        Endpoint {
            body: Some(schema::<admin::NewToken>),
            status: 201,
            ..e(
                Method::POST,
                "/tokens",
                Admin,
                "admin",
                "Make a token; its text is in this answer only",
                vec![],
                post(admin::create),
            )
        },
        Endpoint {
            answer: schema::<Vec<TokenInfo>>,
            ..e(Method::GET, "/tokens", Admin, "admin", "Every token, without secrets", vec![], get(admin::list))
        },
        e(
            Method::DELETE,
            "/tokens/{id}",
            Admin,
            "admin",
            "Revoke a token",
            vec![path("id", "the token's id")],
            delete(admin::revoke),
        ),
        Endpoint {
            answer: schema::<Vec<crate::audit::AuditEntry>>,
            ..e(
                Method::GET,
                "/audit",
                Admin,
                "admin",
                "The audit log, newest first",
                vec![query("limit", "entries (default 100)")],
                get(admin::audit),
            )
        },
    ]
}
