//! Several servers on one store (PostgreSQL): what one of them commits,
//! the others learn at once.
//!
//! Every write transaction of a shared store announces what it changed
//! ([`crate::storage::store`]'s `CHANGED`, `REMOVED`, `VALUE` texts),
//! delivered to every server only once it commits. [`follow`] takes in
//! what the *other* servers announce:
//!
//! - **a record changed**: its loaded copy is dropped from the engine's
//!   cache (the next use reads it from the store), and the change is
//!   published on the engine's [`Hub`](crate::engine::hub::Hub), so that
//!   WebSocket peers and dashboard event streams connected here receive it
//!   live, exactly as for a change made here;
//! - **a record removed**: its loaded copy is dropped;
//! - **a person, a device or the organisation changed**: the directory
//!   reads it again (a revoked or reassigned device's connections here
//!   close, a new device's token works here);
//! - dashboard sessions follow their own announcements
//!   ([`crate::http::session::Sessions::follow`]).
//!
//! When announcements may have been lost (the store's listening
//! connection was made again, or this server fell behind), everything
//! they would have said is read afresh: the directory, the cache (dropped)
//! and the change feed since the last change seen, each published.

use std::sync::Arc;

use fengqiao_protocol::{DocumentId, VillageCode};
use tokio::sync::{broadcast, watch};

use crate::engine::Engine;
use crate::engine::hub::DocChanged;
use crate::storage::backend::Announcement;
use crate::storage::store::{ALERT, CHANGED, REMOVED, VALUE};
use crate::storage::{ServerValue, StorageError};

/// What one announcement asks of this server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Learned {
    Changed {
        id: DocumentId,
        village: VillageCode,
        seq: u64,
        /// The id of the alert the change raised there, if any.
        alert: Option<String>,
    },
    Removed {
        id: DocumentId,
    },
    Value(ServerValue),
    /// Announced by this server, or nothing this server keeps.
    Nothing,
}

/// Reads an announcement's text.
pub fn learn(seq: u64, text: &str) -> Learned {
    let mut parts = text.split(' ');
    let kind = parts.next().unwrap_or("");
    let record = |parts: &mut std::str::Split<'_, char>| {
        let id = DocumentId::parse(parts.next()?).ok()?;
        let village = VillageCode::new(parts.next()?).ok()?;
        Some((id, village))
    };
    match kind {
        CHANGED => match record(&mut parts) {
            Some((id, village)) => Learned::Changed {
                id,
                village,
                seq,
                alert: parts
                    .next()
                    .and_then(|word| word.strip_prefix(ALERT))
                    .filter(|alert| !alert.is_empty() && alert.len() <= 64)
                    .map(str::to_owned),
            },
            None => Learned::Nothing,
        },
        REMOVED => match record(&mut parts) {
            Some((id, _)) => Learned::Removed { id },
            None => Learned::Nothing,
        },
        VALUE => match parts.next().map(ServerValue::parse) {
            Some(Ok(value)) => Learned::Value(value),
            _ => Learned::Nothing,
        },
        _ => Learned::Nothing,
    }
}

/// Follows the other servers' announcements until `stop`; `None` when the
/// store is this server's alone.
pub fn follow(
    engine: Arc<Engine>,
    mut stop: watch::Receiver<bool>,
) -> Option<tokio::task::JoinHandle<()>> {
    let mut announcements = engine.storage().announcements()?;
    tracing::info!("following the changes of the other servers on this store");
    Some(tokio::spawn(async move {
        // Changes up to here are in the store already; from here on each
        // is announced.
        let mut seen = engine.storage().current_seq();
        loop {
            let received = tokio::select! {
                _ = stop.changed() => break,
                received = announcements.recv() => received,
            };
            match received {
                Ok(Announcement::Committed { own, seq, text }) => {
                    if !own {
                        take_in(&engine, learn(seq, &text)).await;
                    }
                    seen = seen.max(seq);
                }
                Ok(Announcement::Missed) | Err(broadcast::error::RecvError::Lagged(_)) => {
                    tracing::warn!(
                        since = seen,
                        "announcements from other servers may be lost; reading the store again"
                    );
                    let engine = engine.clone();
                    let caught_up = tokio::task::spawn_blocking(move || catch_up(&engine, seen))
                        .await
                        .unwrap_or_else(|e| Err(StorageError::Io(std::io::Error::other(e))));
                    match caught_up {
                        Ok(through) => seen = seen.max(through),
                        Err(error) => {
                            tracing::warn!(%error, "could not read the store again after lost announcements")
                        }
                    }
                }
                Err(broadcast::error::RecvError::Closed) => break,
            }
        }
    }))
}

