//! Where the environment lives: the `fw_env.config` file shared with `fw_printenv`.
//!
//! One line per copy, `DEVICE OFFSET SIZE [SECTOR_SIZE [SECTORS [NO_MTD_LOCK]]]`; two lines
//! make a redundant environment (the copies may be in one file or two). `#` starts a
//! comment. Numbers are read exactly as libubootenv and U-Boot's `fw_env.c` read them,
//! so both always agree on the layout: OFFSET like C's `%lli` (`0x` hex, leading-`0`
//! octal, decimal; negative counts back from the end of a block device), the sizes like
//! `%x`, i.e. always hexadecimal, with or without `0x`. A relative DEVICE is taken
//! relative to the config file's directory.

use std::path::{Path, PathBuf};

use super::env::{MAX_ENV_SIZE, header_len};
use super::error::UbootError;

/// Largest `fw_env.config` read.
const MAX_CONFIG_SIZE: u64 = 64 * 1024;

/// Where one copy of the environment is stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CopyLocation {
    pub device: PathBuf,
    /// Bytes from the start of the device; negative: back from its end (block devices).
    pub offset: i64,
    /// Bytes of the copy, header included (U-Boot's `CONFIG_ENV_SIZE`).
    pub size: usize,
    /// MTD erase block size; `None`: the device's own.
    pub sector_size: Option<u64>,
    /// MTD erase blocks reserved for the copy, spares for NAND bad blocks included;
    /// `None`: as many as the copy needs.
    pub sectors: Option<u64>,
    /// MTD only: unlock blocks before erasing and lock them again after (libubootenv's
    /// default; a non-zero sixth column turns it off).
    pub mtd_lock: bool,
}

/// The copies of the environment, one (single) or two (redundant).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EnvLayout {
    copies: Vec<CopyLocation>,
}

impl EnvLayout {
    /// Reads and parses the `fw_env.config`-style file at `path`.
    pub fn load(path: &Path) -> Result<EnvLayout, UbootError> {
        let bytes = crate::atomic::read_limited(path, MAX_CONFIG_SIZE)
            .map_err(UbootError::io(format!("reading {}", path.display())))?
            .ok_or_else(|| config_error(path, "no such file".into()))?;
        let text =
            String::from_utf8(bytes).map_err(|_| config_error(path, "not UTF-8 text".into()))?;
        EnvLayout::parse(&text, path)
    }

    /// Parses config text; `path` names it in errors and anchors relative device paths.
    pub fn parse(text: &str, path: &Path) -> Result<EnvLayout, UbootError> {
        let base_dir = path.parent().unwrap_or(Path::new(""));
        let mut copies = Vec::new();
        for (number, line) in text.lines().enumerate() {
            let fields: Vec<&str> = line
                .split_ascii_whitespace()
                .take_while(|field| !field.starts_with('#'))
                .collect();
            if fields.is_empty() {
                continue;
            }
            let location = parse_line(&fields, base_dir)
                .map_err(|reason| config_error(path, format!("line {}: {reason}", number + 1)))?;
            copies.push(location);
        }
        let layout = EnvLayout { copies };
        layout
            .validate()
            .map_err(|reason| config_error(path, reason))?;
        Ok(layout)
    }

    /// Builds a layout from locations, with the same checks as a parsed file.
    pub fn new(copies: Vec<CopyLocation>) -> Result<EnvLayout, String> {
        let layout = EnvLayout { copies };
        layout.validate()?;
        Ok(layout)
    }

    pub fn copies(&self) -> &[CopyLocation] {
        &self.copies
    }

    pub fn is_redundant(&self) -> bool {
        self.copies.len() == 2
    }

    /// Bytes of each copy.
    pub fn size(&self) -> usize {
        self.copies.first().map_or(0, |copy| copy.size)
    }

    fn validate(&self) -> Result<(), String> {
        let [first, rest @ ..] = self.copies.as_slice() else {
            return Err("no environment lines (DEVICE OFFSET SIZE)".into());
        };
        if rest.len() > 1 {
            return Err("more than two environment lines".into());
        }
        let header = header_len(self.is_redundant());
        if first.size <= header || first.size > MAX_ENV_SIZE {
            return Err(format!(
                "environment size {:#x} out of range: more than {header} bytes and at most {MAX_ENV_SIZE:#x}",
                first.size
            ));
        }
        if rest.iter().any(|copy| copy.size != first.size) {
            return Err("the two copies must have the same size".into());
        }
        Ok(())
    }
}

fn parse_line(fields: &[&str], base_dir: &Path) -> Result<CopyLocation, String> {
    let [device, offset, size, optional @ ..] = fields else {
        return Err("expected DEVICE OFFSET SIZE [SECTOR_SIZE [SECTORS [NO_MTD_LOCK]]]".into());
    };
    if optional.len() > 3 {
        return Err(format!("too many fields ({})", fields.len()));
    }
    let hex_field = |index: usize, what: &str| -> Result<Option<u64>, String> {
        optional
            .get(index)
            .map(|text| {
                parse_hex(text).ok_or_else(|| format!("{what} {text:?} is not hexadecimal"))
            })
            .transpose()
    };
    let size = parse_hex(size).ok_or_else(|| format!("SIZE {size:?} is not hexadecimal"))?;
    let no_mtd_lock = optional
        .get(2)
        .map(|text| {
            parse_c_integer(text).ok_or_else(|| format!("NO_MTD_LOCK {text:?} is not a number"))
        })
        .transpose()?;
    Ok(CopyLocation {
        device: base_dir.join(device),
        offset: parse_c_integer(offset)
            .ok_or_else(|| format!("OFFSET {offset:?} is not a number"))?,
        size: usize::try_from(size).map_err(|_| format!("SIZE {size:#x} is too large"))?,
        sector_size: hex_field(0, "SECTOR_SIZE")?.filter(|&s| s != 0),
        sectors: hex_field(1, "SECTORS")?.filter(|&s| s != 0),
        mtd_lock: no_mtd_lock.is_none_or(|n| n == 0),
    })
}

/// C's `%x`: hexadecimal digits with an optional `0x`.
fn parse_hex(text: &str) -> Option<u64> {
    let digits = text
        .strip_prefix("0x")
        .or_else(|| text.strip_prefix("0X"))
        .unwrap_or(text);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    u64::from_str_radix(digits, 16).ok()
}

/// C's `%lli`: optional sign, then `0x` hex, `0` octal or decimal.
fn parse_c_integer(text: &str) -> Option<i64> {
    let (negative, unsigned) = match text.as_bytes().first() {
        Some(b'-') => (true, &text[1..]),
        Some(b'+') => (false, &text[1..]),
        _ => (false, text),
    };
    let (digits, radix) = if let Some(hex) = unsigned
        .strip_prefix("0x")
        .or_else(|| unsigned.strip_prefix("0X"))
    {
        (hex, 16)
    } else if unsigned.len() > 1 && unsigned.starts_with('0') {
        (&unsigned[1..], 8)
    } else {
        (unsigned, 10)
    };
    if digits.is_empty() || !digits.chars().all(|c| c.is_digit(radix)) {
        return None;
    }
    let magnitude = i64::from_str_radix(digits, radix).ok()?;
    Some(if negative { -magnitude } else { magnitude })
}

fn config_error(path: &Path, reason: String) -> UbootError {
    UbootError::Config {
        path: path.to_path_buf(),
        reason,
    }
}

#[cfg(test)]
mod tests;
