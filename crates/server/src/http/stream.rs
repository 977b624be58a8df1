//! Answers too big to build before sending: written on blocking threads while they are sent.

use axum::http::header;
use axum::response::{IntoResponse, Response};

/// A JSON answer whose bulk is one array, sent while it is written: `head`, then `items` as a
/// JSON array, then `tail`. The items are written on blocking threads, one contiguous share per
/// CPU, and sent in order: a big answer (a year of 500 assets by day is 46 MB) neither holds an
/// async worker nor waits to be whole before its first byte leaves. If writing fails, the
/// connection is cut rather than the answer left looking complete. `guard` (a query slot) is
/// held until the whole answer is sent or the client goes away.
pub fn streamed_json_array<T: WriteJson + Send + 'static>(
    head: Vec<u8>,
    items: Vec<T>,
    tail: Vec<u8>,
    guard: impl Send + 'static,
) -> Response {
    use futures_util::StreamExt;
    let shares: Vec<_> = crate::shares::per_cpu(items, 1)
        .into_iter()
        .enumerate()
        .map(|(i, mine)| {
            let (sender, receiver) = tokio::sync::mpsc::unbounded_channel::<Chunk>();
            tokio::task::spawn_blocking(move || {
                let mut out = Chunks::new(sender);
                if let Err(e) = write_items(&mut out, &mine, i > 0) {
                    tracing::debug!(error = %e, "a streamed answer was cut short");
                    let _ = out.sender.send(Err(e));
                }
            });
            receiver
        })
        .collect();
    let shares = futures_util::stream::iter(shares).flat_map(|receiver| {
        futures_util::stream::unfold(
            receiver,
            |mut r| async move { r.recv().await.map(|c| (c, r)) },
        )
    });
    let mut head = head;
    head.push(b'[');
    let mut tail = tail;
    tail.insert(0, b']');
    let body = futures_util::stream::once(async move { Ok(head.into()) })
        .chain(shares)
        .chain(futures_util::stream::once(async move {
            drop(guard);
            Ok(tail.into())
        }));
    (
        [(header::CONTENT_TYPE, "application/json")],
        axum::body::Body::from_stream(body),
    )
        .into_response()
}

/// A value that writes itself as JSON text, for answers too big for serde's generic path.
pub trait WriteJson {
    fn write_json<W: std::io::Write>(&self, out: &mut W) -> std::io::Result<()>;
}

/// Writes `items` as the inside of a JSON array (with a comma first when they follow others).
fn write_items<T: WriteJson>(
    out: &mut Chunks,
    items: &[T],
    lead_comma: bool,
) -> std::io::Result<()> {
    use std::io::Write;
    for (i, item) in items.iter().enumerate() {
        if lead_comma || i > 0 {
            out.write_all(b",")?;
        }
        item.write_json(out)?;
    }
    out.flush()
}

/// A piece of a streamed body, or the error that cuts it.
type Chunk = std::result::Result<axum::body::Bytes, std::io::Error>;

/// Hands written text to a streamed body in chunks of about [`Chunks::SIZE`] bytes.
struct Chunks {
    buf: Vec<u8>,
    sender: tokio::sync::mpsc::UnboundedSender<Chunk>,
}

impl Chunks {
    const SIZE: usize = 256 * 1024;

    fn new(sender: tokio::sync::mpsc::UnboundedSender<Chunk>) -> Self {
        Self {
            buf: Vec::with_capacity(Self::SIZE),
            sender,
        }
    }

    fn send(&mut self) -> std::io::Result<()> {
        let full = std::mem::replace(&mut self.buf, Vec::with_capacity(Self::SIZE));
        self.sender
            .send(Ok(full.into()))
            .map_err(|_| std::io::Error::other("the client went away"))
    }
}

impl std::io::Write for Chunks {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.buf.extend_from_slice(bytes);
        if self.buf.len() >= Self::SIZE {
            self.send()?;
        }
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        self.send()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Item(String);

    impl WriteJson for Item {
        fn write_json<W: std::io::Write>(&self, out: &mut W) -> std::io::Result<()> {
            Ok(serde_json::to_writer(out, &self.0)?)
        }
    }

    async fn body_of(head: &str, items: Vec<String>, tail: &str) -> serde_json::Value {
        let items = items.into_iter().map(Item).collect();
        let response = streamed_json_array(head.into(), items, tail.into(), ());
        let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .unwrap();
        serde_json::from_slice(&bytes).unwrap()
    }

    #[tokio::test]
    async fn a_streamed_array_is_the_whole_answer_in_order() {
        // Long enough that each share is sent in several chunks.
        let long = |i: usize| format!("{i:0>9000}");
        for n in [0, 1, 2, 3, 7, 100] {
            let items: Vec<String> = (0..n).map(long).collect();
            let answer = body_of(r#"{"a":1,"list":"#, items.clone(), "}").await;
            assert_eq!(
                answer,
                serde_json::json!({ "a": 1, "list": items }),
                "{n} items"
            );
        }
    }
}
