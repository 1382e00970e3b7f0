//! How a failure travels through the chain of readers: every layer reads its input through
//! `std::io::Read`, so a layer's failure is an `io::Error` carrying a [`Fail`], and the layer
//! that catches it can tell whose it is (see [`Fail::outermost`]).

use std::io;

use crate::cms::CmsError;
use crate::disposition::ProcessingError;

/// Why a pass stopped.
#[derive(Debug, Clone)]
pub(crate) enum Fail {
    /// Reading the spooled body or writing the payload failed: not the sender's fault.
    Local(String),
    /// This pass lacked a digest that a signature needs; another pass computes it.
    Retry,
    /// A structure the streaming decryptor does not handle (found before any plaintext):
    /// the message takes the in-memory path.
    Fallback,
    /// A layer refused the message. `id` numbers the layers from the outside in: when
    /// several fail, the outermost one speaks, as in the in-memory path, which never
    /// reaches an inner layer when an outer one fails.
    Layer {
        id: usize,
        error: ProcessingError,
        detail: String,
        cms: Option<CmsError>,
    },
}

impl Fail {
    pub(crate) fn layer(id: usize, error: ProcessingError, detail: impl Into<String>) -> Fail {
        Fail::Layer {
            id,
            error,
            detail: detail.into(),
            cms: None,
        }
    }

    pub(crate) fn cms(id: usize, error: ProcessingError, e: CmsError) -> Fail {
        Fail::Layer {
            id,
            error,
            detail: e.to_string(),
            cms: Some(e),
        }
    }

    /// Local failures and retries first, then the outermost layer's.
    fn rank(&self) -> usize {
        match self {
            Fail::Local(_) | Fail::Fallback => 0,
            Fail::Retry => 1,
            Fail::Layer { id, .. } => id.saturating_add(2),
        }
    }

    /// The failure that decides the outcome among several.
    pub(crate) fn outermost(
        results: impl IntoIterator<Item = Result<(), Fail>>,
    ) -> Result<(), Fail> {
        results
            .into_iter()
            .filter_map(Result::err)
            .min_by_key(Fail::rank)
            .map_or(Ok(()), Err)
    }

    /// Whether the failure is layer `id`'s own.
    pub(crate) fn is_of(&self, id: usize) -> bool {
        matches!(self, Fail::Layer { id: own, .. } if *own == id)
    }

    pub(crate) fn into_io(self) -> io::Error {
        io::Error::other(FailIo(self))
    }

    /// The [`Fail`] an `io::Error` carries, if it carries one.
    pub(crate) fn carried(e: &io::Error) -> Option<Fail> {
        e.get_ref()
            .and_then(|inner| inner.downcast_ref::<FailIo>())
            .map(|FailIo(fail)| fail.clone())
    }

    /// The [`Fail`] an `io::Error` carries, else what `own` makes of it (the error arose
    /// in the layer that reads, e.g. bad base64 or a corrupt zlib stream).
    pub(crate) fn from_io(e: io::Error, own: impl FnOnce(io::Error) -> Fail) -> Fail {
        match e.get_ref().and_then(|inner| inner.downcast_ref::<FailIo>()) {
            Some(FailIo(fail)) => fail.clone(),
            None => own(e),
        }
    }
}

#[derive(Debug, thiserror::Error)]
#[error("{0:?}")]
struct FailIo(Fail);

/// The spooled body: its read errors become local failures, so no layer mistakes them for
/// a fault of the message.
pub(crate) struct Spool<R>(pub R);

impl<R: io::Read> io::Read for Spool<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.0.read(buf).map_err(|e| {
            if e.kind() == io::ErrorKind::Interrupted {
                return e;
            }
            Fail::Local(format!("reading the spooled message failed: {e}")).into_io()
        })
    }
}

/// Reads `r` to its end, so that the layers it reads from finish their checks.
pub(crate) fn drain(r: &mut dyn io::Read, own: impl Fn(io::Error) -> Fail) -> Result<(), Fail> {
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        match r.read(&mut buf) {
            Ok(0) => return Ok(()),
            Ok(_) => {}
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(Fail::from_io(e, own)),
        }
    }
}

/// A layer's reader whose own errors (a bad tag, corrupt zlib, a failed signature) are turned
/// into that layer's [`Fail`] before the entity inside sees them: inner code then tells a
/// failure around it from a fault of its own (e.g. bad base64 in the payload).
pub(crate) struct Owned<R, F> {
    pub inner: R,
    pub own: F,
}

impl<R: io::Read, F: Fn(io::Error) -> Fail> io::Read for Owned<R, F> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.inner.read(buf).map_err(|e| {
            if e.kind() == io::ErrorKind::Interrupted {
                return e;
            }
            Fail::from_io(e, &self.own).into_io()
        })
    }
}
