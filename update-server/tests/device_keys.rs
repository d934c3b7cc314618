//! The in-memory copy of device keys against a real database changed behind its back,
//! as another replica would change it: a remembered key is used until asked to read
//! again, a revoked device's key is gone on that read, and a replacement key is found.

use update_core::device_auth::DeviceKey;
use update_server::device_keys::DeviceKeys;
use update_server::store::{KeyEnrollment, Store};

fn enrollment<'a>(device_id: &'a str, public_key: &'a str) -> KeyEnrollment<'a> {
    KeyEnrollment {
        device_id,
        class: "camera",
        public_key,
        hardware_id: None,
        sequence: 0,
    }
}

#[tokio::test]
async fn a_replaced_key_is_read_again_and_a_revoked_one_is_dropped() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("server.db")).await.unwrap();
    let keys = DeviceKeys::default();
    let (old, new) = (DeviceKey::generate(), DeviceKey::generate());
    let old_hex = old.public_key_hex();
    store
        .enroll_device_key(&enrollment("cam-1", &old_hex))
        .await
        .unwrap();
    assert!(keys.get(&store, "nobody", false).await.unwrap().is_none());
    let first = keys.get(&store, "cam-1", false).await.unwrap().unwrap();
    assert_eq!(first.key, old.verifying_key());
    assert_eq!(first.class, "camera");

    // Another replica revokes the device: the copy still answers until it reads again
    // (the sequence check refuses the device meanwhile), then forgets it.
    assert!(store.revoke_device("cam-1").await.unwrap());
    assert!(keys.get(&store, "cam-1", false).await.unwrap().is_some());
    assert!(!store.advance_sequence("cam-1", 1).await.unwrap());
    assert!(keys.get(&store, "cam-1", true).await.unwrap().is_none());

    // ... and enrols a new key for it: found on the next read.
    let new_hex = new.public_key_hex();
    store
        .enroll_device_key(&enrollment("cam-1", &new_hex))
        .await
        .unwrap();
    let replaced = keys.get(&store, "cam-1", false).await.unwrap().unwrap();
    assert_eq!(replaced.key, new.verifying_key());
    assert!(store.advance_sequence("cam-1", 2).await.unwrap());
}
