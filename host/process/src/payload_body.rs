//! A payload as an HTTP body, for `http_send` and for the answer of a `return` step whose body
//! is the payload: in one frame when it is in memory, otherwise read from the store a chunk at a
//! time, so that a 4 GiB payload crosses the network holding a few chunks, never itself.

use std::io::{self, Read};
use std::pin::Pin;
use std::task::{Context, Poll};

use berth_store::StoredPayload;
use bytes::{Bytes, BytesMut};
use http_body::{Body, Frame, SizeHint};
use tokio::sync::mpsc;

/// Bytes read from the store per frame: large enough that a frame's overhead is nothing beside
/// it, small enough that the chunks in flight stay far below the memory budget.
const CHUNK: usize = 256 * 1024;

/// Chunks read ahead of the network: keeps the disk and the socket busy at once.
const AHEAD: usize = 4;

/// A payload as an HTTP body of exactly its length (so the peer gets a `Content-Length`).
pub struct PayloadBody {
    inner: Inner,
    /// Bytes not yet handed out; the body's exact size hint.
    left: u64,
}

enum Inner {
    Memory(Option<Bytes>),
    /// Chunks from a reader on the blocking pool, which stops when this is dropped.
    Stored(mpsc::Receiver<io::Result<Bytes>>),
}

impl PayloadBody {
    /// The payload as a body. A stored payload starts being read on the runtime's blocking
    /// pool at once: call it inside a tokio runtime.
    pub fn new(payload: StoredPayload) -> PayloadBody {
        let left = payload.len();
        let payload = match payload.into_memory() {
            Ok(bytes) => {
                return PayloadBody {
                    inner: Inner::Memory(Some(bytes).filter(|b| !b.is_empty())),
                    left,
                }
            }
            Err(stored) => stored,
        };
        let (tx, rx) = mpsc::channel(AHEAD);
        tokio::task::spawn_blocking(move || read_into(&payload, &tx));
        PayloadBody {
            inner: Inner::Stored(rx),
            left,
        }
    }
}

/// Reads the payload into the channel until it ends, fails, or the body is dropped. A payload
/// that ends before its recorded length is an error, never a silently short body.
fn read_into(payload: &StoredPayload, tx: &mpsc::Sender<io::Result<Bytes>>) {
    let mut reader = match payload.open() {
        Ok(reader) => reader,
        Err(e) => {
            let _ = tx.blocking_send(Err(io::Error::other(e)));
            return;
        }
    };
    let mut left = payload.len();
    while left > 0 {
        let want = CHUNK.min(usize::try_from(left).unwrap_or(CHUNK));
        let mut chunk = BytesMut::zeroed(want);
        let read = match fill(&mut reader, &mut chunk) {
            Ok(0) => Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                format!("the stored payload ends {left} bytes early"),
            )),
            Ok(n) => Ok(n),
            Err(e) => Err(e),
        };
        let n = match read {
            Ok(n) => n,
            Err(e) => {
                let _ = tx.blocking_send(Err(e));
                return;
            }
        };
        chunk.truncate(n);
        left -= n as u64;
        if tx.blocking_send(Ok(chunk.freeze())).is_err() {
            return; // the body was dropped: the peer went away
        }
    }
}

/// Reads until `buf` is full or the reader ends.
fn fill(reader: &mut dyn Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        match reader.read(&mut buf[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(filled)
}

impl Body for PayloadBody {
    type Data = Bytes;
    type Error = io::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, io::Error>>> {
        let this = &mut *self;
        let next = match &mut this.inner {
            Inner::Memory(bytes) => bytes.take().map(Ok),
            Inner::Stored(rx) => match rx.poll_recv(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(next) => next,
            },
        };
        Poll::Ready(next.map(|chunk| {
            chunk.map(|bytes| {
                this.left = this.left.saturating_sub(bytes.len() as u64);
                Frame::data(bytes)
            })
        }))
    }

    fn is_end_stream(&self) -> bool {
        self.left == 0
    }

    fn size_hint(&self) -> SizeHint {
        SizeHint::with_exact(self.left)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use berth_store::{PayloadSource, StoreError};
    use http_body_util::BodyExt;

    use super::*;

    /// A stored payload that claims more bytes than its reader gives.
    #[derive(Debug)]
    struct Short(Vec<u8>, u64);

    impl PayloadSource for Short {
        fn len(&self) -> u64 {
            self.1
        }
        fn open(&self) -> Result<Box<dyn Read + Send>, StoreError> {
            Ok(Box::new(io::Cursor::new(self.0.clone())))
        }
    }

    #[tokio::test]
    async fn a_stored_payload_streams_whole_in_chunks() {
        let bytes: Vec<u8> = (0..CHUNK * 3 + 17).map(|i| (i % 251) as u8).collect();
        let len = bytes.len() as u64;
        let body = PayloadBody::new(StoredPayload::stored(Arc::new(Short(bytes.clone(), len))));
        assert_eq!(body.size_hint().exact(), Some(len));
        let got = body.collect().await.unwrap().to_bytes();
        assert_eq!(&got[..], &bytes[..]);
    }

    #[tokio::test]
    async fn a_payload_shorter_than_its_length_fails_the_body() {
        let body = PayloadBody::new(StoredPayload::stored(Arc::new(Short(vec![1; 10], 20))));
        let Err(err) = body.collect().await else {
            panic!("a short payload is an error");
        };
        assert_eq!(err.kind(), io::ErrorKind::UnexpectedEof);
    }

    #[tokio::test]
    async fn a_payload_in_memory_is_one_frame() {
        let mut body = PayloadBody::new(StoredPayload::memory(Bytes::from_static(b"abc")));
        assert_eq!(body.size_hint().exact(), Some(3));
        let frame = body.frame().await.unwrap().unwrap();
        assert_eq!(frame.into_data().unwrap(), Bytes::from_static(b"abc"));
        assert!(body.is_end_stream());
        assert!(body.frame().await.is_none());
    }
}
