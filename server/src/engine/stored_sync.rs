//! Automerge sync steps taken from what storage records about a document
//! (its heads and its saved bytes) without loading it.
//!
//! Loading a record into Automerge costs about 20 KiB of memory and a
//! fraction of a millisecond; most sync messages on the WebSocket door do
//! not need it. A peer reconnecting with everything announces the
//! server's own heads; a fresh peer asking for a record has nothing and is
//! sent the whole saved document. Both are answered here, and the engine
//! falls back to the loaded document for everything else (a peer that
//! lacks some changes, or holds changes the server lacks).
//!
//! The rules are Automerge's own (`automerge::sync`, version 0.12), with
//! every step that needs the change graph decided from the heads alone:
//!
//! - A set of hashes is known to the server when it is a subset of its
//!   heads. Peer heads equal to the server's mean the peer holds every
//!   change; the Bloom filter it sent then covers them all, so nothing is
//!   to be sent.
//! - Where a step would need the graph (the peer lacks something, asks for
//!   specific changes, or shares older heads), the function declines and
//!   the caller loads the document.
//!
//! One step differs on purpose: a fresh peer is sent the whole document
//! with an empty `have` list instead of a Bloom filter of every change (a
//! filter needs every change hash). An empty list tells the peer to send
//! only what the server names in `need`, and a peer with nothing has
//! nothing to send either way. For the same reason the hashes sent are not
//! entered in the state's `sent_hashes`; the peer's next message announces
//! its heads, after which Automerge clears them anyway.
//!
//! `tests` checks every answer against Automerge's own on random
//! histories and sync states.

use automerge::ChangeHash;
use automerge::sync::{
    BloomFilter, Capability, ChunkList, Have, Message, MessageFlags, MessageVersion, State,
};

/// Applies a peer's message that carries no changes, when its heads are
/// none or exactly `heads` (the stored heads, sorted as Automerge sorts
/// them). Gives the message back when the document is needed.
pub fn receive(heads: &[ChangeHash], state: &mut State, message: Message) -> Result<(), Message> {
    let holds_all = same_heads(&message.heads, heads);
    if !message.changes.is_empty() || heads.is_empty() || !(message.heads.is_empty() || holds_all) {
        return Err(message);
    }
    let Message {
        heads: their_heads,
        need,
        have,
        flags,
        ..
    } = message;
    state.in_flight = false;
    if let Some(flags) = flags {
        let mut capabilities = vec![Capability::MessageV2];
        if flags.contains(MessageFlags::SUPPORTS_SYNC_RESET) {
            capabilities.push(Capability::SyncReset);
        }
        state.their_capabilities = Some(capabilities);
        if flags.contains(MessageFlags::SYNC_RESET) {
            state.sent_hashes.clear();
        }
        state.peer_read_only = flags.contains(MessageFlags::READ_ONLY);
    }
    if holds_all {
        // Every change the server sent is an ancestor of its heads.
        state.sent_hashes.clear();
    }
    if their_heads == heads {
        state.last_sent_heads.clone_from(&their_heads);
    }
    // Every head the peer named is known here.
    state.shared_heads.clone_from(&their_heads);
    if their_heads.is_empty() {
        // The peer has nothing: start over.
        state.last_sent_heads = Vec::new();
        state.sent_hashes.clear();
    }
    state.their_have = Some(have);
    state.their_heads = Some(their_heads);
    state.their_need = Some(need);
    Ok(())
}

/// What goes to the peer with the message.
enum Body {
    /// Heads, need and have only.
    Nothing,
    /// The whole stored document.
    Whole,
}