async fn take_in(engine: &Arc<Engine>, learned: Learned) {
    match learned {
        Learned::Changed {
            id,
            village,
            seq,
            alert,
        } => {
            engine.cache().forget(&id);
            // The alert is shown here too (the server that raised it posts
            // it to the webhook): what it says is read from the summary.
            let alert = match alert {
                Some(alert_id) => {
                    let engine = engine.clone();
                    let id = id.clone();
                    tokio::task::spawn_blocking(move || {
                        let summary = engine.storage().summary(&id).ok()??;
                        let name = engine.directory().village_name(&summary.village);
                        Some(Arc::new(crate::alerts::Alert::of_summary(
                            alert_id,
                            &summary,
                            name,
                            crate::clock::now_millis(),
                        )))
                    })
                    .await
                    .ok()
                    .flatten()
                }
                None => None,
            };
            engine.hub().publish(DocChanged {
                id,
                village,
                seq,
                origin: None,
                alert,
            });
        }
        Learned::Removed { id } => engine.cache().forget(&id),
        Learned::Value(
            value @ (ServerValue::Org | ServerValue::Person(_) | ServerValue::Device(_)),
        ) => {
            let engine = engine.clone();
            let reloaded =
                tokio::task::spawn_blocking(move || engine.directory().reload(&value)).await;
            if let Ok(Err(error)) = reloaded {
                tracing::warn!(%error, "could not read a directory entry another server changed");
            }
        }
        Learned::Value(_) | Learned::Nothing => {}
    }
}

/// Reads again what lost announcements would have said; returns the last
/// sequence number read.
fn catch_up(engine: &Engine, since: u64) -> Result<u64, StorageError> {
    engine.directory().reload_all()?;
    let storage = engine.storage();
    let mut after = since;
    loop {
        let page = storage.feed_after(after, None, 1024)?;
        for entry in &page.entries {
            engine.cache().forget(&entry.id);
            engine.hub().publish(DocChanged {
                id: entry.id.clone(),
                village: entry.village.clone(),
                seq: entry.seq,
                origin: None,
                alert: None,
            });
        }
        if page.entries.is_empty() || page.through_seq <= after {
            return Ok(after.max(page.through_seq));
        }
        after = page.through_seq;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn announcements_are_read_back() {
        let id = DocumentId::random();
        let village = VillageCode::new("500110101001").unwrap();
        assert_eq!(
            learn(9, &format!("c {id} {village}")),
            Learned::Changed {
                id: id.clone(),
                village: village.clone(),
                seq: 9,
                alert: None,
            }
        );
        assert_eq!(
            learn(9, &format!("c {id} {village} alert:a-1")),
            Learned::Changed {
                id: id.clone(),
                village: village.clone(),
                seq: 9,
                alert: Some("a-1".into()),
            }
        );
        assert_eq!(
            learn(10, &format!("r {id} {village}")),
            Learned::Removed { id: id.clone() }
        );
        let device = fengqiao_protocol::DeviceId::random();
        assert_eq!(
            learn(0, &format!("v directory/device/{device}")),
            Learned::Value(ServerValue::Device(device))
        );
        for nonsense in ["", "c", "c not-an-id 1", "v", "v nonsense", "x y z"] {
            assert_eq!(learn(1, nonsense), Learned::Nothing, "{nonsense:?}");
        }
    }
}
