//! What the agent knows about itself, and the local status page that shows it: plain HTML at `/`
//! (refreshing itself) and the same as JSON at `/status.json`. It needs nothing but the agent, so
//! it is the place to look when the server is unreachable.
//!
//! Every change of the status or the queue counts up its `version`. `/status.json?after=N`
//! answers once the version is past N (or after [`LONG_POLL`] at the latest, unchanged), so a
//! script waits for the next change instead of asking again and again.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::{Query, State};
use axum::response::{Html, IntoResponse};
use axum::routing::get;
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use tokio::sync::watch;

use crate::journal::{Journal, QueueFigures};
use crate::now_ms;

/// How the agent stands with the server.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "state", content = "detail")]
pub enum Connection {
    /// Not registered yet in this run.
    Connecting,
    Online,
    /// The last request failed; the agent retries with backoff.
    Unreachable(String),
    /// The server refuses this logger's key: nothing is uploaded until an operator acts.
    KeyRefused(String),
}

#[derive(Debug, Clone, Serialize)]
pub struct AssetStatus {
    pub pin: u8,
    pub name: String,
    pub input: &'static str,
    /// `None` until the input's first stable level.
    pub running: Option<bool>,
    /// Epoch ms the current state began.
    pub since_ms: Option<i64>,
    /// Why the input cannot be read right now, if it cannot.
    pub input_error: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Status {
    pub logger_id: String,
    pub logger_name: Option<String>,
    pub server_url: String,
    pub agent_version: String,
    pub started_ms: i64,
    pub connection: Connection,
    /// `"pending"` or `"claimed"`, once the server said.
    pub registration: Option<String>,
    pub claim_code: Option<String>,
    pub last_contact_ms: Option<i64>,
    /// The heartbeat period in force: the server's once it has answered, before that the
    /// configuration's `heartbeat_interval_s`.
    pub heartbeat_s: u64,
    /// Heartbeats the server answered in this run.
    pub heartbeats: u64,
    /// The latest problem.
    pub last_error: Option<LastError>,
    pub uploaded: u64,
    pub assets: BTreeMap<u8, AssetStatus>,
}

#[derive(Debug, Clone, Serialize)]
pub struct LastError {
    pub at_ms: i64,
    pub message: String,
}

impl Status {
    pub fn error(&mut self, message: impl Into<String>) {
        let message = message.into();
        tracing::warn!("{message}");
        self.last_error = Some(LastError {
            at_ms: now_ms(),
            message,
        });
    }

    pub fn contact(&mut self) {
        self.connection = Connection::Online;
        self.last_contact_ms = Some(now_ms());
    }
}

/// Longest a `/status.json?after=N` request waits for a change.
pub const LONG_POLL: Duration = Duration::from_secs(30);

/// The status and the queue, as the page reads them, and the count of their changes.
#[derive(Clone)]
pub struct Shared {
    status: Arc<Mutex<Status>>,
    pub journal: Arc<Mutex<Journal>>,
    version: watch::Sender<u64>,
}

#[derive(Serialize)]
struct Snapshot {
    /// Counts every change of what this snapshot shows.
    version: u64,
    #[serde(flatten)]
    status: Status,
    queue: QueueFigures,
    now_ms: i64,
}

impl Shared {
    pub fn new(status: Status, journal: Journal) -> Self {
        Self {
            status: Arc::new(Mutex::new(status)),
            journal: Arc::new(Mutex::new(journal)),
            version: watch::Sender::new(0),
        }
    }

    /// Changes the status and wakes whoever waits for a change.
    pub fn update<R>(&self, change: impl FnOnce(&mut Status) -> R) -> R {
        let result = change(&mut self.status.lock().expect("status lock"));
        self.changed();
        result
    }

    /// Reads the status.
    pub fn read<R>(&self, look: impl FnOnce(&Status) -> R) -> R {
        look(&self.status.lock().expect("status lock"))
    }

    /// Wakes whoever waits for a change: call it after changing the queue.
    pub fn changed(&self) {
        self.version.send_modify(|v| *v += 1);
    }