/// The next message for the peer, `Some(None)` when there is nothing to
/// send, or `None` when the document is needed to decide. `whole` reads
/// the stored document; it is called only for a fresh peer, and its
/// `None` (storage changed under us) also sends the caller to the loaded
/// document.
pub fn generate(
    heads: &[ChangeHash],
    state: &mut State,
    whole: impl FnOnce() -> Option<Vec<u8>>,
) -> Option<Option<Message>> {
    if state.needs_reset || heads.is_empty() {
        return None;
    }
    let their_heads = state.their_heads.as_deref();
    // What the server needs of the peer's heads: nothing only if it knows
    // them all (a read-only state never asks).
    if !state.read_only && !their_heads.unwrap_or(&[]).iter().all(|h| heads.contains(h)) {
        return None;
    }
    let fresh = their_heads.is_some_and(<[ChangeHash]>::is_empty);
    let in_sync = their_heads.is_some_and(|h| same_heads(h, heads));
    // A peer that last synced at heads the server does not know is sent a
    // reset by Automerge; decide that only when the heads are known.
    if let Some(first) = state.their_have.as_ref().and_then(|h| h.first())
        && !in_sync
        && !first.last_sync.iter().all(|h| heads.contains(h))
    {
        return None;
    }
    let supports_v2 = state
        .their_capabilities
        .as_ref()
        .is_some_and(|c| c.contains(&Capability::MessageV2));
    let body = if state.peer_read_only {
        Body::Nothing
    } else {
        match (&state.their_have, &state.their_need) {
            (Some(_), Some(_)) if fresh && supports_v2 => Body::Whole,
            (Some(_), Some(need)) if !need.is_empty() => return None,
            (Some(have), Some(_)) if !(have.is_empty() || in_sync) => return None,
            _ => Body::Nothing,
        }
    };
    let heads_unchanged = state.last_sent_heads == heads;
    let heads_equal = their_heads == Some(heads);
    if heads_unchanged && state.have_responded {
        if (heads_equal || state.read_only) && matches!(body, Body::Nothing) {
            return Some(None);
        }
        if state.in_flight {
            return Some(None);
        }
    }
    let (have, changes, version) = match body {
        Body::Nothing => {
            // A Bloom filter of the changes since the shared heads: empty
            // only when those are the server's heads.
            if !same_heads(&state.shared_heads, heads) {
                return None;
            }
            let have = vec![Have {
                last_sync: state.shared_heads.clone(),
                bloom: BloomFilter::default(),
            }];
            let version = if supports_v2 {
                MessageVersion::V2
            } else {
                MessageVersion::V1
            };
            (have, ChunkList::empty(), version)
        }
        Body::Whole => {
            let bytes = whole()?;
            (Vec::new(), ChunkList::from(bytes), MessageVersion::V2)
        }
    };
    state.have_responded = true;
    state.last_sent_heads = heads.to_vec();
    let mut flags = MessageFlags::new();
    flags.set(MessageFlags::SUPPORTS_SYNC_RESET);
    if state.read_only {
        flags.set(MessageFlags::READ_ONLY);
    }
    state.in_flight = true;
    Some(Some(Message {
        heads: heads.to_vec(),
        need: Vec::new(),
        have,
        changes,
        flags: Some(flags),
        version,
    }))
}

/// A message saying the server holds nothing and has seen nothing of the
/// peer's, for a peer whose changes could not all be applied: some wait
/// for others it did not send, because the server's Bloom filter matched
/// those by chance, and the server keeps no queue of changes it cannot
/// apply. An Automerge peer that hears it forgets what it sent and sends
/// its whole document (message format 2) or all its changes; the server
/// applies them, duplicates being no-ops. One whole upload, only then.
pub fn ask_for_everything(state: &mut State) -> Message {
    state.have_responded = true;
    state.last_sent_heads = Vec::new();
    state.shared_heads = Vec::new();
    state.sent_hashes.clear();
    state.in_flight = true;
    let mut flags = MessageFlags::new();
    flags.set(MessageFlags::SUPPORTS_SYNC_RESET);
    if state.read_only {
        flags.set(MessageFlags::READ_ONLY);
    }
    Message {
        heads: Vec::new(),
        need: Vec::new(),
        have: vec![Have {
            last_sync: Vec::new(),
            bloom: BloomFilter::default(),
        }],
        changes: ChunkList::empty(),
        flags: Some(flags),
        version: MessageVersion::V1,
    }
}

/// Whether two head lists name the same changes, whatever their order.
pub fn same_heads(a: &[ChangeHash], b: &[ChangeHash]) -> bool {
    a.len() == b.len() && a.iter().all(|h| b.contains(h))
}

#[cfg(test)]
mod tests;
