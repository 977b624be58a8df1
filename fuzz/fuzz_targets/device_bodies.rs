//! The logger payloads as the server parses them: the bodies of register, heartbeat, the
//! original asset-state and ingest, sent through the real router to a real server (its store
//! in a temporary directory). The first byte picks the endpoint, the rest is the body. Any
//! answer is fine but a 500: bad input is refused, never a panic or an internal error.
#![no_main]

use std::net::SocketAddr;
use std::sync::OnceLock;

use axum::extract::ConnectInfo;
use axum::http::{Request, StatusCode};
use libfuzzer_sys::fuzz_target;
use tower::ServiceExt;

const PATHS: [&str; 4] = [
    "/api/device/register",
    "/api/device/heartbeat",
    "/api/asset-state",
    "/api/v1/ingest",
];

struct Server {
    _app: assetlog_server::Application,
    runtime: tokio::runtime::Runtime,
    router: axum::Router,
    _dir: tempfile::TempDir,
}

fn server() -> &'static Server {
    static SERVER: OnceLock<Server> = OnceLock::new();
    SERVER.get_or_init(|| {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        let dir = tempfile::tempdir().expect("temp dir");
        let config = assetlog_server::config::ServeConfig::local(dir.path().join("data"));
        let app = runtime
            .block_on(assetlog_server::Application::build(config))
            .expect("server starts");
        let router = assetlog_server::http::router(app.state().clone());
        // Kept, its listener bound and unused: requests go straight into the router.
        Server {
            _app: app,
            runtime,
            router,
            _dir: dir,
        }
    })
}

fuzz_target!(|data: &[u8]| {
    let Some((&pick, body)) = data.split_first() else {
        return;
    };
    let server = server();
    let path = PATHS[usize::from(pick) % PATHS.len()];
    let mut request = Request::post(path)
        .header("authorization", "Bearer ald_fuzz")
        .body(axum::body::Body::from(body.to_vec()))
        .expect("request");
    request
        .extensions_mut()
        .insert(ConnectInfo(SocketAddr::from(([192, 0, 2, 1], 40_000))));
    let response = server
        .runtime
        .block_on(server.router.clone().oneshot(request))
        .expect("the router answers");
    assert_ne!(
        response.status(),
        StatusCode::INTERNAL_SERVER_ERROR,
        "{path} answered 500 to {:?}",
        String::from_utf8_lossy(body)
    );
});
