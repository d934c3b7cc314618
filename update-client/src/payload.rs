//! Which signed form of a release to download: a delta from the running image, else the
//! zstd-compressed image, else the raw image (docs/client.md, "Payload").
//!
//! The device is assigned the raw target; the other forms are found by name in the same
//! verified metadata (`delta_target_name(release, running sha256)`, `zstd_target_name`)
//! and used only if their signed firmware fields say they make exactly that raw image:
//! the same release (version, class, hardware, image length and sha256), the right
//! encoding, `release` naming the raw target and, for a delta, a `base` equal to the
//! running image's length and sha256. The result is a [`Plan`]: the usable forms, best
//! first, ending with the raw image, each with the reason it would be used. This module
//! decides only; `crate::install` downloads and checks bytes.

use update_core::api::{Payload, PayloadKind};
use update_core::firmware::{Encoding, Firmware, delta_target_name, zstd_target_name};
use update_core::schema::TargetFile;

use crate::config::PayloadConfig;
use crate::decision::encoding_name;
use crate::state::SlotContent;

/// One signed form of the release.
#[derive(Clone, Debug, PartialEq)]
pub struct Form {
    pub kind: PayloadKind,
    pub target_name: String,
    pub target: TargetFile,
    /// Its firmware fields: `image` is always the raw image; `base` is set for a delta.
    pub firmware: Firmware,
}

impl Form {
    /// The raw image the device was assigned.
    pub fn raw(target_name: &str, target: &TargetFile, firmware: &Firmware) -> Form {
        Form {
            kind: PayloadKind::Raw,
            target_name: target_name.to_string(),
            target: target.clone(),
            firmware: firmware.clone(),
        }
    }
}

/// Why a delta or compressed form is not used.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Unusable {
    #[error("disabled in [payload]")]
    Disabled,
    #[error("no record of what the running slot holds")]
    NoRunningImage,
    #[error("{name} is not published")]
    NotPublished { name: String },
    #[error("looking up {name} failed: {reason}")]
    LookupFailed { name: String, reason: String },
    #[error("{name} carries no firmware fields")]
    NotFirmware { name: String },
    #[error("{name} has invalid firmware fields: {reason}")]
    InvalidFirmware { name: String, reason: String },
    #[error("{name} has encoding {found}")]
    WrongEncoding { name: String, found: &'static str },
    #[error("{name} stands for release {found}, not {expected}")]
    OtherRelease {
        name: String,
        found: String,
        expected: String,
    },
    #[error("{name} describes other firmware than {release} (version, class, hardware or image)")]
    NotSameRelease { name: String, release: String },
    #[error(
        "{name} applies to a {base_length}-byte image with sha256 {base_sha256}, the running image is {running_length} bytes with sha256 {running_sha256}"
    )]
    OtherBase {
        name: String,
        base_length: u64,
        base_sha256: String,
        running_length: u64,
        running_sha256: String,
    },
    #[error("{name} is {length} bytes, more than payload.max_delta_spool ({limit})")]
    TooLarge {
        name: String,
        length: u64,
        limit: u64,
    },
}

/// A form to try and why it would be used.
#[derive(Clone, Debug, PartialEq)]
pub struct Step {
    pub form: Form,
    pub reason: String,
}

/// The forms to try in order; the last is the raw image.
#[derive(Clone, Debug, PartialEq)]
pub struct Plan {
    pub steps: Vec<Step>,
}

/// The result of looking a form's name up in the verified metadata: the target if it is
/// listed, or why the lookup failed.
pub type Lookup = Result<Option<TargetFile>, String>;

/// The name a delta from the running image to the release is published under.
pub fn delta_name(raw: &Form, running: &SlotContent) -> String {
    delta_target_name(&raw.target_name, &running.sha256)
}

/// The name the release's compressed form is published under.
pub fn zstd_name(raw: &Form) -> String {
    zstd_target_name(&raw.target_name)
}

/// Checks what was found under [`delta_name`] (ignored when deltas are disabled or the
/// running image is unknown).
pub fn check_delta(
    config: &PayloadConfig,
    raw: &Form,
    running: Option<&SlotContent>,
    found: &Lookup,
) -> Result<Form, Unusable> {
    if !config.delta {
        return Err(Unusable::Disabled);
    }
    let running = running.ok_or(Unusable::NoRunningImage)?;
    let name = delta_name(raw, running);
    let form = check_form(raw, &name, found, Encoding::Delta, PayloadKind::Delta)?;
    let base = form
        .firmware
        .base
        .as_ref()
        .ok_or_else(|| Unusable::InvalidFirmware {
            name: name.clone(),
            reason: "a delta without `base`".into(),
        })?;
    if base.length != running.length || !base.sha256.eq_ignore_ascii_case(&running.sha256) {
        return Err(Unusable::OtherBase {
            name,
            base_length: base.length,
            base_sha256: base.sha256.clone(),
            running_length: running.length,
            running_sha256: running.sha256.clone(),
        });
    }
    if form.target.length > config.max_delta_spool {
        return Err(Unusable::TooLarge {
            name,
            length: form.target.length,
            limit: config.max_delta_spool,
        });
    }
    Ok(form)
}

