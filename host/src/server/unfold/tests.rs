//! The unfolding reader on whole connections' bytes, cut into reads every way: each fold
//! becomes one space in heads, bodies (fixed-length and chunked, with trailers) arrive untouched, and the
//! requests that follow on the connection are unfolded too.

use std::collections::VecDeque;
use std::pin::Pin;
use std::task::{Context, Poll, Waker};

use tokio::io::{AsyncRead, ReadBuf};

use super::{Report, Seen, Unfold};

/// A stream that hands out the given reads, as much of each as fits, with a `Pending` before
/// each one when `stall` is set.
struct Reads {
    reads: VecDeque<Vec<u8>>,
    stall: bool,
    stalled: bool,
}

impl AsyncRead for Reads {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        if self.stall && !self.stalled {
            self.stalled = true;
            cx.waker().wake_by_ref();
            return Poll::Pending;
        }
        self.stalled = false;
        if let Some(mut read) = self.reads.pop_front() {
            let n = read.len().min(buf.remaining());
            buf.put_slice(&read[..n]);
            if n < read.len() {
                self.reads.push_front(read.split_off(n));
            }
        }
        Poll::Ready(Ok(()))
    }
}

/// Everything the reader hands over for `reads`, with hyper's buffer size `room`.
fn run(reads: Vec<Vec<u8>>, room: usize, stall: bool) -> (Vec<u8>, Seen) {
    let report = Report::default();
    let inner = Reads {
        reads: reads.into(),
        stall,
        stalled: false,
    };
    let mut reader = Unfold::new(inner, report.clone(), true);
    let mut cx = Context::from_waker(Waker::noop());
    let mut out = Vec::new();
    let mut storage = vec![0u8; room];
    for _ in 0..1_000_000 {
        let mut buf = ReadBuf::new(&mut storage);
        match Pin::new(&mut reader).poll_read(&mut cx, &mut buf) {
            Poll::Ready(Ok(())) if buf.filled().is_empty() => return (out, report.seen()),
            Poll::Ready(Ok(())) => out.extend_from_slice(buf.filled()),
            Poll::Ready(Err(e)) => panic!("{e}"),
            Poll::Pending => {}
        }
    }
    panic!("the reader never reached the end of the stream");
}

/// Assert that `input` comes out as `expected` however it is cut into reads.
fn assert_unfolds(input: &[u8], expected: &[u8], folds: usize) {
    let mut cuts: Vec<Vec<Vec<u8>>> = vec![
        vec![input.to_vec()],
        input.iter().map(|b| vec![*b]).collect(),
    ];
    for at in 1..input.len() {
        cuts.push(vec![input[..at].to_vec(), input[at..].to_vec()]);
    }
    // Pseudo-random read sizes of 1 to 7 bytes, the same on every run.
    let mut seed = 7u32;
    for _ in 0..20 {
        let mut reads = Vec::new();
        let mut rest = input;
        while !rest.is_empty() {
            seed = seed.wrapping_mul(1_103_515_245).wrapping_add(12_345);
            let n = ((seed >> 16) as usize % 7 + 1).min(rest.len());
            reads.push(rest[..n].to_vec());
            rest = &rest[n..];
        }
        cuts.push(reads);
    }
    for (i, reads) in cuts.into_iter().enumerate() {
        let (out, seen) = run(reads, 8192, i % 3 == 1);
        assert_eq!(
            String::from_utf8_lossy(&out),
            String::from_utf8_lossy(expected),
            "cut {i}"
        );
        assert_eq!(seen.folds, folds, "cut {i}");
        assert_eq!(seen.refused, None, "cut {i}");
    }
}

#[test]
fn folds_in_heads_become_spaces_and_bodies_stay_as_they_are() {
    let input = b"POST /as2 HTTP/1.1\r\nHost: x\r\nSubject: a long\r\n subject\r\n\
        Disposition-Notification-Options: signed-receipt-protocol=optional, pkcs7-signature;\r\n\
        \tsigned-receipt-micalg=optional, sha256\r\nContent-Length: 12\r\n\r\nab\r\n cd\r\n\tef";
    let expected = b"POST /as2 HTTP/1.1\r\nHost: x\r\nSubject: a long subject\r\n\
        Disposition-Notification-Options: signed-receipt-protocol=optional, pkcs7-signature; \
        signed-receipt-micalg=optional, sha256\r\nContent-Length: 12\r\n\r\nab\r\n cd\r\n\tef";
    assert_unfolds(input, expected, 2);
}

