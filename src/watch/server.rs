//! `recon watch --listen`: a read-only HTTP/1.1 server (hyper) on the watch's runtime.
//! `GET /metrics` is the last run's metrics, `GET /healthz` the watch's health as JSON, `GET /`
//! and `GET /report` the latest HTML report; any other path is 404 and any other method 405.
//! Reading the report file happens on a blocking thread, never on the runtime's workers.
//!
//! The server is bounded: at most [`Limits::connections`] connections at once, the request head
//! within [`Limits::header_read`], a connection closed after [`Limits::connection`]. On a
//! loopback address it answers only requests whose `Host` is an IP address or `localhost`, so
//! a web page cannot read it through a DNS name rebound to 127.0.0.1.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::header::HeaderValue;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};

use super::WatchState;
use crate::error::{Error, Result};

/// How much the server takes on.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Connections served at once; more wait to be accepted.
    pub connections: usize,
    /// The time a client has to send a request's head.
    pub header_read: Duration,
    /// The time a connection may stay open, however busy.
    pub connection: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            connections: 64,
            header_read: Duration::from_secs(10),
            connection: Duration::from_secs(30),
        }
    }
}

/// Binds `addr` and serves `state` on `rt` until the runtime is dropped, within the default
/// [`Limits`]. Returns the address bound (the port chosen when `addr` asks for port 0).
pub fn serve(
    rt: &tokio::runtime::Runtime,
    addr: SocketAddr,
    state: WatchState,
) -> Result<SocketAddr> {
    serve_within(rt, addr, state, Limits::default())
}

/// [`serve`] within `limits`.
pub fn serve_within(
    rt: &tokio::runtime::Runtime,
    addr: SocketAddr,
    state: WatchState,
    limits: Limits,
) -> Result<SocketAddr> {
    let failed = |e: std::io::Error| Error::Invalid(format!("listening on {addr}: {e}"));
    let listener = rt
        .block_on(tokio::net::TcpListener::bind(addr))
        .map_err(failed)?;
    let bound = listener.local_addr().map_err(failed)?;
    let permits = Arc::new(tokio::sync::Semaphore::new(limits.connections.max(1)));
    let loopback = bound.ip().is_loopback();
    rt.spawn(async move {
        loop {
            let Ok(permit) = permits.clone().acquire_owned().await else {
                return;
            };
            let Ok((stream, _)) = listener.accept().await else {
                // Out of file descriptors, or the like: try again a little later rather than
                // spin.
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            };
            let state = state.clone();
            tokio::spawn(async move {
                let service =
                    hyper::service::service_fn(move |req| answer(req, state.clone(), loopback));
                let connection = hyper::server::conn::http1::Builder::new()
                    .timer(TokioTimer::new())
                    .header_read_timeout(limits.header_read)
                    .serve_connection(TokioIo::new(stream), service);
                // A client that goes away mid-request, or stays too long, is its own business.
                let _ = tokio::time::timeout(limits.connection, connection).await;
                drop(permit);
            });
        }
    });
    Ok(bound)
}

/// Whether a request's `Host` may be answered: on a loopback address only an IP address or
/// `localhost` (with any port), which no rebound DNS name is; anywhere else any.
fn host_allowed(host: Option<&HeaderValue>, loopback: bool) -> bool {
    if !loopback {
        return true;
    }
    // A browser always sends one; a client without one is not a web page.
    let Some(host) = host else {
        return true;
    };
    let Ok(host) = host.to_str() else {
        return false;
    };
    let name = if let Some(rest) = host.strip_prefix('[') {
        // `[::1]:9187`
        match rest.split_once(']') {
            Some((ip, port)) if port.is_empty() || port.starts_with(':') => {
                return ip.parse::<std::net::Ipv6Addr>().is_ok();
            }
            _ => return false,
        }
    } else {
        host.rsplit_once(':').map_or(host, |(name, _)| name)
    };
    name.eq_ignore_ascii_case("localhost") || name.parse::<std::net::Ipv4Addr>().is_ok()
}

type Answer = Response<Full<Bytes>>;

async fn answer(
    req: Request<Incoming>,
    state: WatchState,
    loopback: bool,
) -> std::result::Result<Answer, Infallible> {
    let mut response = route(req, state, loopback).await;
    let headers = response.headers_mut();
    headers.insert(
        "x-content-type-options",
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        "content-security-policy",
        HeaderValue::from_static(
            "default-src 'none'; style-src 'unsafe-inline'; img-src data:; base-uri 'none'; \
             form-action 'none'; frame-ancestors 'none'",
        ),
    );
    Ok(response)
}

