//! Live updates as server-sent events, filtered per caller.

use crate::api::{AppState, Caller};
use crate::auth::Role;
use crate::live::Event;
use crate::redact;
use axum::extract::State;
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use doppel_model::TwinView;
use futures_util::stream::Stream;
use std::convert::Infallible;
use std::time::Duration;
use tokio::sync::broadcast::error::RecvError;

/// What `caller` may hear of `event`, as it will be sent; `None`: nothing.
pub fn for_caller(live: &AppState, caller: &Caller, event: &Event) -> Option<serde_json::Value> {
    match event {
        Event::Job { owner, .. } if *owner != caller.token.id && !caller.can(Role::Admin) => return None,
        Event::Twin { changed, .. } if caller.scope.is_some() && !changed.iter().any(|k| caller.sees(k)) => {
            return None;
        }
        _ => {}
    }
    let value = serde_json::to_value(event).ok()?;
    match &caller.scope {
        None => Some(value),
        Some(_) => {
            // Scopes are resolved against the twin the event concerns.
            let twin = live.twin();
            let scope = live.scopes.resolve(&caller.token.scope, &twin).ok()?;
            Some(redact::redact(value, &twin, &scope))
        }
    }
}

/// `GET /events`: `twin`, `job` and `risk` events as they happen.
pub async fn events(
    State(live): State<AppState>,
    caller: Caller,
) -> Sse<impl Stream<Item = Result<SseEvent, Infallible>>> {
    let receiver = live.events.subscribe();
    let hello = SseEvent::default()
        .event("hello")
        .data(serde_json::json!({"version": caller.twin.version(), "role": caller.token.role}).to_string());
    let stream = futures_util::stream::unfold(
        (receiver, live, caller, Some(hello)),
        |(mut receiver, live, caller, first)| async move {
            if let Some(first) = first {
                return Some((Ok(first), (receiver, live, caller, None)));
            }
            loop {
                match receiver.recv().await {
                    Ok(event) => {
                        if let Some(data) = for_caller(&live, &caller, &event) {
                            let sse = SseEvent::default().event(event.name()).data(data.to_string());
                            return Some((Ok(sse), (receiver, live, caller, None)));
                        }
                    }
                    Err(RecvError::Lagged(n)) => {
                        let sse = SseEvent::default().event("lagged").data(format!("{{\"missed\":{n}}}"));
                        return Some((Ok(sse), (receiver, live, caller, None)));
                    }
                    Err(RecvError::Closed) => return None,
                }
            }
        },
    );
    Sse::new(stream).keep_alive(KeepAlive::new().interval(Duration::from_secs(15)))
}
