//! A phone reassigned to another village on a server restored from a
//! backup: the reset that tells it to upload again also tells it what to
//! purge, and what the server refuses is set aside, never uploaded at every
//! sync.

use fengqiao_protocol::{ErrorCode, Scope};
use fengqiao_server::serve;
use fengqiao_shared::access::{DeviceAccess, Role};
use fengqiao_tests::{Phone, T0, TestServer};

const VILLAGE_A: &str = "500110101001";
const VILLAGE_B: &str = "500110101002";

#[test]
fn a_phone_reassigned_on_a_restored_server_purges_and_does_not_loop() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let first = dir.path().join("first");
    let server = TestServer::start_in(&first);
    let (device, token) = server.enroll("cadre-a", Role::Cadre, VILLAGE_A);
    let mut phone = Phone::enrolled("cadre-a", device, &token);
    let (other_device, other_token) = server.enroll("cadre-b", Role::Cadre, VILLAGE_B);
    let mut other = Phone::enrolled("cadre-b", other_device, &other_token);
    let in_b = other.report(VILLAGE_B, "乙村", T0);
    other.sync(&server.url());

    let backed_up = phone.report(VILLAGE_A, "备份前", T0);
    phone.sync(&server.url());
    let backup = dir.path().join("backup.fqb");
    server
        .running()
        .state
        .engine
        .storage()
        .backup_to(&backup)
        .expect("backup");
    // Confirmed after the backup, so the restored server lacks it.
    let after_backup = phone.report(VILLAGE_A, "备份后", T0 + 1);
    phone.sync(&server.url());
    server.stop();

    let restored = dir.path().join("restored");
    serve::restore(&backup, &restored).expect("restore");
    let server = TestServer::start_in(&restored);
    server
        .directory()
        .set_access(
            &device,
            DeviceAccess::new(Role::Cadre, Scope::parse(VILLAGE_B).expect("scope")),
        )
        .expect("reassigned");

    let report = phone.sync(&server.url());
    assert!(report.steps.iter().any(|s| s.reset), "the phone was told");
    assert!(
        report.steps.iter().any(|s| s.purged.contains(&backed_up)),
        "the reset carries the purge of the former village's records"
    );
    assert!(phone.replica.document(&backed_up).expect("read").is_none());
    assert!(phone.replica.document(&in_b).expect("read").is_some());
    // The record the restored server lost lies outside the phone's new
    // scope: it is refused, kept on the phone (its only copy) for a person
    // to look at, and not uploaded again.
    let attention = phone.replica.needing_attention().expect("read");
    assert_eq!(
        attention.iter().map(|(id, _)| id).collect::<Vec<_>>(),
        vec![&after_backup]
    );
    assert_eq!(attention[0].1.code, ErrorCode::Forbidden);
    assert!(
        phone
            .replica
            .document(&after_backup)
            .expect("read")
            .is_some()
    );
    for _ in 0..3 {
        let again = phone.sync(&server.url());
        assert_eq!(again.rounds, 1, "one round trip");
        assert_eq!(again.rejected(), 0, "nothing refused again");
        assert!(
            phone
                .client
                .next_request(&phone.replica)
                .expect("request")
                .docs
                .is_empty(),
            "nothing to upload"
        );
    }
}