#[test]
fn the_requests_after_a_body_are_unfolded_and_chunked_bodies_are_followed() {
    let mut input = Vec::new();
    let mut expected = Vec::new();
    let mut both = |i: &[u8], e: &[u8]| {
        input.extend_from_slice(i);
        expected.extend_from_slice(e);
    };
    // Several folds in one field, a fold of several whitespace bytes, a fold right after the
    // colon, and the field after a fold intact.
    both(
        b"POST /a HTTP/1.1\r\nX-Many: one\r\n two\r\n\t three\r\nX-Empty:\r\n value\r\n",
        b"POST /a HTTP/1.1\r\nX-Many: one two three\r\nX-Empty: value\r\n",
    );
    both(
        b"content-LENGTH: 5\r\n\r\n\r\n x ",
        b"content-LENGTH: 5\r\n\r\n\r\n x ",
    );
    // A chunked body with line ends and whitespace in its data, extensions and trailers.
    both(
        b"POST /b HTTP/1.1\r\nTransfer-Encoding: gzip, Chunked \r\nX-A: 1\r\n 2\r\n\r\n",
        b"POST /b HTTP/1.1\r\nTransfer-Encoding: gzip, Chunked \r\nX-A: 1 2\r\n\r\n",
    );
    let body = b"5\r\n\r\n x \r\n3;ext=\"a b\"\r\n\r\n\t\r\n9 \r\n\r\n\r\n \r\n\t \r\n0\r\nTrailer: t\r\n v\r\n\r\n";
    both(body, body);
    // A pipelined request without a body, after empty lines (skipped, as httparse does).
    both(
        b"\r\n\nGET /c HTTP/1.1\r\nX-B: p\r\n\tq\r\n\r\n",
        b"\r\n\nGET /c HTTP/1.1\r\nX-B: p q\r\n\r\n",
    );
    // LF alone ends lines too; a fold in Content-Length still frames the body.
    both(
        b"POST /d HTTP/1.1\nA: b\n c\nContent-Length:\n 3\n\n\n\t\n",
        b"POST /d HTTP/1.1\nA: b c\nContent-Length: 3\n\n\n\t\n",
    );
    // Equal lengths twice are one length; Transfer-Encoding wins over Content-Length.
    both(
        b"POST /e HTTP/1.1\r\nContent-Length: 2\r\nContent-Length: 2 \t\r\n\r\n\n ",
        b"POST /e HTTP/1.1\r\nContent-Length: 2\r\nContent-Length: 2 \t\r\n\r\n\n ",
    );
    both(
        b"POST /f HTTP/1.1\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n1\r\n \r\n0\r\n\r\n",
        b"POST /f HTTP/1.1\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n1\r\n \r\n0\r\n\r\n",
    );
    both(
        b"GET /g HTTP/1.1\r\nX-Last: a\r\n b\r\n\r\n",
        b"GET /g HTTP/1.1\r\nX-Last: a b\r\n\r\n",
    );
    assert_unfolds(&input, &expected, 8);
}

/// What hyper refuses is left for hyper to refuse, with the reason noted, and nothing after it
/// on that connection is rewritten.
#[test]
fn heads_hyper_refuses_are_left_alone_with_the_reason() {
    let cases: [(&[u8], &str); 6] = [
        (
            b"POST / HTTP/1.1\r\n X: y\r\nA: 1\r\n 2\r\n\r\n",
            "a line starting with whitespace right after the request line",
        ),
        (
            b"POST / HTTP/1.1\r\nno colon here\r\nA: 1\r\n 2\r\n\r\n",
            "a header line without a colon",
        ),
        (
            b"POST / HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\nab\r\n c\r\n",
            "a Transfer-Encoding that does not end in chunked",
        ),
        (
            b"POST / HTTP/1.1\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\nab\r\n c\r\n",
            "an invalid Content-Length",
        ),
        (
            b"POST / HTTP/1.1\r\nContent-Length: 1\r\n 2\r\n\r\nab\r\n c\r\n",
            "an invalid Content-Length",
        ),
        (
            b"POST / HTTP/1.1\r\nA: 1\rB: 2\r\n\r\n",
            "a CR without LF in a header line",
        ),
    ];
    for (input, reason) in cases {
        let (out, seen) = run(vec![input.to_vec()], 8192, false);
        let text = String::from_utf8_lossy(input);
        assert_eq!(seen.refused, Some(reason), "{text}");
        // Only folds before the point of refusal may have been rewritten.
        if seen.folds == 0 {
            assert_eq!(out, input, "{text}");
        }
    }
}

