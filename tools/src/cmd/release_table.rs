//! What `ota release add` prints about the forms of a release: a table of every signed
//! target (kind, base, size, ratio to the raw image, time to make), and why a delta is
//! missing (dropped for saving too little, or no usable base image).

use update_core::firmware::Encoding;

use super::release::AddOutcome;
use crate::display::{Table, format_bytes, ratio};

/// One row per signed target: name, kind, base, size, ratio to the raw image, time.
pub fn forms_table(outcome: &AddOutcome) -> Table {
    let mut table = Table::new(&["TARGET", "KIND", "BASE", "SIZE", "RATIO", "TIME"]);
    for form in &outcome.published {
        let kind = match (form.encoding, &form.algorithm) {
            (Encoding::Delta, Some(algorithm)) => format!("delta ({algorithm})"),
            (encoding, _) => encoding_name(encoding).to_string(),
        };
        table.push(vec![
            short_name(&form.target_name),
            kind,
            form.base_version
                .as_ref()
                .map_or("-".to_string(), ToString::to_string),
            format_bytes(form.length),
            ratio(form.length, outcome.length),
            format!("{:.1}s", form.elapsed.as_secs_f64()),
        ]);
    }
    table
}

/// One line per delta not made or not published, saying why.
pub fn form_notes(outcome: &AddOutcome) -> Vec<String> {
    let dropped = outcome.dropped.iter().map(|d| {
        format!(
            "delta from {} ({}) not published: {} bytes is more than 0.8 x the {} form's {} bytes",
            d.base_version,
            d.base_target,
            d.length,
            encoding_name(d.full_kind),
            d.full_length
        )
    });
    let skipped = outcome.skipped.iter().map(|s| {
        format!(
            "no delta from {} ({}): {}",
            s.version, s.target_name, s.reason
        )
    });
    dropped.chain(skipped).collect()
}

fn encoding_name(encoding: Encoding) -> &'static str {
    match encoding {
        Encoding::Raw => "raw",
        Encoding::Zstd => "zstd",
        Encoding::Delta => "delta",
    }
}

/// A delta's name with the base sha256 cut to 12 digits, which tells bases apart in a
/// table without making it twice as wide (the full names are in targets.json).
fn short_name(name: &str) -> String {
    let shortened = name.rsplit_once(".from-").and_then(|(release, tail)| {
        let sha256 = tail.strip_suffix(".delta")?;
        (sha256.len() == 64).then(|| format!("{release}.from-{}….delta", &sha256[..12]))
    });
    shortened.unwrap_or_else(|| name.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delta_names_are_shortened_for_the_table() {
        let delta = format!("fw-1.1.0.img.from-{}.delta", "ab".repeat(32));
        assert_eq!(short_name(&delta), "fw-1.1.0.img.from-abababababab….delta");
        assert_eq!(short_name("fw-1.1.0.img.zst"), "fw-1.1.0.img.zst");
        assert_eq!(short_name("odd.from-x.delta"), "odd.from-x.delta");
    }
}
