//! Parsing and validation of configuration profiles, and drift against device digests.

use serde_json::json;

use super::*;

const SHA_A: &str = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
const SHA_B: &str = "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb";

fn profile_with(paths: &[&str]) -> serde_json::Value {
    let files: Vec<_> = paths
        .iter()
        .map(|path| json!({"path": path, "sha256": SHA_A}))
        .collect();
    json!({"class": "camera", "version": 3, "files": files})
}

fn parse(value: serde_json::Value) -> Result<ConfigProfile, ProfileError> {
    ConfigProfile::parse(&serde_json::to_vec(&value).unwrap())
}

#[test]
fn a_sorted_profile_parses() {
    let profile = parse(profile_with(&["/etc/hosts", "/etc/ssh/sshd_config"])).unwrap();
    assert_eq!(
        profile.reference(),
        ProfileRef {
            class: "camera".into(),
            version: 3
        }
    );
    assert_eq!(profile.files.len(), 2);
}

#[test]
fn bad_paths_are_refused() {
    for path in [
        "etc/hosts",
        "/etc/../shadow",
        "/etc/./x",
        "/etc//x",
        "/etc/",
        "/",
        "/a\0b",
    ] {
        assert_eq!(
            parse(profile_with(&[path])),
            Err(ProfileError::BadPath(path.into())),
            "{path:?}"
        );
    }
    let long = format!("/{}", "x".repeat(MAX_PATH_LEN));
    assert!(matches!(
        parse(profile_with(&[&long])),
        Err(ProfileError::BadPath(_))
    ));
}

#[test]
fn duplicate_and_unsorted_paths_are_refused() {
    assert_eq!(
        parse(profile_with(&["/etc/a", "/etc/a"])),
        Err(ProfileError::Unsorted("/etc/a".into()))
    );
    assert_eq!(
        parse(profile_with(&["/etc/b", "/etc/a"])),
        Err(ProfileError::Unsorted("/etc/a".into()))
    );
}

#[test]
fn too_many_files_are_refused() {
    let paths: Vec<String> = (0..=MAX_FILES).map(|i| format!("/etc/f{i:04}")).collect();
    let refs: Vec<&str> = paths.iter().map(String::as_str).collect();
    assert_eq!(
        parse(profile_with(&refs)),
        Err(ProfileError::TooManyFiles(MAX_FILES + 1))
    );
    assert!(parse(profile_with(&refs[..MAX_FILES])).is_ok());
}

#[test]
fn bad_digests_classes_versions_and_fields_are_refused() {
    let mut value = profile_with(&["/etc/a"]);
    value["files"][0]["sha256"] = json!(SHA_A.to_uppercase());
    assert!(matches!(parse(value), Err(ProfileError::BadDigest { .. })));
    let mut value = profile_with(&["/etc/a"]);
    value["version"] = json!(0);
    assert_eq!(parse(value), Err(ProfileError::Version));
    let mut value = profile_with(&["/etc/a"]);
    value["class"] = json!("../x");
    assert!(matches!(parse(value), Err(ProfileError::Identifier(_))));
    let mut value = profile_with(&["/etc/a"]);
    value["contents"] = json!("secret");
    assert!(matches!(parse(value), Err(ProfileError::Json(_))));
}

#[test]
fn drift_names_missing_unreadable_and_changed_files() {
    let mut value = profile_with(&["/etc/a", "/etc/b", "/etc/c", "/etc/d"]);
    value["files"][1]["sha256"] = json!(SHA_B);
    let profile = parse(value).unwrap();
    let digest = |path: &str, sha256: Option<&str>| FileDigest {
        path: path.into(),
        sha256: sha256.map(String::from),
    };
    let digests = [
        digest("/etc/a", Some(SHA_A)),
        digest("/etc/b", Some(SHA_A)),
        digest("/etc/c", None),
        digest("/etc/unlisted", Some(SHA_A)),
    ];
    assert_eq!(profile.drifted(&digests), ["/etc/b", "/etc/c", "/etc/d"]);
}

fn target(name_class: &str, version: u64) -> TargetFile {
    serde_json::from_value(json!({
        "length": 10, "hashes": {"sha256": SHA_A},
        "custom": {"config_profile": {"class": name_class, "version": version}}
    }))
    .unwrap()
}

#[test]
fn the_newest_profile_of_the_class_is_found_by_its_signed_fields() {
    let mut targets = Targets::new(1, chrono::Utc::now());
    for (class, version) in [("camera", 2), ("camera", 10), ("sensor", 99)] {
        targets
            .targets
            .insert(profile_target_name(class, version), target(class, version));
    }
    // Named like a newer camera profile but carrying another class's fields: skipped.
    targets
        .targets
        .insert(profile_target_name("camera", 50), target("sensor", 50));
    let (name, _, version) = newest_profile(&targets, "camera").unwrap();
    assert_eq!((name, version), ("config/camera-10.json", 10));
    assert!(newest_profile(&targets, "router").is_none());
    assert!(matches!(
        profile_of_target("config/camera-50.json", &target("sensor", 50)),
        Err(ProfileError::Name { .. })
    ));
}
