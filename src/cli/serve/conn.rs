//! Connections: the server's own accept loop over hyper's HTTP/1 connection, so that
//! a client cannot hold the server with silence. At most `max_connections` are open
//! (more wait in the listen queue); each is watched:
//!
//! - between requests (keep-alive, or before the first), a connection silent for
//!   `idle_timeout` is closed, after one second when every connection slot is taken;
//! - once a request's first byte arrived, its head must be complete within
//!   `header_timeout` (hyper's own header timeout backs this up);
//! - while a request runs, its handler limits the upload's silences (408) and the
//!   request's time; after its answer is handed over, a client that stops reading it
//!   is disconnected after `idle_timeout`.
//!
//! A client that goes away mid-request drops its handler (hyper notices the closed
//! connection), which cancels the comparison. On shutdown, idle connections close at
//! once and requests in flight are answered first.

use axum::body::Body;
use axum::Router;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{watch, OwnedSemaphorePermit, Semaphore};
use tower::ServiceExt as _;

/// When every connection slot is taken, idle connections are closed after this.
const PRESSED_IDLE: Duration = Duration::from_secs(1);
/// A connection's state is looked at least this often.
const TICK: Duration = Duration::from_millis(250);

/// What the connection loop needs to know.
#[derive(Debug, Clone, Copy)]
pub struct Timeouts {
    pub header: Duration,
    pub idle: Duration,
    /// The longest a request may run (for the wait at shutdown).
    pub request: Duration,
}

