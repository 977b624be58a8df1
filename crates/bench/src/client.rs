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

/// A keep-alive HTTP/1.1 connection for the single-event scenario: the request head is built
/// once, each request is one `write` and its answer is parsed in place with httparse. The
/// single scenario spends one client request per event, so what the client saves here is CPU
/// the server (sharing the same cores) gets to use.
pub struct LeanConn {
    addr: SocketAddr,
    stream: Option<TcpStream>,
    /// `POST <path> HTTP/1.1` and the fixed headers, up to `Content-Length: `.
    head: Vec<u8>,
    out: Vec<u8>,
    input: Vec<u8>,
}

impl LeanConn {
    /// A connection that posts JSON to `path`, authorized by `bearer`.
    pub async fn open(addr: SocketAddr, path: &str, bearer: &HeaderValue) -> anyhow::Result<Self> {
        let mut head = format!(
            "POST {path} HTTP/1.1\r\nhost: {addr}\r\ncontent-type: application/json\r\nauthorization: "
        )
        .into_bytes();
        head.extend_from_slice(bearer.as_bytes());
        head.extend_from_slice(b"\r\ncontent-length: ");
        let mut conn = Self {
            addr,
            stream: None,
            head,
            out: Vec::with_capacity(512),
            input: Vec::with_capacity(1024),
        };
        conn.connect().await?;
        Ok(conn)
    }

    async fn connect(&mut self) -> anyhow::Result<()> {
        let stream = TcpStream::connect(self.addr)
            .await
            .with_context(|| format!("cannot connect to {}", self.addr))?;
        stream.set_nodelay(true)?;
        self.input.clear();
        self.stream = Some(stream);
        Ok(())
    }

    /// Posts `body` and reads the whole answer; reconnects first if the last request failed.
    pub async fn post(&mut self, body: &[u8]) -> anyhow::Result<Reply> {
        use std::io::Write as _;
        self.out.clear();
        self.out.extend_from_slice(&self.head);
        write!(self.out, "{}\r\n\r\n", body.len())?;
        self.out.extend_from_slice(body);
        let result = self.exchange().await;
        if result.is_err() {
            // A broken connection is not reused: the next request opens a fresh one.
            self.stream = None;
        }
        result
    }

    async fn exchange(&mut self) -> anyhow::Result<Reply> {
        use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
        if self.stream.is_none() {
            self.connect().await?;
        }
        let Self {
            stream: Some(stream),
            out,
            input,
            ..
        } = self
        else {
            anyhow::bail!("not connected");
        };
        stream.write_all(out).await?;
        loop {
            if let Some((status, head_len, body_len)) = parse_head(input)?
                && input.len() >= head_len + body_len
            {
                let body = Bytes::copy_from_slice(&input[head_len..head_len + body_len]);
                input.drain(..head_len + body_len);
                return Ok(Reply { status, body });
            }
            if stream.read_buf(input).await? == 0 {
                anyhow::bail!("the server closed the connection mid-answer");
            }
        }
    }
}

/// The status, head length and `Content-Length` of a response whose head is complete.
fn parse_head(input: &[u8]) -> anyhow::Result<Option<(StatusCode, usize, usize)>> {
    let mut headers = [httparse::EMPTY_HEADER; 16];
    let mut response = httparse::Response::new(&mut headers);
    let head_len = match response.parse(input)? {
        httparse::Status::Complete(n) => n,
        httparse::Status::Partial => return Ok(None),
    };
    let status = StatusCode::from_u16(response.code.unwrap_or(0))?;
    let length = response
        .headers
        .iter()
        .find(|h| h.name.eq_ignore_ascii_case("content-length"))
        .context("an answer without Content-Length")?;
    let length = std::str::from_utf8(length.value)?.trim().parse()?;
    Ok(Some((status, head_len, length)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_head_is_read_only_when_complete_and_needs_a_length() {
        let whole =
            b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\nContent-Length: 2\r\n\r\n{}";
        let head_len = whole.len() - 2;
        assert_eq!(
            parse_head(whole).unwrap(),
            Some((StatusCode::OK, head_len, 2))
        );
        assert_eq!(parse_head(&whole[..20]).unwrap(), None);
        assert!(parse_head(b"HTTP/1.1 200 OK\r\n\r\n").is_err());
        assert!(parse_head(b"HTTP/1.1 abc\r\n\r\n").is_err());
    }
}
