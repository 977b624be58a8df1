//! (e) A PLC's run bit over Modbus TCP: a server inside the test toggles a discrete input; the
//! change reaches the assetlog server and a live dashboard client.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use tokio_modbus::server::tcp::Server as ModbusServer;
use tokio_modbus::{ExceptionCode, Request, Response};

use crate::helpers::*;

/// The run bit at discrete input 7; every other address reads 0.
#[derive(Clone)]
struct Plc(Arc<AtomicBool>);

impl tokio_modbus::server::Service for Plc {
    type Request = Request<'static>;
    type Response = Response;
    type Exception = ExceptionCode;
    type Future = std::future::Ready<Result<Response, ExceptionCode>>;

    fn call(&self, req: Self::Request) -> Self::Future {
        std::future::ready(match req {
            Request::ReadDiscreteInputs(addr, n) => Ok(Response::ReadDiscreteInputs(
                (addr..addr + n)
                    .map(|a| a == 7 && self.0.load(Ordering::SeqCst))
                    .collect(),
            )),
            _ => Err(ExceptionCode::IllegalFunction),
        })
    }
}

async fn start_plc(bit: Arc<AtomicBool>) -> std::net::SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let server = ModbusServer::new(listener);
        let on_connected = |stream, _addr| {
            let plc = Plc(bit.clone());
            async move { Ok(Some((plc, stream))) }
        };
        let _ = server.serve(&on_connected, |_err| {}).await;
    });
    addr
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_modbus_run_bit_reaches_the_server_and_a_live_client() {
    let dir = tempfile::tempdir().unwrap();
    let (server, token) = Server::with_tenant(&dir.path().join("server")).await;
    let bit = Arc::new(AtomicBool::new(false));
    let plc = start_plc(bit.clone()).await;
    let inputs = format!(
        "[[input]]
kind = \"modbus\"
pin = 5
name = \"Lathe\"
host = \"{plc}\"
unit_id = 1
address = 7
register = \"discrete_input\"
poll_interval_ms = 20
"
    );
    let agent = Agent::in_dir(dir.path(), &server.url, "agent-e", &inputs);
    let first = server.await_events(&token, "agent-e", 1).await;
    assert_eq!(
        (first[0].pin, first[0].running),
        (5, false),
        "the state at start"
    );

    let mut live = server.live(&token).await;

    bit.store(true, Ordering::SeqCst);
    let events = server.await_events(&token, "agent-e", 2).await;
    assert!(events[1].running);
    let message = tokio::time::timeout(DEADLINE, live.next_of("asset_state_change"))
        .await
        .expect("the change on the live socket in time")
        .expect("the live socket stays open");
    assert_eq!(message["state"], "RUNNING");
    assert_eq!(message["pin_number"], 5);
    assert_eq!(message["asset_name"], "Lathe");

    bit.store(false, Ordering::SeqCst);
    let events = server.await_events(&token, "agent-e", 3).await;
    assert_complete(&events, 3);
    assert!(!events[2].running);
    let status = agent
        .await_status("the page showing STOPPED", |s| {
            s["assets"]["5"]["running"] == false
        })
        .await;
    assert!(status["assets"]["5"]["input_error"].is_null());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_plc_shows_on_the_status_page() {
    let dir = tempfile::tempdir().unwrap();
    let plc = Refusing::new();
    let inputs = format!(
        "[[input]]\nkind = \"modbus\"\npin = 2\nhost = \"{}\"\naddress = 0\npoll_interval_ms = 20\n",
        plc.addr
    );
    // No assetlog server either: the page works without one.
    let server = Refusing::new();
    let agent = Agent::start(
        &dir.path().join("agent"),
        &agent_config(
            &format!("http://{}", server.addr),
            "agent-e2",
            &dir.path().join("agent/state"),
            &inputs,
        ),
    );
    let status = agent
        .await_status("the input error", |s| {
            s["assets"]["2"]["input_error"].is_string()
        })
        .await;
    let error = status["assets"]["2"]["input_error"].as_str().unwrap();
    assert!(error.contains("cannot connect to Modbus server"), "{error}");
    assert!(
        agent
            .page()
            .await
            .contains("cannot connect to Modbus server")
    );
}
