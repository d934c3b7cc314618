//! `ota class` and `ota rollout` against the real server binary: a profile set in parts,
//! shown and listed; a rollout started by version, listed with its waves, paused and
//! aborted; bad input refused with a non-zero exit before anything is sent.

use tests::World;
use tests::images::write_image;

const CLASS: &str = "cam";
const IMAGE_SIZE: usize = 64 * 1024;

#[test]
fn operators_set_profiles_and_drive_a_rollout_with_ota() {
    let world = World::start();
    let v1 = world.path("fw-1.0.0.img");
    let v2 = world.path("fw-2.0.0.img");
    write_image(&v1, 1, IMAGE_SIZE);
    write_image(&v2, 2, IMAGE_SIZE);
    world.release(&v1, "1.0.0", CLASS, &["board-a"]);
    world.release(&v2, "2.0.0", CLASS, &["board-a"]);
    world.publish();
    for n in 0..8 {
        world.enroll(&format!("cam-{n}"), CLASS);
    }
    let ota = |args: &[&str]| world.ota_admin(args);

    ota(&[
        "class",
        "set",
        CLASS,
        "--hardware",
        "board-a",
        "--baseline",
        "cam-1.0.0.img",
    ])
    .assert_ok("class set");
    let shown = ota(&[
        "class",
        "set",
        CLASS,
        "--window",
        "22:00-04:00",
        "--poll-interval",
        "5m",
    ]);
    shown.assert_ok("class set window");
    // The second `set` kept what the first one set.
    assert!(
        shown.stdout.contains("baseline:          cam-1.0.0.img"),
        "{}",
        shown.stdout
    );
    assert!(
        shown.stdout.contains("hardware:          board-a"),
        "{}",
        shown.stdout
    );
    assert!(shown.stdout.contains("22:00-04:00 UTC"), "{}", shown.stdout);
    assert!(
        shown.stdout.contains("poll interval:     300s"),
        "{}",
        shown.stdout
    );
    let listed = ota(&["class", "list"]);
    listed.assert_ok("class list");
    assert!(listed.stdout.contains("cam-1.0.0.img"), "{}", listed.stdout);

    let refused = ota(&["class", "set", CLASS, "--approved-network", "10.0.0.0/33"]);
    assert!(!refused.success(), "a bad CIDR is refused");
    assert!(refused.stderr.contains("CIDR"), "{}", refused.stderr);

    let started = ota(&[
        "rollout",
        "start",
        CLASS,
        "2.0.0",
        "--waves",
        "25,100",
        "--soak",
        "1h",
        "--max-failure-rate",
        "5%",
        "--min-finished",
        "2",
    ]);
    started.assert_ok("rollout start");
    assert!(
        started.stdout.contains("running (wave 1 of 2"),
        "{}",
        started.stdout
    );
    let id = started
        .stdout
        .split_whitespace()
        .nth(1)
        .expect("rollout id printed")
        .to_string();
    let again = ota(&[
        "rollout",
        "start",
        CLASS,
        "2.0.0",
        "--waves",
        "100",
        "--soak",
        "0s",
        "--max-failure-rate",
        "5%",
    ]);
    assert!(!again.success(), "one active rollout per class");
    assert!(again.stderr.contains("409"), "{}", again.stderr);

    let status = ota(&["rollout", "status", CLASS]);
    status.assert_ok("rollout status");
    assert!(status.stdout.contains(&id), "{}", status.stdout);
    assert!(status.stdout.contains("FAILURE RATE"), "{}", status.stdout);
    let paused = ota(&["rollout", "pause", &id]);
    paused.assert_ok("rollout pause");
    assert!(paused.stdout.contains("paused"), "{}", paused.stdout);
    let aborted = ota(&["rollout", "abort", &id]);
    aborted.assert_ok("rollout abort");
    assert!(
        aborted.stdout.contains("aborted by an operator"),
        "{}",
        aborted.stdout
    );
    let by_id = ota(&["rollout", "status", &id]);
    by_id.assert_ok("rollout status by id");
    assert!(by_id.stdout.contains("aborted"), "{}", by_id.stdout);
}
