//! The web UI, embedded in the binary at build time from `ui/dist`.

use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};

mod files {
    include!(concat!(env!("OUT_DIR"), "/ui_files.rs"));
}

const NOT_BUILT: &str = "<!doctype html><meta charset=utf-8><title>Doppel</title><body style=\"font-family:sans-serif;margin:3em\"><h1>Doppel</h1><p>This binary was built without the web UI (<code>ui/dist</code> was missing). The API is at <a href=\"/api/v1/openapi.json\">/api/v1/openapi.json</a>.</p>";

fn content_type(name: &str) -> &'static str {
    match name.rsplit('.').next() {
        Some("html") => "text/html; charset=utf-8",
        Some("js") | Some("mjs") => "text/javascript; charset=utf-8",
        Some("css") => "text/css; charset=utf-8",
        Some("svg") => "image/svg+xml",
        Some("json") | Some("map") => "application/json",
        Some("png") => "image/png",
        Some("ico") => "image/x-icon",
        _ => "application/octet-stream",
    }
}

/// A file of the UI by its path under `ui/dist`.
pub fn file(name: &str) -> Option<(&'static str, &'static [u8])> {
    files::FILES.iter().find(|(n, _)| *n == name).map(|(n, bytes)| (content_type(n), *bytes))
}

fn serve(name: &str) -> Response {
    match file(name) {
        Some((kind, bytes)) => (
            [
                (header::CONTENT_TYPE, kind),
                (header::CACHE_CONTROL, "no-cache"),
                (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
            ],
            bytes,
        )
            .into_response(),
        None => (StatusCode::NOT_FOUND, "no such file in the UI").into_response(),
    }
}

/// `GET /`: the UI's page.
pub async fn index() -> Response {
    if file("index.html").is_none() {
        return ([(header::CONTENT_TYPE, "text/html; charset=utf-8")], NOT_BUILT).into_response();
    }
    let mut response = serve("index.html");
    response.headers_mut().insert(
        header::CONTENT_SECURITY_POLICY,
        header::HeaderValue::from_static(
            "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; frame-ancestors 'none'",
        ),
    );
    response
}

/// `GET /ui/{path}`: one of the UI's files.
pub async fn asset(axum::extract::Path(path): axum::extract::Path<String>) -> Response {
    serve(&path)
}
