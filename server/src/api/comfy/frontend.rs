//! ComfyUI's web frontend, served from the user's install (`serve --comfy-frontend DIR`,
//! PyPI's `comfyui-frontend-package`, which `scripts/setup` fetches into `third_party/`).
//! Its static files need no key; its API calls do, so a browser signs in once: `/login`
//! takes a key (a form, or `?token=` in the address) and keeps it in an HttpOnly,
//! SameSite=Strict cookie, which the frontend's requests and socket then carry.

use std::path::PathBuf;
use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::get;
use serde::Deserialize;
use tower_http::services::ServeDir;

use super::super::{COOKIE, cookie};
use crate::App;

/// How long a browser stays signed in.
const COOKIE_MAX_AGE_S: u64 = 7 * 86_400;
/// The longest key a sign-in form takes.
pub(crate) const KEY_MAX_BYTES: usize = 256;

/// The frontend's routes: `/` (the app, or the sign-in page), `/login`, and its files.
pub(crate) fn routes(dir: PathBuf) -> Router<Arc<App>> {
    let index = Arc::new(dir.join("index.html"));
    Router::new()
        .route("/", get(move |state, headers| home(state, headers, Arc::clone(&index))))
        .route("/login", get(login_link).post(login_form))
        .fallback_service(ServeDir::new(dir))
}

pub(crate) async fn signed_in(app: &App, token: &str) -> bool {
    matches!(crate::keys::authenticate(&app.store, token).await, Ok(Some(_)))
}

/// `GET /`: the frontend for a signed-in browser, else the sign-in page.
async fn home(State(app): State<Arc<App>>, headers: HeaderMap, index: Arc<PathBuf>) -> Response {
    let Some(token) = cookie(&headers, COOKIE) else { return sign_in(None) };
    if !signed_in(&app, token).await {
        return sign_in(Some("that key is not valid any more; sign in again"));
    }
    match tokio::fs::read(index.as_ref()).await {
        Ok(page) => ([(header::CONTENT_TYPE, "text/html; charset=utf-8")], page).into_response(),
        Err(e) => {
            (StatusCode::NOT_FOUND, format!("the ComfyUI frontend is not at {}: {e}", index.display())).into_response()
        }
    }
}

/// The sign-in page for ComfyUI's editor.
fn sign_in(problem: Option<&str>) -> Response {
    sign_in_page(problem, "/login", "open ComfyUI's editor on this server")
}

/// A sign-in page posting to `action`: one field for an API key. No script, no outside
/// resource.
pub(crate) fn sign_in_page(problem: Option<&str>, action: &str, purpose: &str) -> Response {
    let problem = problem.map(|p| format!("<p role=\"alert\">{p}</p>")).unwrap_or_default();
    let page = format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Switchyard: sign in</title></head>\
         <body style=\"font-family: sans-serif; max-width: 32em; margin: 4em auto\">\
         <h1>Switchyard</h1><p>Sign in with an API key to {purpose}.</p>{problem}\
         <form method=\"post\" action=\"{action}\"><label>API key <input name=\"key\" type=\"password\" \
         autocomplete=\"off\" required size=\"40\"></label> <button type=\"submit\">Sign in</button></form>\
         <p><small><code>switchyard serve --create-key TENANT</code> makes a key.</small></p></body></html>"
    );
    let mut response = Html(page).into_response();
    if !problem.is_empty() {
        *response.status_mut() = StatusCode::UNAUTHORIZED;
    }
    response
}

/// A signed-in browser: the cookie set, and on to the frontend.
async fn start(app: &App, token: &str) -> Response {
    if token.len() > KEY_MAX_BYTES || !signed_in(app, token).await {
        return sign_in(Some("that key is not valid"));
    }
    with_cookie(token, "/")
}

/// The key's cookie set, and on to `to`.
pub(crate) fn with_cookie(token: &str, to: &str) -> Response {
    let value = format!("{COOKIE}={token}; Path=/; HttpOnly; SameSite=Strict; Max-Age={COOKIE_MAX_AGE_S}");
    let mut response = Redirect::to(to).into_response();
    if let Ok(value) = HeaderValue::from_str(&value) {
        response.headers_mut().insert(header::SET_COOKIE, value);
    }
    response
}

#[derive(Deserialize)]
struct Link {
    token: Option<String>,
}

/// `GET /login?token=`: signs in from an address (then drops the key from it).
async fn login_link(
    State(app): State<Arc<App>>,
    q: Result<Query<Link>, axum::extract::rejection::QueryRejection>,
) -> Response {
    match q.ok().and_then(|Query(l)| l.token) {
        Some(token) => start(&app, &token).await,
        None => sign_in(None),
    }
}

/// `POST /login` (a form with `key`).
async fn login_form(State(app): State<Arc<App>>, body: Bytes) -> Response {
    let key = form_value(&body, "key").unwrap_or_default();
    start(&app, &key).await
}

/// A field of an `application/x-www-form-urlencoded` body. API keys are plain ASCII, so
/// only `+` and `%XX` need decoding.
pub(crate) fn form_value(body: &[u8], name: &str) -> Option<String> {
    let text = std::str::from_utf8(body).ok()?;
    let raw = text.split('&').find_map(|pair| pair.strip_prefix(name)?.strip_prefix('='))?;
    let mut out = Vec::with_capacity(raw.len());
    let mut bytes = raw.bytes();
    while let Some(b) = bytes.next() {
        match b {
            b'+' => out.push(b' '),
            b'%' => {
                let hex = [bytes.next()?, bytes.next()?];
                out.push(u8::from_str_radix(std::str::from_utf8(&hex).ok()?, 16).ok()?);
            }
            b => out.push(b),
        }
    }
    String::from_utf8(out).ok().map(|s| s.trim().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sign_in_form_is_decoded() {
        let cases: [(&[u8], Option<&str>); 5] = [
            (b"key=sy_abc.def", Some("sy_abc.def")),
            (b"other=1&key=sy_a%2Eb+", Some("sy_a.b")),
            (b"key=%zz", None),
            (b"nokey=1", None),
            (b"key=%", None),
        ];
        for (body, want) in cases {
            assert_eq!(form_value(body, "key").as_deref(), want, "{:?}", String::from_utf8_lossy(body));
        }
    }
}
