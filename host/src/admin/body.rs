//! Answer bodies of the admin server: whole (JSON, the console's files) or streamed from the
//! store in chunks, so that downloading a 4 GiB payload never holds it in memory.

use std::io::Read;
use std::pin::Pin;
use std::task::{Context, Poll};

use berth_store::StoredPayload;
use bytes::Bytes;
use http_body_util::combinators::UnsyncBoxBody;
use http_body_util::{BodyExt, Full};
use hyper::body::{Body as HttpBody, Frame, SizeHint};
use tokio::sync::mpsc;

pub type Body = UnsyncBoxBody<Bytes, std::io::Error>;

/// How much of a stored file is read at a time, and how many reads may wait for the client:
/// a download costs at most these few chunks of memory, whatever its size.
const CHUNK: usize = 64 * 1024;
const CHUNKS_AHEAD: usize = 4;

pub fn full(bytes: impl Into<Bytes>) -> Body {
    Full::new(bytes.into())
        .map_err(|never| match never {})
        .boxed_unsync()
}

/// The content of `payload`, read on the blocking pool as the client takes it.
pub fn stream(payload: StoredPayload) -> Body {
    if let Some(bytes) = payload.in_memory() {
        return full(bytes.clone());
    }
    let len = payload.len();
    let (sender, receiver) = mpsc::channel(CHUNKS_AHEAD);
    tokio::task::spawn_blocking(move || {
        let mut reader = match payload.open() {
            Ok(reader) => reader,
            Err(e) => {
                let _ = sender.blocking_send(Err(std::io::Error::other(e.to_string())));
                return;
            }
        };
        loop {
            let mut chunk = vec![0u8; CHUNK];
            match reader.read(&mut chunk) {
                Ok(0) => return,
                Ok(n) => {
                    chunk.truncate(n);
                    // The client went away: stop reading.
                    if sender.blocking_send(Ok(Bytes::from(chunk))).is_err() {
                        return;
                    }
                }
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => {
                    tracing::error!(error = %e, "admin download: reading the store failed");
                    let _ = sender.blocking_send(Err(e));
                    return;
                }
            }
        }
    });
    ChannelBody { receiver, len }.boxed_unsync()
}

/// Chunks from the reading task; the exact length is known up front, so hyper sends a
/// Content-Length and the client can tell a cut-off download.
struct ChannelBody {
    receiver: mpsc::Receiver<std::io::Result<Bytes>>,
    len: u64,
}

impl HttpBody for ChannelBody {
    type Data = Bytes;
    type Error = std::io::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, std::io::Error>>> {
        self.receiver
            .poll_recv(cx)
            .map(|chunk| chunk.map(|chunk| chunk.map(Frame::data)))
    }

    fn size_hint(&self) -> SizeHint {
        SizeHint::with_exact(self.len)
    }
}