#[test]
fn a_fold_whose_line_end_was_already_handed_over_is_left_for_hyper_to_refuse() {
    // With room for one byte per read, a line end cannot wait for the byte after it.
    let input = b"POST / HTTP/1.1\r\nA: b\r\n c\r\n\r\n";
    let (out, seen) = run(vec![input.to_vec()], 1, false);
    assert_eq!(out, input);
    assert_eq!(seen.folds, 0);
    assert!(seen.refused.is_some());
}

/// The scanner's reading of framing agrees with hyper's: hyper, reading through the unfolding
/// reader, gets every pipelined request with its fields unfolded and its body byte for byte.
#[tokio::test]
async fn hyper_reads_unfolded_fields_and_untouched_bodies_through_it() {
    use http_body_util::BodyExt;
    use hyper::service::service_fn;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    let (client, server) = tokio::io::duplex(64);
    let (seen_tx, mut seen_rx) = tokio::sync::mpsc::unbounded_channel();
    let service = service_fn(move |request: http::Request<hyper::body::Incoming>| {
        let seen_tx = seen_tx.clone();
        async move {
            let folded = request.headers().get("x-folded").cloned();
            let body = request.into_body().collect().await?.to_bytes();
            let _ = seen_tx.send((folded, body));
            Ok::<_, hyper::Error>(http::Response::new(
                http_body_util::Empty::<bytes::Bytes>::new(),
            ))
        }
    });
    let io = hyper_util::rt::TokioIo::new(Unfold::new(server, Report::default(), true));
    let connection =
        tokio::spawn(hyper::server::conn::http1::Builder::new().serve_connection(io, service));
    let requests: &[u8] = b"POST /1 HTTP/1.1\r\nHost: x\r\nX-Folded: a\r\n\tb\r\n  c\r\n\
        Content-Length: 9\r\n\r\nx\r\n y\r\n\tz\
        POST /2 HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nX-Folded:\r\n d\r\n\r\n\
        3\r\n\r\n \r\n0\r\n\r\n\
        POST /3 HTTP/1.1\r\nHost: x\r\nX-Folded: e\r\n f\r\nContent-Length: 2\r\n\
        Connection: close\r\n\r\n\r\n";
    // Written in small pieces while the answers are read, as a partner's stack would.
    let (mut reading, mut writing) = tokio::io::split(client);
    let writer = tokio::spawn(async move {
        for piece in requests.chunks(5) {
            writing.write_all(piece).await.unwrap();
        }
        writing
    });
    let mut answers = Vec::new();
    let read = reading.read_to_end(&mut answers);
    tokio::time::timeout(std::time::Duration::from_secs(10), read)
        .await
        .expect("hyper answered within 10 s")
        .unwrap();
    drop(writer.await.unwrap());
    connection.await.unwrap().unwrap();
    assert_eq!(
        String::from_utf8_lossy(&answers)
            .matches("HTTP/1.1 200")
            .count(),
        3
    );
    let expected: [(&str, &[u8]); 3] = [
        ("a b c", b"x\r\n y\r\n\tz"),
        ("d", b"\r\n "),
        ("e f", b"\r\n"),
    ];
    for (folded, body) in expected {
        let (got_folded, got_body) = seen_rx.recv().await.unwrap();
        assert_eq!(got_folded.unwrap(), folded);
        assert_eq!(&got_body[..], body);
    }
}

/// A listener whose connector did not ask for unfolding gets the bytes as sent: hyper then
/// refuses a folded head itself.
#[tokio::test]
async fn a_reader_that_does_not_unfold_passes_every_byte_through() {
    let sent: &[u8] = b"POST / HTTP/1.1\r\nSubject: a\r\n folded\r\nContent-Length: 0\r\n\r\n";
    let (mut client, server) = tokio::io::duplex(1024);
    tokio::io::AsyncWriteExt::write_all(&mut client, sent)
        .await
        .unwrap();
    drop(client);
    let report = Report::default();
    let mut reader = Unfold::new(server, report.clone(), false);
    let mut got = Vec::new();
    tokio::io::AsyncReadExt::read_to_end(&mut reader, &mut got)
        .await
        .unwrap();
    assert_eq!(got, sent);
    assert_eq!(report.seen().folds, 0);
}