async fn route(req: Request<Incoming>, state: WatchState, loopback: bool) -> Answer {
    if !host_allowed(req.headers().get(hyper::header::HOST), loopback) {
        return plain(
            StatusCode::MISDIRECTED_REQUEST,
            "this server answers only to an IP address or localhost\n",
        );
    }
    let path = req.uri().path();
    let known = matches!(path, "/" | "/report" | "/metrics" | "/healthz");
    if !known {
        return plain(StatusCode::NOT_FOUND, "not found\n");
    }
    if req.method() != Method::GET && req.method() != Method::HEAD {
        let mut r = plain(StatusCode::METHOD_NOT_ALLOWED, "only GET\n");
        r.headers_mut().insert(
            hyper::header::ALLOW,
            hyper::header::HeaderValue::from_static("GET, HEAD"),
        );
        return r;
    }
    let snapshot = state.get();
    match path {
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
    }
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

#[cfg(test)]
mod tests {
    use std::io::{Read, Write};
    use std::net::TcpStream;
    use std::time::Instant;

    use super::*;

    fn server(limits: Limits) -> (tokio::runtime::Runtime, SocketAddr) {
        let rt = super::super::runtime().expect("runtime");
        let addr = serve_within(
            &rt,
            "127.0.0.1:0".parse().expect("addr"),
            WatchState::default(),
            limits,
        )
        .expect("serve");
        (rt, addr)
    }

    /// Sends `request` and reads until the server closes; the answer's head and how long it took.
    fn ask(addr: SocketAddr, request: &str, wait: Duration) -> (String, Duration) {
        let start = Instant::now();
        let mut stream = TcpStream::connect(addr).expect("connect");
        stream.set_read_timeout(Some(wait)).expect("timeout");
        stream.write_all(request.as_bytes()).expect("write");
        let mut raw = Vec::new();
        let _ = stream.read_to_end(&mut raw);
        let text = String::from_utf8_lossy(&raw).into_owned();
        let head = text.split("\r\n\r\n").next().unwrap_or_default().to_owned();
        (head, start.elapsed())
    }

    fn get(path: &str, host: &str) -> String {
        format!("GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n")
    }

    #[test]
    fn only_ip_addresses_and_localhost_are_answered_on_loopback() {
        let (_rt, addr) = server(Limits::default());
        let port = addr.port();
        for host in ["rebound.example.com", &format!("attacker.test:{port}")] {
            let (head, _) = ask(addr, &get("/report", host), Duration::from_secs(5));
            assert!(head.starts_with("HTTP/1.1 421"), "{host}: {head}");
        }
        for host in [
            format!("127.0.0.1:{port}"),
            format!("localhost:{port}"),
            "LOCALHOST".to_owned(),
            format!("[::1]:{port}"),
        ] {
            let (head, _) = ask(addr, &get("/healthz", &host), Duration::from_secs(5));
            assert!(head.starts_with("HTTP/1.1 503"), "{host}: {head}");
            let head = head.to_ascii_lowercase();
            assert!(head.contains("x-content-type-options: nosniff"), "{head}");
            assert!(
                head.contains("content-security-policy: default-src 'none'"),
                "{head}"
            );
        }
        assert!(host_allowed(None, true));
        assert!(host_allowed(
            Some(&HeaderValue::from_static("name.example")),
            false
        ));
        for bad in [
            "[::1",
            "[nope]:1",
            "127.0.0.1.nip.io:80",
            "localhost.evil:80",
        ] {
            assert!(
                !host_allowed(Some(&HeaderValue::from_static(bad)), true),
                "{bad}"
            );
        }
    }

    #[test]
    fn a_client_that_never_finishes_its_request_is_dropped() {
        let (_rt, addr) = server(Limits {
            header_read: Duration::from_millis(300),
            connection: Duration::from_mins(1),
            ..Limits::default()
        });
        let (_, took) = ask(
            addr,
            "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n",
            Duration::from_secs(10),
        );
        assert!(took < Duration::from_secs(5), "held for {took:?}");
    }

    #[test]
    fn connections_past_the_limit_wait_for_one_to_close() {
        let (_rt, addr) = server(Limits {
            connections: 1,
            ..Limits::default()
        });
        let idle = TcpStream::connect(addr).expect("connect");
        let mut waiting = TcpStream::connect(addr).expect("connect");
        waiting
            .write_all(get("/healthz", "127.0.0.1").as_bytes())
            .expect("write");
        waiting
            .set_read_timeout(Some(Duration::from_millis(500)))
            .expect("timeout");
        let mut first = [0_u8; 1];
        assert!(waiting.read(&mut first).is_err(), "answered past the limit");
        drop(idle);
        waiting
            .set_read_timeout(Some(Duration::from_secs(10)))
            .expect("timeout");
        let mut raw = Vec::new();
        let _ = waiting.read_to_end(&mut raw);
        assert!(String::from_utf8_lossy(&raw).starts_with("HTTP/1.1 503"));
    }
}
