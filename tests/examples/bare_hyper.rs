//! The benchmark's baseline: a bare hyper 1 server that answers every request with the same
//! bytes the benchmark's berth process returns. `bare_hyper PORT`.

use std::convert::Infallible;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;

#[tokio::main]
async fn main() {
    let port: u16 = std::env::args()
        .nth(1)
        .and_then(|p| p.parse().ok())
        .expect("usage: bare_hyper PORT");
    let listener = TcpListener::bind(("127.0.0.1", port)).await.expect("bind");
    println!("listening on {port}");
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            continue;
        };
        let _ = stream.set_nodelay(true);
        tokio::spawn(async move {
            let service = service_fn(|request: http::Request<hyper::body::Incoming>| async move {
                // Read the body as berth does, so the two do the same work per request.
                let _ = request.into_body().collect().await;
                Ok::<_, Infallible>(http::Response::new(Full::new(Bytes::from_static(b"OK"))))
            });
            let _ = http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}
