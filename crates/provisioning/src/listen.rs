//! The live sync log across instances (PostgreSQL). Every transaction that inserts events
//! announces their ids on [`NOTIFY_CHANNEL`] (see `events::insert_events`); PostgreSQL delivers
//! the notification on commit only, to every instance listening. Each instance runs one
//! listener that loads the announced events and broadcasts them to its subscribers
//! (`talkwriter-scim events --follow` is one), so a request served by one instance shows on all
//! of them.
//! On PostgreSQL this is the only way events reach the live stream, the writing instance's
//! included, so none is broadcast twice.
//!
//! Notifications are not queued for a listener that is away: after its connection was lost,
//! the listener reads the events committed meanwhile by id, from the last one it broadcast.
//! Commits that insert events take the write turn (an advisory lock held to commit), so ids
//! are committed in ascending order and "after the last id seen" misses nothing.

use std::time::Duration;

use sqlx::postgres::{PgListener, PgNotification};
use tokio::sync::broadcast;

use crate::Result;
use crate::db::Pool;
use crate::events::{NOTIFY_CHANNEL, SyncEvent};

/// At most this many events are broadcast when catching up after a lost connection: the live
/// stream's buffer holds no more (subscribers further behind see a lag and reload).
const MAX_CATCH_UP: i64 = 1024;
/// The longest wait between attempts to reconnect.
const MAX_BACKOFF: Duration = Duration::from_secs(10);

/// Connects the listener and starts it. Returns once it is listening, so every event committed
/// after this returns reaches `live`. The task ends when the pool is closed or the service
/// (every holder of `live`) is gone.
pub(crate) async fn spawn_listener(
    url: String,
    pool: Pool,
    live: broadcast::Sender<SyncEvent>,
) -> Result<tokio::task::JoinHandle<()>> {
    let listener = connect(&url).await?;
    let mut l = Listener { url, pool, live: live.downgrade(), last_seen: 0 };
    l.last_seen = l.max_id().await?;
    Ok(tokio::spawn(async move { l.run(listener).await }))
}

async fn connect(url: &str) -> Result<PgListener> {
    let mut listener = PgListener::connect(url).await?;
    listener.listen(NOTIFY_CHANNEL).await?;
    Ok(listener)
}

struct Listener {
    url: String,
    pool: Pool,
    /// Weak, so the listener does not keep a dropped service's stream alive.
    live: broadcast::WeakSender<SyncEvent>,
    /// The newest event broadcast (or present when the listener started).
    last_seen: i64,
}

impl Listener {
    async fn run(mut self, mut listener: PgListener) {
        let closed = self.pool.close_event();
        tokio::pin!(closed);
        loop {
            let received = tokio::select! {
                _ = &mut closed => return,
                r = listener.try_recv() => r,
            };
            let step = match received {
                Ok(Some(n)) => self.publish_notified(&n).await,
                // The connection was lost and is already back (listening again): what was
                // committed in between was announced to nobody.
                Ok(None) => self.catch_up().await,
                Err(e) => {
                    tracing::warn!(error = %e, "the sync-log listener lost its connection; reconnecting");
                    match self.reconnect(&mut closed).await {
                        Some(l) => listener = l,
                        None => return,
                    }
                    self.catch_up().await
                }
            };
            match step {
                Ok(true) => {}
                Ok(false) => return,
                Err(e) => tracing::warn!(error = %e, "could not read announced sync-log events"),
            }
        }
    }

    /// A new listening connection, retried with a growing pause. `None` once the pool closes.
    async fn reconnect(&self, closed: &mut (impl std::future::Future<Output = ()> + Unpin)) -> Option<PgListener> {
        let mut pause = Duration::from_millis(100);
        loop {
            tokio::select! {
                _ = &mut *closed => return None,
                _ = tokio::time::sleep(pause) => {}
            }
            match connect(&self.url).await {
                Ok(l) => return Some(l),
                Err(e) => tracing::warn!(error = %e, "the sync-log listener could not reconnect"),
            }
            pause = (pause * 2).min(MAX_BACKOFF);
        }
    }

    /// Broadcasts the events a notification names. `Ok(false)` when the service is gone.
    async fn publish_notified(&mut self, n: &PgNotification) -> Result<bool> {
        let ids: Vec<i64> =
            n.payload().split(',').filter_map(|id| id.trim().parse().ok()).filter(|id| *id > self.last_seen).collect();
        if ids.is_empty() {
            return Ok(self.live.strong_count() > 0);
        }
        let list = format!("{{{}}}", ids.iter().map(i64::to_string).collect::<Vec<_>>().join(","));
        let events: Vec<SyncEvent> =
            sqlx::query_as("SELECT * FROM events WHERE id = ANY(CAST($1 AS BIGINT[])) ORDER BY id")
                .bind(list)
                .fetch_all(&self.pool)
                .await?;
        Ok(self.publish(events))
    }

