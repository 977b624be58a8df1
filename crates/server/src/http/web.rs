//! The dashboard, embedded: the files of `web/dist` (built by `build.rs`) answered for every GET
//! that is not an API path, with `index.html` for the dashboard's own routes (`/loggers`,
//! `/analytics?period=…`), so a reload or a shared link opens the right page.
//!
//! Vite names the files under `/assets/` by their content hash, so they are cached for a year;
//! everything else (`index.html` above all) is revalidated with its ETag on every load, so a new
//! server version is picked up at once. Bodies are precompressed at build time (brotli and gzip)
//! and sent as the browser accepts them.

use axum::body::Body;
use axum::extract::Request;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};

/// One embedded file.
pub struct WebFile {
    pub path: &'static str,
    pub content_type: &'static str,
    /// Hash of the uncompressed body.
    pub etag: &'static str,
    pub body: &'static [u8],
    pub br: Option<&'static [u8]>,
    pub gzip: Option<&'static [u8]>,
}

include!(concat!(env!("OUT_DIR"), "/web_files.rs"));

/// The dashboard answers GET and HEAD outside `/api`; everything else stays the API's.
pub fn serves(method: &Method, path: &str) -> bool {
    (method == Method::GET || method == Method::HEAD)
        && path != "/api"
        && !path.starts_with("/api/")
}

fn find(path: &str) -> Option<&'static WebFile> {
    FILES.iter().find(|f| f.path == path)
}

/// What `path` names: its file, `index.html` for a client route, or nothing (a missing asset:
/// answering HTML for a script would only hide the mistake).
fn resolve(path: &str) -> Option<&'static WebFile> {
    if let Some(file) = find(path) {
        return Some(file);
    }
    let last = path.rsplit('/').next().unwrap_or_default();
    if path.starts_with("/assets/") || last.contains('.') {
        return None;
    }
    find("/index.html")
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Encoding {
    Brotli,
    Gzip,
    Identity,
}

/// Whether `Accept-Encoding` accepts `coding` (listed, and not with `q=0`).
fn accepts(headers: &HeaderMap, coding: &str) -> bool {
    headers
        .get_all(header::ACCEPT_ENCODING)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|item| {
            let mut parts = item.split(';').map(str::trim);
            let name = parts.next().unwrap_or_default();
            let refused = parts.any(|p| {
                p.strip_prefix("q=")
                    .and_then(|q| q.parse::<f32>().ok())
                    .is_some_and(|q| q == 0.0)
            });
            name.eq_ignore_ascii_case(coding) && !refused
        })
}

fn negotiate(file: &WebFile, headers: &HeaderMap) -> (Encoding, &'static [u8]) {
    if let Some(br) = file.br.filter(|_| accepts(headers, "br")) {
        return (Encoding::Brotli, br);
    }
    if let Some(gz) = file.gzip.filter(|_| accepts(headers, "gzip")) {
        return (Encoding::Gzip, gz);
    }
    (Encoding::Identity, file.body)
}

/// The Content-Security-Policy of the dashboard: its own scripts and styles, API calls and the
/// live socket to this origin, and nobody may frame it.
const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; \
                   img-src 'self' data: blob:; connect-src 'self'; object-src 'none'; \
                   base-uri 'self'; form-action 'self'; frame-ancestors 'none'";

