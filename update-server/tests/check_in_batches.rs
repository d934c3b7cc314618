//! Group commit of check-ins against a real SQLite database: hundreds of concurrent
//! check-ins, written in shared statements, each land on their own device row and each
//! gets its own device's retry flag back.

use update_core::api::{CheckIn, Slot};
use update_server::store::{CheckInSource, DeviceIdentity, Store};

const DEVICES: usize = 600;

fn check_in(n: usize) -> CheckIn {
    CheckIn {
        device_id: format!("dev-{n}"),
        class: "camera".into(),
        hardware_id: format!("hw-{}", n % 7),
        firmware_version: semver::Version::new(1, 0, n as u64),
        image_sha256: format!("{n:064x}"),
        boot_slot: if n % 2 == 0 { Slot::A } else { Slot::B },
        pending_update: None,
        clock_untrusted: n % 5 == 0,
        config: None,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_check_ins_each_write_their_own_row() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("server.db")).await.unwrap();
    let devices: Vec<(DeviceIdentity, String)> = (0..DEVICES)
        .map(|n| {
            let identity = DeviceIdentity {
                device_id: format!("dev-{n}"),
                class: "camera".into(),
            };
            (identity, format!("{n:064x}"))
        })
        .collect();
    store.enroll_devices(&devices).await.unwrap();
    for n in (0..DEVICES).step_by(3) {
        assert!(store.request_retry(&format!("dev-{n}")).await.unwrap());
    }

    let tasks: Vec<_> = (0..DEVICES)
        .map(|n| {
            let store = store.clone();
            tokio::spawn(async move {
                let source = CheckInSource {
                    address: format!("10.0.{}.{}", n / 250, n % 250),
                    relay: (n % 4 == 0).then(|| "edge".to_string()),
                };
                let peer = format!("127.0.0.1:{}", 10_000 + n);
                let recorded = store
                    .record_check_in(&check_in(n), &peer, &source, None)
                    .await
                    .unwrap();
                (n, recorded.retry_requested)
            })
        })
        .collect();
    for task in tasks {
        let (n, retry) = task.await.unwrap();
        assert_eq!(retry, n % 3 == 0, "retry flag of dev-{n}");
    }

    let rows = store.devices().await.unwrap();
    assert_eq!(rows.len(), DEVICES);
    for row in rows {
        let n: usize = row.device_id["dev-".len()..].parse().unwrap();
        let sent = check_in(n);
        assert_eq!(row.firmware_version, Some(sent.firmware_version), "dev-{n}");
        assert_eq!(row.hardware_id, Some(sent.hardware_id), "dev-{n}");
        assert_eq!(row.boot_slot, Some(sent.boot_slot), "dev-{n}");
        assert_eq!(row.clock_untrusted, sent.clock_untrusted, "dev-{n}");
        assert_eq!(
            row.source_address.as_deref(),
            Some(format!("10.0.{}.{}", n / 250, n % 250).as_str())
        );
        assert_eq!(row.relay.as_deref(), (n % 4 == 0).then_some("edge"));
        assert!(row.last_seen.is_some());
    }
}

#[tokio::test]
async fn a_check_in_of_an_unknown_device_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("server.db")).await.unwrap();
    let source = CheckInSource {
        address: "127.0.0.1".into(),
        relay: None,
    };
    let recorded = store
        .record_check_in(&check_in(1), "127.0.0.1:1", &source, None)
        .await
        .unwrap();
    assert!(!recorded.retry_requested);
    assert!(store.devices().await.unwrap().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replay_racing_its_original_is_accepted_once() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("server.db")).await.unwrap();
    let device = DeviceIdentity {
        device_id: "dev-0".into(),
        class: "camera".into(),
    };
    store
        .enroll_devices(&[(device, "00".repeat(32))])
        .await
        .unwrap();
    for round in 1..=20i64 {
        // The same sequence sent 8 times at once, plus a lower one: one acceptance.
        let sequence = round * 100;
        let tries: Vec<_> = (0..9)
            .map(|n| {
                let store = store.clone();
                let sequence = if n == 8 { sequence - 1 } else { sequence };
                let task =
                    tokio::spawn(async move { store.advance_sequence("dev-0", sequence).await });
                (n == 8, task)
            })
            .collect();
        let mut accepted_copies = 0;
        for (lower, attempt) in tries {
            let accepted = attempt.await.unwrap().unwrap();
            if !lower {
                accepted_copies += usize::from(accepted);
            }
        }
        assert_eq!(accepted_copies, 1, "round {round}");
        assert_eq!(store.sequence_floor("dev-0").await.unwrap(), Some(sequence));
        assert!(!store.advance_sequence("dev-0", sequence).await.unwrap());
    }
}