/// Accepts connections until `shutdown` resolves, then lets requests in flight finish
/// (at most the request time limit and the idle timeout) and returns.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    max_connections: usize,
    timeouts: Timeouts,
    shutdown: impl Future<Output = ()>,
) {
    let slots = Arc::new(Semaphore::new(max_connections.max(1)));
    let (stop_tx, stop_rx) = watch::channel(false);
    let mut open = tokio::task::JoinSet::new();
    tokio::pin!(shutdown);
    loop {
        while open.try_join_next().is_some() {}
        let permit = tokio::select! {
            biased;
            () = &mut shutdown => break,
            p = Arc::clone(&slots).acquire_owned() => p.expect("the semaphore is never closed"),
        };
        let stream = tokio::select! {
            biased;
            () = &mut shutdown => break,
            r = listener.accept() => match r {
                Ok((s, _)) => s,
                // Out of file descriptors and the like: back off, the queue waits.
                Err(_) => {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        let _ = stream.set_nodelay(true);
        open.spawn(connection(
            stream,
            app.clone(),
            timeouts,
            Arc::clone(&slots),
            stop_rx.clone(),
            permit,
        ));
    }
    drop(listener);
    let _ = stop_tx.send(true);
    let grace = timeouts.request + timeouts.idle + Duration::from_secs(5);
    let _ = tokio::time::timeout(grace, async { while open.join_next().await.is_some() {} }).await;
}

/// Milliseconds since the process's first connection (0 is "never").
fn now_ms() -> u64 {
    static EPOCH: OnceLock<Instant> = OnceLock::new();
    let epoch = *EPOCH.get_or_init(Instant::now);
    Instant::now().duration_since(epoch).as_millis() as u64 + 1
}

/// What a connection is doing, as its watchdog sees it.
#[derive(Default)]
struct Activity {
    /// The last byte read or written.
    last: AtomicU64,
    /// When the first byte of the request head now being read arrived (0: none).
    head_since: AtomicU64,
    /// Requests handed to the app and not answered yet.
    in_flight: AtomicUsize,
}

impl Activity {
    fn new() -> Activity {
        let a = Activity::default();
        a.last.store(now_ms(), Ordering::Relaxed);
        a
    }

    fn read(&self, n: usize) {
        if n == 0 {
            return;
        }
        let now = now_ms();
        self.last.store(now, Ordering::Relaxed);
        if self.in_flight.load(Ordering::Relaxed) == 0 {
            let _ = self
                .head_since
                .compare_exchange(0, now, Ordering::Relaxed, Ordering::Relaxed);
        }
    }

    fn wrote(&self, n: usize) {
        if n > 0 {
            self.last.store(now_ms(), Ordering::Relaxed);
        }
    }

    /// A request's head is complete and handed to the app.
    fn begin(self: &Arc<Self>) -> InFlight {
        self.in_flight.fetch_add(1, Ordering::Relaxed);
        self.head_since.store(0, Ordering::Relaxed);
        InFlight(Arc::clone(self))
    }
}

/// A request being handled; its answer is ready when this is dropped.
struct InFlight(Arc<Activity>);

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.last.store(now_ms(), Ordering::Relaxed);
        self.0.head_since.store(0, Ordering::Relaxed);
        self.0.in_flight.fetch_sub(1, Ordering::Relaxed);
    }
}

/// Resolves when the connection should be closed: silent between requests for too
/// long, or too slow with a request head.
async fn watchdog(activity: &Activity, timeouts: Timeouts, slots: &Semaphore) {
    loop {
        let now = now_ms();
        if activity.in_flight.load(Ordering::Relaxed) == 0 {
            let head = activity.head_since.load(Ordering::Relaxed);
            let over = if head != 0 {
                now.saturating_sub(head) > timeouts.header.as_millis() as u64
            } else {
                let idle = if slots.available_permits() == 0 {
                    PRESSED_IDLE.min(timeouts.idle)
                } else {
                    timeouts.idle
                };
                now.saturating_sub(activity.last.load(Ordering::Relaxed)) > idle.as_millis() as u64
            };
            if over {
                return;
            }
        }
        tokio::time::sleep(TICK).await;
    }
}

/// Serves one connection until it closes, is closed by its watchdog, or the server
/// stops (then it finishes the request in flight, if any).
async fn connection(
    stream: TcpStream,
    app: Router,
    timeouts: Timeouts,
    slots: Arc<Semaphore>,
    mut stop: watch::Receiver<bool>,
    _slot: OwnedSemaphorePermit,
) {
    let activity = Arc::new(Activity::new());
    let io = TokioIo::new(Watched {
        inner: stream,
        activity: Arc::clone(&activity),
    });
    let seen = Arc::clone(&activity);
    let service = hyper::service::service_fn(move |req: hyper::Request<Incoming>| {
        let in_flight = seen.begin();
        let app = app.clone();
        async move {
            let answer = app.oneshot(req.map(Body::new)).await;
            drop(in_flight);
            answer
        }
    });
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        // A backstop: the watchdog closes a slow head first (its clock starts at the
        // head's first byte, hyper's when the connection starts waiting).
        .header_read_timeout(timeouts.header + timeouts.idle)
        // The request heads of this API are small: no need for hyper's 400 KiB.
        .max_buf_size(64 << 10);
    let conn = http.serve_connection(io, service);
    tokio::pin!(conn);
    let mut stopping = *stop.borrow();
    if stopping {
        conn.as_mut().graceful_shutdown();
    }
    loop {
        tokio::select! {
            _ = conn.as_mut() => break,
            () = watchdog(&activity, timeouts, &slots) => break,
            changed = stop.changed(), if !stopping => {
                stopping = true;
                if changed.is_ok() {
                    conn.as_mut().graceful_shutdown();
                }
            }
        }
    }
}

/// A TCP stream that tells its connection's [`Activity`] about every byte.
struct Watched {
    inner: TcpStream,
    activity: Arc<Activity>,
}

impl AsyncRead for Watched {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let r = Pin::new(&mut self.inner).poll_read(cx, buf);
        if let Poll::Ready(Ok(())) = r {
            self.activity.read(buf.filled().len() - before);
        }
        r
    }
}

impl AsyncWrite for Watched {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        let r = Pin::new(&mut self.inner).poll_write(cx, buf);
        if let Poll::Ready(Ok(n)) = r {
            self.activity.wrote(n);
        }
        r
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        let r = Pin::new(&mut self.inner).poll_write_vectored(cx, bufs);
        if let Poll::Ready(Ok(n)) = r {
            self.activity.wrote(n);
        }
        r
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}