/// Answers a dashboard request (see [`serves`]).
pub fn serve(request: &Request) -> Response {
    let Some(file) = resolve(request.uri().path()) else {
        return (
            StatusCode::NOT_FOUND,
            [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
            "not found",
        )
            .into_response();
    };
    let (encoding, body) = negotiate(file, request.headers());
    let etag = match encoding {
        Encoding::Brotli => format!("\"{}-br\"", file.etag),
        Encoding::Gzip => format!("\"{}-gz\"", file.etag),
        Encoding::Identity => format!("\"{}\"", file.etag),
    };
    let cache = if file.path.starts_with("/assets/") {
        "public, max-age=31536000, immutable"
    } else {
        "no-cache"
    };
    let fresh = request
        .headers()
        .get_all(header::IF_NONE_MATCH)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|t| t.trim() == etag || t.trim() == "*");
    let mut response = if fresh {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        Response::new(Body::from(body))
    };
    let headers = response.headers_mut();
    let value = |s: &str| HeaderValue::from_str(s).expect("header values here are ASCII");
    headers.insert(header::ETAG, value(&etag));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
    headers.insert(header::VARY, HeaderValue::from_static("accept-encoding"));
    if fresh {
        return response;
    }
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(file.content_type),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    match encoding {
        Encoding::Brotli => {
            headers.insert(header::CONTENT_ENCODING, HeaderValue::from_static("br"));
        }
        Encoding::Gzip => {
            headers.insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
        }
        Encoding::Identity => {}
    }
    if file.content_type.starts_with("text/html") {
        headers.insert(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(CSP),
        );
        headers.insert(
            header::REFERRER_POLICY,
            HeaderValue::from_static("no-referrer"),
        );
        headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn get(path: &str, headers: &[(&str, &str)]) -> Response {
        let mut request = Request::builder().uri(path);
        for (k, v) in headers {
            request = request.header(*k, *v);
        }
        super::super::fallback(request.body(Body::empty()).unwrap()).await
    }

    async fn text(response: Response) -> String {
        let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .unwrap();
        String::from_utf8_lossy(&bytes).into_owned()
    }

    fn script() -> &'static WebFile {
        FILES
            .iter()
            .find(|f| f.path.starts_with("/assets/") && f.path.ends_with(".js"))
            .expect("the build has a script under /assets/")
    }

    #[tokio::test]
    async fn client_routes_get_the_page_with_its_security_headers() {
        for path in ["/", "/loggers", "/analytics", "/some/deep/route"] {
            let response = get(path, &[]).await;
            assert_eq!(response.status(), StatusCode::OK, "{path}");
            let h = response.headers();
            assert_eq!(h[header::CONTENT_TYPE], "text/html; charset=utf-8");
            assert_eq!(h[header::CACHE_CONTROL], "no-cache");
            assert!(
                h[header::CONTENT_SECURITY_POLICY]
                    .to_str()
                    .unwrap()
                    .contains("frame-ancestors 'none'")
            );
            assert!(text(response).await.contains("<div id=\"app\">"));
        }
    }

    #[tokio::test]
    async fn api_paths_keep_their_json_404() {
        for path in ["/api", "/api/", "/api/v1/nope", "/api/loggers/x/y/z"] {
            let response = get(path, &[]).await;
            assert_eq!(response.status(), StatusCode::NOT_FOUND, "{path}");
            assert!(text(response).await.contains("\"not_found\""), "{path}");
        }
        let post = Request::builder()
            .method(Method::POST)
            .uri("/loggers")
            .body(Body::empty())
            .unwrap();
        let response = super::super::fallback(post).await;
        assert_eq!(response.status(), StatusCode::NOT_FOUND);
        assert!(text(response).await.contains("\"not_found\""));
    }

    #[tokio::test]
    async fn a_missing_asset_is_a_404_not_the_page() {
        for path in ["/assets/nope.js", "/favicon.ico", "/assets/sub"] {
            assert_eq!(
                get(path, &[]).await.status(),
                StatusCode::NOT_FOUND,
                "{path}"
            );
        }
    }

    #[tokio::test]
    async fn hashed_assets_are_cached_for_good_and_sent_compressed() {
        let file = script();
        let response = get(file.path, &[("accept-encoding", "gzip, deflate, br")]).await;
        assert_eq!(response.status(), StatusCode::OK);
        let h = response.headers();
        assert_eq!(
            h[header::CACHE_CONTROL],
            "public, max-age=31536000, immutable"
        );
        assert_eq!(h[header::CONTENT_TYPE], "text/javascript; charset=utf-8");
        assert_eq!(h[header::CONTENT_ENCODING], "br");
        assert_eq!(h[header::VARY], "accept-encoding");

        let gzip = get(file.path, &[("accept-encoding", "gzip, br;q=0")]).await;
        assert_eq!(gzip.headers()[header::CONTENT_ENCODING], "gzip");
        let bytes = axum::body::to_bytes(gzip.into_body(), usize::MAX)
            .await
            .unwrap();
        assert_eq!(&bytes[..2], &[0x1f, 0x8b], "a gzip stream");

        let plain = get(file.path, &[]).await;
        assert!(plain.headers().get(header::CONTENT_ENCODING).is_none());
        assert_eq!(text(plain).await.as_bytes(), file.body);
    }

    #[tokio::test]
    async fn a_known_etag_gets_304() {
        let first = get("/", &[("accept-encoding", "gzip")]).await;
        let etag = first.headers()[header::ETAG].to_str().unwrap().to_owned();
        let again = get(
            "/stops",
            &[("accept-encoding", "gzip"), ("if-none-match", &etag)],
        )
        .await;
        assert_eq!(again.status(), StatusCode::NOT_MODIFIED);
        assert_eq!(again.headers()[header::ETAG], etag.as_str());
        assert!(text(again).await.is_empty());
    }
}
