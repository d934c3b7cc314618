//! `slots.json`: what each slot holds, as far as this agent has verified.
//!
//! A slot's entry is cleared before anything is written to it and set again only after
//! the written image was read back and matched its signed hash, so after a crash a
//! half-written slot is never mistaken for a good one.

use serde::{Deserialize, Serialize};
use update_core::api::Slot;

/// A verified image in a slot.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SlotContent {
    pub version: semver::Version,
    /// The TUF target it came from; `None` for the factory image.
    #[serde(default)]
    pub target_name: Option<String>,
    pub length: u64,
    pub sha256: String,
}

/// Both slots; `None` is a slot whose content is unknown or being rewritten.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SlotRecords {
    #[serde(rename = "A")]
    pub a: Option<SlotContent>,
    #[serde(rename = "B")]
    pub b: Option<SlotContent>,
}

impl SlotRecords {
    pub fn get(&self, slot: Slot) -> Option<&SlotContent> {
        match slot {
            Slot::A => self.a.as_ref(),
            Slot::B => self.b.as_ref(),
        }
    }

    pub fn set(&mut self, slot: Slot, content: Option<SlotContent>) {
        match slot {
            Slot::A => self.a = content,
            Slot::B => self.b = content,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_form_names_slots_by_letter_and_round_trips() {
        let mut records = SlotRecords::default();
        records.set(
            Slot::A,
            Some(SlotContent {
                version: semver::Version::new(1, 0, 0),
                target_name: None,
                length: 4,
                sha256: "ab".repeat(32),
            }),
        );
        let json = serde_json::to_value(&records).unwrap();
        assert_eq!(json["A"]["version"], "1.0.0");
        assert!(json["B"].is_null());
        let back: SlotRecords = serde_json::from_value(json).unwrap();
        assert_eq!(back, records);
        assert_eq!(back.get(Slot::A).unwrap().length, 4);
        assert!(back.get(Slot::B).is_none());
    }
}
