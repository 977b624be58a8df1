//! One persistent HTTP/1.1 connection on hyper's connection API.
//!
//! No pool, no redirects, no URL parsing per request: client and server share the CPUs, and
//! every cycle the client spends is one the server cannot use.

use std::net::SocketAddr;

use anyhow::Context;
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::{self, SendRequest};
use hyper::header::{AUTHORIZATION, CONTENT_TYPE, HOST, HeaderValue};
use hyper::{Method, Request, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

pub struct Reply {
    pub status: StatusCode,
    pub body: Bytes,
}

impl Reply {
    /// The body as text, cut short, for error reports.
    pub fn snippet(&self) -> String {
        let text = String::from_utf8_lossy(&self.body);
        let mut cut: String = text.chars().take(200).collect();
        if cut.len() < text.len() {
            cut.push('…');
        }
        format!("{} {cut}", self.status)
    }
}

pub struct Conn {
    addr: SocketAddr,
    host: HeaderValue,
    sender: Option<SendRequest<Full<Bytes>>>,
}

impl Conn {
    pub async fn open(addr: SocketAddr) -> anyhow::Result<Self> {
        let mut conn = Self {
            addr,
            host: HeaderValue::from_str(&addr.to_string())?,
            sender: None,
        };
        conn.connect().await?;
        Ok(conn)
    }

    async fn connect(&mut self) -> anyhow::Result<&mut SendRequest<Full<Bytes>>> {
        let stream = TcpStream::connect(self.addr)
            .await
            .with_context(|| format!("cannot connect to {}", self.addr))?;
        // Small requests one after the other: Nagle would hold each for the previous ACK.
        stream.set_nodelay(true)?;
        let (sender, connection) = http1::handshake(TokioIo::new(stream)).await?;
        tokio::spawn(async move {
            let _ = connection.await;
        });
        Ok(self.sender.insert(sender))
    }

    /// Sends one request; reconnects first if the server closed the connection.
    pub async fn send(
        &mut self,
        method: Method,
        path: &str,
        bearer: Option<&HeaderValue>,
        body: Option<Bytes>,
    ) -> anyhow::Result<Reply> {
        let mut request = Request::builder()
            .method(method)
            .uri(path)
            .header(HOST, self.host.clone());
        let sender = match self.sender.as_mut() {
            Some(s) if !s.is_closed() => s,
            _ => self.connect().await?,
        };
        sender.ready().await?;
        if let Some(bearer) = bearer {
            request = request.header(AUTHORIZATION, bearer.clone());
        }
        let body = match body {
            Some(body) => {
                request =
                    request.header(CONTENT_TYPE, HeaderValue::from_static("application/json"));
                body
            }
            None => Bytes::new(),
        };
        let result = async {
            let response = sender.send_request(request.body(Full::new(body))?).await?;
            let status = response.status();
            let body = response.into_body().collect().await?.to_bytes();
            anyhow::Ok(Reply { status, body })
        }
        .await;
        if result.is_err() {
            // A broken connection is not reused: the next request opens a fresh one.
            self.sender = None;
        }
        result
    }

    pub async fn post(
        &mut self,
        path: &str,
        bearer: Option<&HeaderValue>,
        body: impl Into<Bytes>,
    ) -> anyhow::Result<Reply> {
        self.send(Method::POST, path, bearer, Some(body.into()))
            .await
    }

    pub async fn get(&mut self, path: &str, bearer: Option<&HeaderValue>) -> anyhow::Result<Reply> {
        self.send(Method::GET, path, bearer, None).await
    }
}

/// `Authorization: Bearer <secret>`, built once per worker rather than per request.
pub fn bearer(secret: &str) -> anyhow::Result<HeaderValue> {
    let mut value = HeaderValue::from_str(&format!("Bearer {secret}"))?;
    value.set_sensitive(true);
    Ok(value)
}
