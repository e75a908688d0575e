//! One loopback HTTP server of the bed (a Runtime API, the HTTP API, EventBridge, the DynamoDB
//! proxy): an axum router served on a bound listener until the handle is dropped.

use std::net::SocketAddr;

use axum::Router;
use tokio::net::TcpListener;

/// A running server; dropping it stops it.
pub struct Server {
    pub addr: SocketAddr,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Server {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Server {
    /// Serves `app` on `listener`; the peer address is available to handlers as `ConnectInfo`.
    pub fn serve(listener: TcpListener, app: Router, name: &'static str) -> std::io::Result<Self> {
        let addr = listener.local_addr()?;
        let service = app.into_make_service_with_connect_info::<SocketAddr>();
        let task = tokio::spawn(async move {
            if let Err(e) = axum::serve(listener, service).await {
                tracing::warn!(error = %e, "{name} stopped");
            }
        });
        Ok(Self { addr, task })
    }

    /// Binds `addr` (port 0 for any free port) and serves `app` there.
    pub async fn bind(addr: SocketAddr, app: Router, name: &'static str) -> std::io::Result<Self> {
        Self::serve(TcpListener::bind(addr).await?, app, name)
    }

    /// `http://ADDR`.
    #[must_use]
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }
}

/// Any free port on 127.0.0.1.
pub const LOOPBACK: SocketAddr =
    SocketAddr::new(std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST), 0);
