//! Answering before a request's body is read, without losing the answer:
//! the request body kept until the response is sent (HTTP/2), and a
//! lingering close of the socket (HTTP/1.1). See the module above.

use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::Request;
use axum::response::Response;
use hyper::body::{Body as _, Frame, Incoming, SizeHint};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tower::ServiceExt;

/// How long a closing connection keeps reading what the client still
/// sends, at most.
const LINGER_TOTAL: Duration = Duration::from_secs(10);
/// How much of an unread request body is read and dropped before an early
/// answer goes out over HTTP/2 (the API's bodies are far smaller).
const DRAIN_MAX: usize = 64 * 1024 * 1024;
/// How long it waits for the client's next bytes before closing anyway.
const LINGER_IDLE: Duration = Duration::from_secs(2);

/// The request body, shared by the handler (which reads it, or not) and the
/// response (which keeps it until it has been sent).
type Shared = Arc<Mutex<Incoming>>;

/// Runs `router` on `req` with the request body kept alive until the
/// response body has been sent in full (HTTP/2 only; see the module docs).
pub async fn hold_request_body(
    router: Router,
    req: Request<Incoming>,
) -> Result<Response, std::convert::Infallible> {
    if req.version() != axum::http::Version::HTTP_2 {
        return router.oneshot(req.map(Body::new)).await;
    }
    let (parts, incoming) = req.into_parts();
    let shared: Shared = Arc::new(Mutex::new(incoming));
    let req = Request::from_parts(parts, Body::new(SharedBody(Arc::clone(&shared))));
    let response = router.oneshot(req).await?;
    drain(&shared).await;
    Ok(response.map(|body| {
        Body::new(KeepRequest {
            body,
            _request: shared,
        })
    }))
}

/// Reads and drops what is left of the request body, for at most
/// [`LINGER_TOTAL`] and [`DRAIN_MAX`] bytes, before the answer goes out.
///
/// RFC 9113 lets a server answer first and then reset the stream with
/// NO_ERROR, but clients still sending when the reset comes lose the
/// answer: curl 7.88 fails with error 92 whether the code is CANCEL or
/// NO_ERROR. Once the body is read there is nothing to reset. A client that
/// sends more than the budget still gets the answer, then NO_ERROR.
async fn drain(shared: &Shared) {
    let mut left = DRAIN_MAX;
    let read = async {
        loop {
            let frame = std::future::poll_fn(|cx| {
                let mut incoming = shared.lock().unwrap_or_else(PoisonError::into_inner);
                if incoming.is_end_stream() {
                    return Poll::Ready(None);
                }
                Pin::new(&mut *incoming).poll_frame(cx)
            })
            .await;
            match frame {
                Some(Ok(frame)) => {
                    let len = frame.data_ref().map_or(0, Bytes::len);
                    match left.checked_sub(len) {
                        Some(rest) => left = rest,
                        None => return,
                    }
                }
                None | Some(Err(_)) => return,
            }
        }
    };
    let _ = tokio::time::timeout(LINGER_TOTAL, read).await;
}

/// The handler's view of the shared request body.
struct SharedBody(Shared);

impl hyper::body::Body for SharedBody {
    type Data = Bytes;
    type Error = hyper::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, hyper::Error>>> {
        // Only the handler polls; the lock is never contended. A poisoned
        // lock means a handler panicked while reading, and the body is
        // still a body.
        let mut incoming = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        Pin::new(&mut *incoming).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .size_hint()
    }
}

/// A response body that holds the request body until it is dropped, which
/// hyper does once the response's last frame is out.
struct KeepRequest {
    body: Body,
    _request: Shared,
}

impl hyper::body::Body for KeepRequest {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        Pin::new(&mut self.body).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}

/// A TCP stream whose shutdown is a lingering close: after the FIN, it
/// reads and drops what the peer still sends until the peer closes, it is
/// idle for [`LINGER_IDLE`], or [`LINGER_TOTAL`] has passed. Closing a
/// socket with unread bytes makes the kernel send RST, and a peer that
/// receives RST may discard the answer it has not read yet.
pub struct Lingering {
    tcp: tokio::net::TcpStream,
    linger: Option<Linger>,
}

struct Linger {
    deadline: Pin<Box<tokio::time::Sleep>>,
    idle: Pin<Box<tokio::time::Sleep>>,
}

impl Lingering {
    /// Wraps an accepted connection.
    pub fn new(tcp: tokio::net::TcpStream) -> Self {
        Self { tcp, linger: None }
    }
}

impl AsyncRead for Lingering {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.tcp).poll_read(cx, buf)
    }
}

impl AsyncWrite for Lingering {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.tcp).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.tcp).poll_flush(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.tcp).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.tcp.is_write_vectored()
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = &mut *self;
        if this.linger.is_none() {
            // Our FIN first: everything written is on its way.
            std::task::ready!(Pin::new(&mut this.tcp).poll_shutdown(cx))?;
            this.linger = Some(Linger {
                deadline: Box::pin(tokio::time::sleep(LINGER_TOTAL)),
                idle: Box::pin(tokio::time::sleep(LINGER_IDLE)),
            });
        }
        let Some(linger) = this.linger.as_mut() else {
            return Poll::Ready(Ok(()));
        };
        let mut scratch = [0u8; 16 * 1024];
        loop {
            if linger.deadline.as_mut().poll(cx).is_ready()
                || linger.idle.as_mut().poll(cx).is_ready()
            {
                return Poll::Ready(Ok(()));
            }
            let mut buf = ReadBuf::new(&mut scratch);
            match Pin::new(&mut this.tcp).poll_read(cx, &mut buf) {
                // The peer closed, or the connection broke: done either way.
                Poll::Ready(Ok(())) if buf.filled().is_empty() => return Poll::Ready(Ok(())),
                Poll::Ready(Err(_)) => return Poll::Ready(Ok(())),
                Poll::Ready(Ok(())) => {
                    let next = tokio::time::Instant::now() + LINGER_IDLE;
                    linger.idle.as_mut().reset(next);
                }
                Poll::Pending => return Poll::Pending,
            }
        }
    }
}