    fn snapshot(&self) -> Snapshot {
        // The version first: a change made while the rest is read shows in this snapshot or
        // wakes the next `?after=` at once, never neither.
        let version = *self.version.borrow();
        let queue = self.journal.lock().expect("journal lock").figures();
        let status = self.status.lock().expect("status lock").clone();
        Snapshot {
            version,
            status,
            queue,
            now_ms: now_ms(),
        }
    }
}

pub fn router(shared: Shared) -> Router {
    Router::new()
        .route("/", get(page))
        .route("/status.json", get(json))
        .with_state(shared)
}

#[derive(Deserialize)]
struct Wait {
    /// Answer once the version is past this.
    after: Option<u64>,
}

async fn json(State(shared): State<Shared>, Query(wait): Query<Wait>) -> impl IntoResponse {
    if let Some(after) = wait.after {
        let mut version = shared.version.subscribe();
        // Unchanged after the long poll: the same status again, which the caller may ask after.
        let _ = tokio::time::timeout(LONG_POLL, version.wait_for(|v| *v > after)).await;
    }
    Json(shared.snapshot())
}

async fn page(State(shared): State<Shared>) -> Html<String> {
    Html(render(&shared.snapshot()))
}

fn render(s: &Snapshot) -> String {
    let st = &s.status;
    let mut h = String::with_capacity(4096);
    let title = esc(st.logger_name.as_deref().unwrap_or(&st.logger_id));
    let _ = write!(
        h,
        "<!doctype html><html><head><meta charset=utf-8><meta http-equiv=refresh content=2>\
         <title>{title} · assetlog-agent</title><style>\
         body{{font:15px system-ui,sans-serif;margin:2em;color:#222}}\
         table{{border-collapse:collapse}}td,th{{padding:.3em .8em;border-bottom:1px solid #ddd;text-align:left}}\
         .run{{color:#fff;background:#1a7f37}}.stop{{color:#fff;background:#c62828}}.unk{{background:#ddd}}\
         .bad{{color:#c62828;font-weight:bold}}.code{{font:bold 1.4em monospace;letter-spacing:.1em}}\
         </style></head><body><h1>{title}</h1>"
    );
    let _ = write!(
        h,
        "<p>Logger <b>{}</b> · {} · reporting to {}</p>",
        esc(&st.logger_id),
        esc(&st.agent_version),
        esc(&st.server_url)
    );

    let (conn, class) = match &st.connection {
        Connection::Connecting => ("connecting…".to_owned(), ""),
        Connection::Online => ("online".to_owned(), ""),
        Connection::Unreachable(e) => (format!("unreachable: {e}"), "bad"),
        Connection::KeyRefused(e) => (format!("refused: {e}"), "bad"),
    };
    let _ = write!(
        h,
        "<table><tr><th>Server</th><td class={class}>{}</td></tr>",
        esc(&conn)
    );
    if let Some(t) = st.last_contact_ms {
        let _ = write!(
            h,
            "<tr><th>Last contact</th><td>{} ago</td></tr>",
            ago(s.now_ms - t)
        );
    }
    if let Some(reg) = &st.registration {
        let _ = write!(h, "<tr><th>Registration</th><td>{}</td></tr>", esc(reg));
    }
    let _ = write!(
        h,
        "<tr><th>Heartbeat</th><td>every {} ({} answered this run)</td></tr>",
        ago(st.heartbeat_s as i64 * 1000),
        st.heartbeats
    );
    if let Some(code) = &st.claim_code {
        let _ = write!(
            h,
            "<tr><th>Claim code</th><td><span class=code>{}</span> (an admin enters it with this logger's id to claim it)</td></tr>",
            esc(code)
        );
    }
    let q = &s.queue;
    let _ = write!(
        h,
        "<tr><th>Queued</th><td>{} of {} events</td></tr>\
         <tr><th>Dropped (queue full)</th><td{}>{}</td></tr>\
         <tr><th>Last seq</th><td>{}</td></tr><tr><th>Uploaded this run</th><td>{}</td></tr>",
        q.depth,
        q.capacity,
        if q.dropped > 0 { " class=bad" } else { "" },
        q.dropped,
        q.last_seq,
        st.uploaded
    );
    if let Some(e) = &st.last_error {
        let _ = write!(
            h,
            "<tr><th>Last error</th><td class=bad>{} ({} ago)</td></tr>",
            esc(&e.message),
            ago(s.now_ms - e.at_ms)
        );
    }
    h.push_str("</table><h2>Assets</h2><table><tr><th>Pin</th><th>Name</th><th>Input</th><th>State</th><th>For</th><th></th></tr>");
    for a in st.assets.values() {
        let (state, class) = match a.running {
            Some(true) => ("RUNNING", "run"),
            Some(false) => ("STOPPED", "stop"),
            None => ("UNKNOWN", "unk"),
        };
        let since = a.since_ms.map(|t| ago(s.now_ms - t)).unwrap_or_default();
        let _ = write!(
            h,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td class={class}>{state}</td><td>{since}</td><td class=bad>{}</td></tr>",
            a.pin,
            esc(&a.name),
            a.input,
            esc(a.input_error.as_deref().unwrap_or(""))
        );
    }
    h.push_str("</table><p><a href=/status.json>status.json</a></p></body></html>");
    h
}

/// A duration as people read it: `42 s`, `5 min 3 s`, `2 h 10 min`, `3 d 4 h`.
pub fn ago(ms: i64) -> String {
    let s = ms.max(0) / 1000;
    match s {
        0..60 => format!("{s} s"),
        60..3600 => format!("{} min {} s", s / 60, s % 60),
        3600..86_400 => format!("{} h {} min", s / 3600, s % 3600 / 60),
        _ => format!("{} d {} h", s / 86_400, s % 86_400 / 3600),
    }
}

fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_like_people_say_them() {
        assert_eq!(ago(-5), "0 s");
        assert_eq!(ago(42_999), "42 s");
        assert_eq!(ago(303_000), "5 min 3 s");
        assert_eq!(ago(7_800_000), "2 h 10 min");
        assert_eq!(ago(273_600_000), "3 d 4 h");
    }

    #[test]
    fn names_cannot_inject_markup() {
        assert_eq!(
            esc("<b>\"A&B'</b>"),
            "&lt;b&gt;&quot;A&amp;B&#39;&lt;/b&gt;"
        );
    }
}
