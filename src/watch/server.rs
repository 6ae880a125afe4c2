//! `recon watch --listen`: a read-only HTTP/1.1 server (hyper) on the watch's runtime.
//! `GET /metrics` is the last run's metrics, `GET /healthz` the watch's health as JSON, `GET /`
//! and `GET /report` the latest HTML report; any other path is 404 and any other method 405.
//! Reading the report file happens on a blocking thread, never on the runtime's workers.

use std::convert::Infallible;
use std::net::SocketAddr;

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;

use super::WatchState;
use crate::error::{Error, Result};

/// Binds `addr` and serves `state` on `rt` until the runtime is dropped. Returns the address
/// bound (the port chosen when `addr` asks for port 0).
pub fn serve(
    rt: &tokio::runtime::Runtime,
    addr: SocketAddr,
    state: WatchState,
) -> Result<SocketAddr> {
    let listener = rt
        .block_on(tokio::net::TcpListener::bind(addr))
        .map_err(|e| Error::Invalid(format!("--listen {addr}: {e}")))?;
    let bound = listener
        .local_addr()
        .map_err(|e| Error::Invalid(format!("--listen {addr}: {e}")))?;
    rt.spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            let state = state.clone();
            tokio::spawn(async move {
                let service = hyper::service::service_fn(move |req| answer(req, state.clone()));
                // A client that goes away mid-request is its own business.
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    Ok(bound)
}

type Answer = Response<Full<Bytes>>;

async fn answer(
    req: Request<Incoming>,
    state: WatchState,
) -> std::result::Result<Answer, Infallible> {
    let path = req.uri().path();
    let known = matches!(path, "/" | "/report" | "/metrics" | "/healthz");
    if !known {
        return Ok(plain(StatusCode::NOT_FOUND, "not found\n"));
    }
    if req.method() != Method::GET && req.method() != Method::HEAD {
        let mut r = plain(StatusCode::METHOD_NOT_ALLOWED, "only GET\n");
        r.headers_mut().insert(
            hyper::header::ALLOW,
            hyper::header::HeaderValue::from_static("GET, HEAD"),
        );
        return Ok(r);
    }
    let snapshot = state.get();
    Ok(match path {
        "/metrics" => match snapshot.metrics {
            Some(text) => with_type(
                StatusCode::OK,
                "text/plain; version=0.0.4; charset=utf-8",
                text,
            ),
            None => plain(
                StatusCode::SERVICE_UNAVAILABLE,
                "no run has completed yet\n",
            ),
        },
        "/healthz" => {
            let status = if snapshot.healthy(chrono::Utc::now()) {
                StatusCode::OK
            } else {
                StatusCode::SERVICE_UNAVAILABLE
            };
            with_type(status, "application/json", snapshot.health_json())
        }
        _ => match snapshot.report_html {
            Some(path) => {
                let read = tokio::task::spawn_blocking(move || std::fs::read(path)).await;
                match read {
                    Ok(Ok(bytes)) => with_type(StatusCode::OK, "text/html; charset=utf-8", bytes),
                    _ => plain(
                        StatusCode::SERVICE_UNAVAILABLE,
                        "the latest report cannot be read\n",
                    ),
                }
            }
            None => plain(StatusCode::SERVICE_UNAVAILABLE, "no report yet\n"),
        },
    })
}

fn plain(status: StatusCode, text: &'static str) -> Answer {
    with_type(status, "text/plain; charset=utf-8", text)
}

fn with_type(status: StatusCode, content_type: &'static str, body: impl Into<Bytes>) -> Answer {
    let mut r = Response::new(Full::new(body.into()));
    *r.status_mut() = status;
    r.headers_mut().insert(
        hyper::header::CONTENT_TYPE,
        hyper::header::HeaderValue::from_static(content_type),
    );
    r
}
