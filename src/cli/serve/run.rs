//! Running the server: the listener, the start-up lines, a clean stop on Ctrl-C.

use super::conn::{self, Timeouts};
use super::limits::Config;
use super::{router, ServeArgs};
use crate::cli::backbone::Selection;
use spotdiff::{Error, IoOp, Session};
use std::net::SocketAddr;

/// Runs the server until Ctrl-C (or SIGTERM); requests in flight are finished first.
pub fn run(args: ServeArgs) -> Result<u8, Error> {
    let config = Config::from_args(&args);
    let selection = args.backbone.select()?;
    let addr = SocketAddr::new(args.host, args.port);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(config.jobs.clamp(1, 4))
        .enable_all()
        .build()
        .map_err(|e| listen_error(addr, &e))?;
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .map_err(|e| listen_error(addr, &e))?;
        let local = listener.local_addr().map_err(|e| listen_error(addr, &e))?;
        let shown = match local.ip() {
            ip if ip.is_unspecified() => SocketAddr::new([127, 0, 0, 1].into(), local.port()),
            _ => local,
        };
        println!(
            "spotdiff serve: listening on http://{shown}/ (up to {} MiB per upload, {} MiB for all uploads in flight, {} comparisons at once; Ctrl-C to stop)",
            config.max_upload_bytes >> 20,
            config.upload_budget_bytes >> 20,
            config.jobs
        );
        if !local.ip().is_loopback() {
            println!(
                "spotdiff serve: warning: listening on {} opens the page to other machines, without authentication",
                local.ip()
            );
        }
        match &selection {
            Selection::Ready(b) => {
                println!("spotdiff serve: deep features with {}", b.spec().name)
            }
            Selection::Missing(reason) => println!(
                "spotdiff serve: note: {reason}; comparing with pixel + SSIM evidence only"
            ),
            Selection::Off => {}
        }
        let session = Session::with_backbone(selection.into_backbone());
        let timeouts = Timeouts {
            header: config.header_timeout,
            idle: config.idle_timeout,
            request: config.timeout,
        };
        let max_connections = config.max_connections;
        conn::serve(
            listener,
            router(config, session),
            max_connections,
            timeouts,
            shutdown_signal(),
        )
        .await;
        println!("spotdiff serve: stopped");
        Ok(0)
    })
}

fn listen_error(addr: SocketAddr, e: &std::io::Error) -> Error {
    let hint = if e.kind() == std::io::ErrorKind::AddrInUse {
        " (choose another with --port, or --port 0 for any free one)"
    } else {
        ""
    };
    Error::Io {
        path: addr.to_string().into(),
        op: IoOp::Listen,
        problem: format!("cannot listen: {e}{hint}"),
        source: None,
    }
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
    println!("spotdiff serve: stopping (finishing requests in flight)");
}
