//! Live change notifications: every committed document change is announced
//! here, whichever door it came through, so that connected WebSocket peers
//! that have the document open receive it at once.
//!
//! A slow subscriber that falls behind is told so ([`Missed`]) and must
//! re-check every document it has open, so nothing is silently lost.

use fengqiao_protocol::{DocumentId, VillageCode};
use tokio::sync::broadcast;

/// One committed change of one document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DocChanged {
    pub id: DocumentId,
    pub village: VillageCode,
    pub seq: u64,
    /// The connection whose message caused it, so it need not be echoed.
    pub origin: Option<u64>,
    /// The alert the change raised: the record became high-risk or urgent.
    pub alert: Option<std::sync::Arc<crate::alerts::Alert>>,
}

/// A subscriber fell behind by this many notifications.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Missed(pub u64);

pub struct Hub {
    sender: broadcast::Sender<DocChanged>,
}

pub struct Subscription {
    receiver: broadcast::Receiver<DocChanged>,
}

impl Hub {
    pub fn new(capacity: usize) -> Self {
        let (sender, _) = broadcast::channel(capacity.max(16));
        Self { sender }
    }

    pub fn publish(&self, change: DocChanged) {
        // No subscribers is fine: nobody is connected.
        let _ = self.sender.send(change);
    }

    pub fn subscribe(&self) -> Subscription {
        Subscription {
            receiver: self.sender.subscribe(),
        }
    }
}

impl Subscription {
    /// The next change; `Err(Missed)` when some were dropped because this
    /// subscriber was too slow; `None` when the hub is gone.
    pub async fn next(&mut self) -> Option<Result<DocChanged, Missed>> {
        match self.receiver.recv().await {
            Ok(change) => Some(Ok(change)),
            Err(broadcast::error::RecvError::Lagged(n)) => Some(Err(Missed(n))),
            Err(broadcast::error::RecvError::Closed) => None,
        }
    }
}
