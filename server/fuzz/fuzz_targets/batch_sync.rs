//! Any `POST /v1/sync` request, answered by the batch door on a real store.
//!
//! The first byte picks how the rest becomes a request:
//!
//! - 0: the rest is the body, decoded as the HTTP door decodes it (bodies
//!   that do not decode stop there: the decoder has its own target);
//! - 1: the rest is cut into uploads whose changes are raw fuzz bytes;
//! - 2: an upload of a valid dispute edited as a buggy client might, so
//!   the input gets past Automerge into record validation.
//!
//! Whatever the request, the door must not panic and must keep its
//! promises: one result per upload, in order; a refused upload leaves the
//! record exactly as stored before and reports no heads; every reported
//! head set is the record's durable heads; storage never fails.

#![no_main]

use fengqiao_protocol::batch::{ChangeHash, DocUpload, SyncRequest};
use fengqiao_protocol::codec::DecodeLimits;
use fengqiao_server::batch::{self, Cursors, FeedPosition};
use fengqiao_server::engine::Caller;
use fengqiao_server_fuzz::{World, doc_id, pieces, scribble, sorted, valid_dispute};
use libfuzzer_sys::fuzz_target;

/// The key cursors are sealed with in this target.
fn cursors(world: &World) -> Cursors {
    Cursors::new(world.epoch, &[7; 32])
}

fn request(mode: u8, rest: &[u8], world: &World) -> Option<SyncRequest> {
    // Uploads start from the current feed position, as a phone that synced
    // before does; a bootstrap (which sends every stored record) is left to
    // the bodies of mode 0.
    let now = cursors(world).seal(
        None,
        &FeedPosition {
            epoch: world.epoch,
            seq: world.storage.current_seq(),
            issued_at: i64::MAX,
            scope: None,
        },
    );
    match mode % 3 {
        0 => SyncRequest::decode(rest, &DecodeLimits::DEFAULT).ok(),
        1 => {
            let mut request = SyncRequest::new(Some(now));
            for (n, piece) in pieces(rest).into_iter().take(8).enumerate() {
                let (first, changes) = piece.split_first().unwrap_or((&0, &[]));
                request.docs.push(DocUpload {
                    id: doc_id(*first),
                    heads: if n % 2 == 0 {
                        vec![]
                    } else {
                        vec![ChangeHash([*first; 32])]
                    },
                    changes: changes.to_vec(),
                });
            }
            Some(request)
        }
        _ => {
            let (&shape, edits) = rest.split_first()?;
            let mut doc = valid_dispute(usize::from(shape % 4));
            let before = doc.get_heads();
            scribble(&mut doc, edits);
            let heads = doc.get_heads().iter().map(|h| ChangeHash(h.0)).collect();
            let mut request = SyncRequest::new(Some(now));
            request.budget = Some(4096);
            request.docs.push(DocUpload {
                id: doc_id(shape >> 4),
                heads,
                // Now and then only the edits, as an update to a record the
                // server may or may not hold.
                changes: if shape & 0x08 != 0 {
                    doc.save_after(&before)
                } else {
                    doc.save()
                },
            });
            Some(request)
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let guard = World::get();
    let world = guard.as_ref().expect("a world");
    let Some(request) = request(mode, rest, world) else {
        return;
    };
    let before: Vec<_> = request
        .docs
        .iter()
        .map(|u| world.stored_heads(&u.id))
        .collect();
    let uploads = request.docs.clone();

    let (response, _) = batch::handle(
        &world.engine,
        &Caller::unrestricted(),
        None,
        &cursors(world),
        request,
    )
    .expect("bad input never fails the store");

    assert!(response.docs.len() >= uploads.len());
    for (n, (upload, result)) in uploads.iter().zip(&response.docs).enumerate() {
        assert_eq!(result.id, upload.id, "results follow the uploads' order");
        let repeated = uploads[..n].iter().any(|u| u.id == upload.id)
            || uploads[n + 1..].iter().any(|u| u.id == upload.id);
        if result.error.is_some() {
            assert!(result.heads.is_empty(), "a refused record reports no heads");
            if !repeated {
                assert_eq!(
                    world.stored_heads(&upload.id),
                    before[n],
                    "a refused upload changed the stored record"
                );
            }
        }
    }
    for result in &response.docs {
        let once = response.docs.iter().filter(|r| r.id == result.id).count() == 1;
        if once && result.error.is_none() && !result.heads.is_empty() {
            let reported = sorted(result.heads.iter().map(|h| h.0).collect());
            assert_eq!(
                world.stored_heads(&result.id),
                Some(reported),
                "reported heads that are not the durable heads"
            );
        }
    }
});
