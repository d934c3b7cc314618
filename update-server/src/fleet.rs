//! The assignment rule: which release a class should run and whether a device gets it.
//!
//! A class's approved release is its pin when the pinned release is still published
//! (a withdrawn pin approves nothing, rather than silently moving the class on), else its
//! newest published release by semantic version. A device is assigned the approved
//! release only if its hardware id is listed for it.

use std::collections::BTreeMap;

use update_core::api::{Assignment, Release};

use crate::store::{Store, StoreError};

/// The published releases and the operators' pins.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Catalogue {
    /// Releases of the newest published targets version.
    pub releases: Vec<Release>,
    /// Pinned target name per class.
    pub pins: BTreeMap<String, String>,
}

impl Catalogue {
    pub async fn load(store: &Store) -> Result<Catalogue, StoreError> {
        Ok(Catalogue {
            releases: store.current_releases().await?,
            pins: store.pins().await?,
        })
    }

    /// The release `class` should run.
    pub fn approved(&self, class: &str) -> Option<&Release> {
        let mut of_class = self.releases.iter().filter(|r| r.class == class);
        match self.pins.get(class) {
            Some(pinned) => of_class.find(|r| &r.target_name == pinned),
            // Equal versions under two names: the later name wins, so the choice is stable.
            None => of_class
                .max_by(|a, b| (&a.version, &a.target_name).cmp(&(&b.version, &b.target_name))),
        }
    }

    /// The current release named `target_name`.
    pub fn release(&self, target_name: &str) -> Option<&Release> {
        self.releases.iter().find(|r| r.target_name == target_name)
    }

    /// What a device of `class` with `hardware_id` should install, if anything.
    pub fn assignment(&self, class: &str, hardware_id: &str) -> Option<Assignment> {
        self.approved(class)
            .and_then(|release| assign(release, hardware_id))
    }

    /// The current release `target_name` of `class` for a device with `hardware_id`.
    pub fn assignment_of(
        &self,
        class: &str,
        target_name: &str,
        hardware_id: &str,
    ) -> Option<Assignment> {
        self.release(target_name)
            .filter(|release| release.class == class)
            .and_then(|release| assign(release, hardware_id))
    }
}

/// `release` as an assignment, if it lists `hardware_id`.
fn assign(release: &Release, hardware_id: &str) -> Option<Assignment> {
    release
        .hardware
        .iter()
        .any(|h| h == hardware_id)
        .then(|| Assignment {
            target_name: release.target_name.clone(),
            version: release.version.clone(),
            retry: false,
            hold: None,
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn release(name: &str, class: &str, version: &str, hardware: &[&str]) -> Release {
        Release {
            target_name: name.into(),
            version: version.parse().unwrap(),
            class: class.into(),
            hardware: hardware.iter().map(|h| h.to_string()).collect(),
            sha256: "00".repeat(32),
            length: 1,
        }
    }

    fn catalogue() -> Catalogue {
        Catalogue {
            releases: vec![
                release("cam-1.2.0.img", "camera", "1.2.0", &["cam-v2"]),
                // Semantic, not lexical order: 1.10.0 is newer than 1.9.0.
                release("cam-1.10.0.img", "camera", "1.10.0", &["cam-v2", "cam-v3"]),
                release("cam-1.9.0.img", "camera", "1.9.0", &["cam-v2"]),
                release("cam-2.0.0-rc.1.img", "camera", "2.0.0-rc.1", &["cam-v3"]),
                release("door-3.0.0.img", "doorbell", "3.0.0", &["door-v1"]),
            ],
            pins: BTreeMap::new(),
        }
    }

    #[test]
    fn newest_release_by_semver_is_approved_without_a_pin() {
        let catalogue = catalogue();
        let approved = catalogue.approved("camera").unwrap();
        // 2.0.0-rc.1 > 1.10.0 by semver precedence.
        assert_eq!(approved.target_name, "cam-2.0.0-rc.1.img");
        assert_eq!(
            catalogue.approved("doorbell").unwrap().version.to_string(),
            "3.0.0"
        );
        assert_eq!(catalogue.approved("thermostat"), None);
    }

    #[test]
    fn a_pin_wins_while_its_release_is_published() {
        let mut catalogue = catalogue();
        catalogue
            .pins
            .insert("camera".into(), "cam-1.10.0.img".into());
        assert_eq!(
            catalogue.assignment("camera", "cam-v2"),
            Some(Assignment {
                target_name: "cam-1.10.0.img".into(),
                version: "1.10.0".parse().unwrap(),
                retry: false,
                hold: None,
            })
        );
        catalogue
            .pins
            .insert("camera".into(), "withdrawn.img".into());
        assert_eq!(catalogue.approved("camera"), None);
        // A pin naming another class's release approves nothing either.
        catalogue
            .pins
            .insert("camera".into(), "door-3.0.0.img".into());
        assert_eq!(catalogue.approved("camera"), None);
    }

    #[test]
    fn only_listed_hardware_is_assigned() {
        let catalogue = catalogue();
        assert_eq!(
            catalogue
                .assignment("camera", "cam-v3")
                .map(|a| a.target_name),
            Some("cam-2.0.0-rc.1.img".to_string())
        );
        assert_eq!(catalogue.assignment("camera", "cam-v2"), None);
        assert_eq!(catalogue.assignment("doorbell", "cam-v3"), None);
    }
}