/// Checks what was found under [`zstd_name`] (ignored when disabled).
pub fn check_zstd(config: &PayloadConfig, raw: &Form, found: &Lookup) -> Result<Form, Unusable> {
    if !config.zstd {
        return Err(Unusable::Disabled);
    }
    check_form(
        raw,
        &zstd_name(raw),
        found,
        Encoding::Zstd,
        PayloadKind::Zstd,
    )
}

/// What a delta and a compressed form share: published, firmware, the expected encoding,
/// standing for the raw target, the same release.
fn check_form(
    raw: &Form,
    name: &str,
    found: &Lookup,
    encoding: Encoding,
    kind: PayloadKind,
) -> Result<Form, Unusable> {
    let target = found
        .as_ref()
        .map_err(|reason| Unusable::LookupFailed {
            name: name.to_string(),
            reason: reason.clone(),
        })?
        .as_ref()
        .ok_or_else(|| Unusable::NotPublished {
            name: name.to_string(),
        })?;
    let firmware = Firmware::of_target(name, target)
        .map_err(|e| Unusable::InvalidFirmware {
            name: name.to_string(),
            reason: e.to_string(),
        })?
        .ok_or_else(|| Unusable::NotFirmware {
            name: name.to_string(),
        })?;
    if firmware.encoding != encoding {
        return Err(Unusable::WrongEncoding {
            name: name.to_string(),
            found: encoding_name(firmware.encoding),
        });
    }
    if firmware.release.as_deref() != Some(raw.target_name.as_str()) {
        return Err(Unusable::OtherRelease {
            name: name.to_string(),
            found: firmware.release.clone().unwrap_or_default(),
            expected: raw.target_name.clone(),
        });
    }
    if !raw.firmware.same_release(&firmware) {
        return Err(Unusable::NotSameRelease {
            name: name.to_string(),
            release: raw.target_name.clone(),
        });
    }
    Ok(Form {
        kind,
        target_name: name.to_string(),
        target: target.clone(),
        firmware,
    })
}

/// The forms to try: the delta if usable, then the compressed image if usable, then the
/// raw image; each with the reason it would be used.
pub fn plan(raw: Form, delta: Result<Form, Unusable>, zstd: Result<Form, Unusable>) -> Plan {
    let mut steps = Vec::new();
    let mut why_not = Vec::new();
    match delta {
        Ok(form) => {
            let reason = match &form.firmware.base {
                Some(base) => format!(
                    "a delta from {} matches the running image (sha256 {})",
                    base.version,
                    short(&base.sha256)
                ),
                None => "a delta matches the running image".into(),
            };
            steps.push(Step { form, reason });
        }
        Err(unusable) => why_not.push(format!("no usable delta: {unusable}")),
    }
    match zstd {
        Ok(form) => {
            let reason = match steps.is_empty() {
                true => format!("{}; compressed full image", why_not.join("; ")),
                false => "compressed full image, after the delta".into(),
            };
            steps.push(Step { form, reason });
        }
        Err(unusable) => why_not.push(format!("no usable compressed image: {unusable}")),
    }
    let reason = match steps.last() {
        None => format!("{}; raw image", why_not.join("; ")),
        Some(last) => format!("raw image, after the {}", kind_name(last.form.kind)),
    };
    steps.push(Step { form: raw, reason });
    Plan { steps }
}

/// The report's description of installing `step` (after `delta_failure`, if any).
pub fn payload_of(step: &Step, delta_failure: Option<String>) -> Payload {
    Payload {
        kind: step.form.kind,
        target_name: step.form.target_name.clone(),
        base_version: step.form.firmware.base.as_ref().map(|b| b.version.clone()),
        length: step.form.target.length,
        reason: step.reason.clone(),
        delta_failure,
    }
}

pub fn kind_name(kind: PayloadKind) -> &'static str {
    match kind {
        PayloadKind::Delta => "delta",
        PayloadKind::Zstd => "compressed image",
        PayloadKind::Raw => "raw image",
    }
}

/// The first 12 hex digits of a sha256, enough for a log line.
fn short(sha256: &str) -> &str {
    sha256.get(..12).unwrap_or(sha256)
}

#[cfg(test)]
mod tests;
