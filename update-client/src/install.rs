//! Writing a verified release into the inactive slot.
//!
//! The download streams straight into the slot through a 64 KiB buffer while it is
//! hashed; the image is never held in memory. A wrong length or hash stops the install
//! and leaves the slot dirty but the device untouched (the bootloader still points at the
//! running slot). A good download is flushed to the device and read back once more
//! before the caller may switch anything.

use update_core::api::Slot;
use update_core::firmware::Firmware;
use update_core::schema::TargetFile;
use update_core::trust::TrustedMetadata;

use crate::error::{Error, Result};
use crate::slots::Slots;
use crate::tuf::Updater;

/// One install: which verified target goes into which slot.
pub struct Install<'a> {
    pub updater: &'a Updater,
    pub trusted: &'a TrustedMetadata,
    pub target_name: &'a str,
    pub target: &'a TargetFile,
    pub firmware: &'a Firmware,
    pub slots: &'a Slots,
    pub to_slot: Slot,
    pub booted: Slot,
}

impl Install<'_> {
    /// Downloads, writes and verifies. `bytes_downloaded` counts what arrived, also when
    /// the install fails.
    pub async fn run(&self, bytes_downloaded: &mut u64) -> Result<()> {
        let url = self
            .updater
            .target_url(self.trusted, self.target_name, self.target)?;
        let mut writer =
            self.slots
                .open_for_install(self.to_slot, self.booted, self.target.length)?;
        self.updater
            .download_target(&url, self.target_name, self.target, |chunk| {
                *bytes_downloaded += chunk.len() as u64;
                writer.write(chunk)
            })
            .await?;
        let (written, sha256) = writer.finish()?;
        let image = &self.firmware.image;
        if written != image.length || !sha256.eq_ignore_ascii_case(&image.sha256) {
            return Err(Error::TargetMismatch {
                what: self.target_name.to_string(),
                reason: "written image differs from the signed firmware image".into(),
            });
        }
        self.slots.verify(self.to_slot, image.length, &image.sha256)
    }
}
