//! The embedded SCIM server: where it listens, and its start and clean stop.

use std::net::SocketAddr;

use provisioning::Provisioning;
use serde::Serialize;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use ts_rs::TS;

/// The default listen address when neither the environment nor the settings say otherwise.
pub const DEFAULT_PORT: u16 = 8787;

/// Where the server listens, and whether that is where it was asked to.
#[derive(Debug, Clone, Serialize, TS)]
#[ts(export)]
#[serde(rename_all = "camelCase")]
pub struct Listening {
    /// The address asked for, e.g. `127.0.0.1:8787`.
    pub requested: String,
    /// The address bound, if any.
    pub listening: Option<String>,
    /// True when the requested port was taken and another was chosen.
    pub fallback: bool,
    /// Why the server is not running, if it is not.
    pub error: Option<String>,
}

/// Binds `requested`; if the port is taken and `may_fall_back`, binds another port on the same
/// address instead. An explicit `TALKWRITER_SCIM_LISTEN` must not fall back silently.
pub async fn bind(requested: SocketAddr, may_fall_back: bool) -> (Option<TcpListener>, Listening) {
    let mut info = Listening { requested: requested.to_string(), listening: None, fallback: false, error: None };
    let listener = match TcpListener::bind(requested).await {
        Ok(l) => Ok(l),
        Err(e) if e.kind() == std::io::ErrorKind::AddrInUse && may_fall_back => {
            info.fallback = true;
            TcpListener::bind(SocketAddr::new(requested.ip(), 0)).await
        }
        Err(e) => Err(e),
    };
    match listener {
        Ok(l) => {
            info.listening = l.local_addr().ok().map(|a| a.to_string());
            (Some(l), info)
        }
        Err(e) => {
            info.error = Some(format!("could not listen on {requested}: {e}"));
            (None, info)
        }
    }
}

/// A running server: dropping the sender or sending on it starts a graceful shutdown.
pub struct Running {
    stop: oneshot::Sender<()>,
    task: tauri::async_runtime::JoinHandle<std::io::Result<()>>,
}

pub fn spawn(p: Provisioning, listener: TcpListener) -> Running {
    let (stop, stopped) = oneshot::channel::<()>();
    let task = tauri::async_runtime::spawn(scim_http::serve(p, listener, async move {
        let _ = stopped.await;
    }));
    Running { stop, task }
}

impl Running {
    /// Stops accepting, lets in-flight requests finish (at most `grace`), and flushes the log.
    pub async fn stop(self, grace: std::time::Duration) {
        let _ = self.stop.send(());
        let mut task = self.task;
        match tokio::time::timeout(grace, &mut task).await {
            Ok(Ok(Ok(()))) => tracing::info!("SCIM server stopped"),
            Ok(Ok(Err(e))) => tracing::warn!(error = %e, "SCIM server stopped with an error"),
            Ok(Err(e)) => tracing::warn!(error = %e, "SCIM server task failed"),
            Err(_) => {
                // Stopped rather than left running while the database closes under it.
                tracing::warn!("SCIM server did not stop in time; stopping it");
                task.abort();
                let _ = task.await;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Proves the "port taken" rule: the default address falls back to a free port and says
    /// so, while an explicit address (TALKWRITER_SCIM_LISTEN) fails loudly instead.
    #[tokio::test]
    async fn a_taken_port_falls_back_only_when_allowed() {
        let taken = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = taken.local_addr().unwrap();

        let (listener, info) = bind(addr, true).await;
        assert!(listener.is_some(), "a fallback port must be bound");
        assert!(info.fallback, "the header must be told the port changed");
        assert_ne!(info.listening.as_deref(), Some(addr.to_string().as_str()), "another port was chosen");

        let (listener, info) = bind(addr, false).await;
        assert!(listener.is_none(), "an explicit address must not silently move");
        assert!(info.error.is_some_and(|e| e.contains(&addr.to_string())), "the error names the address");
    }
}