    /// Broadcasts the events committed after the last one seen (the newest [`MAX_CATCH_UP`]).
    async fn catch_up(&mut self) -> Result<bool> {
        let mut events: Vec<SyncEvent> = sqlx::query_as("SELECT * FROM events WHERE id > $1 ORDER BY id DESC LIMIT $2")
            .bind(self.last_seen)
            .bind(MAX_CATCH_UP)
            .fetch_all(&self.pool)
            .await?;
        events.reverse();
        Ok(self.publish(events))
    }

    /// Sends events in id order, each once. `false` when the service is gone.
    fn publish(&mut self, events: Vec<SyncEvent>) -> bool {
        let Some(live) = self.live.upgrade() else { return false };
        for mut e in events {
            if e.id <= self.last_seen {
                continue;
            }
            self.last_seen = e.id;
            e.hint = crate::events::hint(&e);
            let _ = live.send(e);
        }
        true
    }

    async fn max_id(&self) -> Result<i64> {
        Ok(sqlx::query_scalar("SELECT COALESCE(MAX(id), 0) FROM events").fetch_one(&self.pool).await?)
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use crate::{Config, Provisioning, testing};

    /// An event written by one instance reaches the live stream of another instance on the
    /// same database, once, and the writer's own stream too.
    #[tokio::test]
    async fn events_reach_every_instance() {
        let Some(server) = testing::postgres_url() else { return };
        let url = testing::fresh_postgres_database(&server).await.unwrap();
        let a = Provisioning::connect(&url, Config::default()).await.unwrap();
        let b = Provisioning::connect(&url, Config::default()).await.unwrap();
        let mut on_a = a.subscribe();
        let mut on_b = b.subscribe();
        a.create_token("listener test", None).await.unwrap();
        for (name, rx) in [("a", &mut on_a), ("b", &mut on_b)] {
            let e = tokio::time::timeout(Duration::from_secs(2), rx.recv())
                .await
                .unwrap_or_else(|_| panic!("instance {name} received the event within 2 s"))
                .unwrap();
            assert_eq!(e.operation, "Token created");
            assert!(e.id > 0);
            assert!(e.detail.as_deref().is_some_and(|d| d.starts_with("listener test")), "{e:?}");
        }
        // Batched read events arrive as well, each once.
        let ctx = crate::RequestContext::new("GET", "/scim/v2/Users");
        a.log_request(&ctx, crate::Outcome { status: 200, ..Default::default() });
        a.flush_log().await;
        let e = tokio::time::timeout(Duration::from_secs(2), on_b.recv()).await.unwrap().unwrap();
        assert_eq!(e.operation, "Lookup");
        let e = tokio::time::timeout(Duration::from_secs(2), on_a.recv()).await.unwrap().unwrap();
        assert_eq!(e.operation, "Lookup");
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert!(on_a.try_recv().is_err() && on_b.try_recv().is_err(), "no event is broadcast twice");
        a.close().await;
        b.close().await;
    }

    /// A listener whose connection is cut reconnects and catches up on what it missed.
    #[tokio::test]
    async fn a_lost_listener_catches_up() {
        let Some(server) = testing::postgres_url() else { return };
        let url = testing::fresh_postgres_database(&server).await.unwrap();
        let a = Provisioning::connect(&url, Config::default()).await.unwrap();
        let b = Provisioning::connect(&url, Config::default()).await.unwrap();
        let mut on_b = b.subscribe();
        let db = url.rsplit_once('/').map(|(_, d)| d.to_string()).unwrap();
        let mut admin = <sqlx::PgConnection as sqlx::Connection>::connect(&server).await.unwrap();
        let cut: Vec<bool> = sqlx::query_scalar(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND query LIKE 'LISTEN%'",
        )
        .bind(&db)
        .fetch_all(&mut admin)
        .await
        .unwrap();
        assert_eq!(cut.len(), 2, "each instance listens on one connection");
        for label in ["first", "second", "third"] {
            a.create_token(label, None).await.unwrap();
        }
        for label in ["first", "second", "third"] {
            let e = tokio::time::timeout(Duration::from_secs(5), on_b.recv()).await.unwrap().unwrap();
            assert!(e.detail.as_deref().is_some_and(|d| d.starts_with(label)), "{label}: {e:?}");
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert!(on_b.try_recv().is_err(), "no event is broadcast twice");
    }

    /// Ids are split into notification payloads under PostgreSQL's limit.
    #[test]
    fn payloads_stay_under_the_limit() {
        let payloads = crate::events::notify_payloads(1_000_000_000..1_000_003_000);
        assert!(payloads.len() > 1);
        assert!(payloads.iter().all(|p| p.len() < 7000));
        let ids: Vec<i64> = payloads.iter().flat_map(|p| p.split(',').map(|i| i.parse::<i64>().unwrap())).collect();
        assert_eq!(ids, (1_000_000_000..1_000_003_000).collect::<Vec<_>>());
    }
}
