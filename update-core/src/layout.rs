//! Where metadata and targets live in a published repository (TUF consistent snapshots).

/// `N.role.json`: the versioned name of a metadata file.
pub fn versioned_metadata_name(version: u64, role: &str) -> String {
    format!("{version}.{role}.json")
}

/// `dir/HASH.name`: a target's consistent-snapshot path, the hash prefixed to the file
/// name part so every published version has a path of its own.
pub fn consistent_target_path(target_name: &str, sha256: &str) -> String {
    match target_name.rsplit_once('/') {
        Some((dir, file)) => format!("{dir}/{sha256}.{file}"),
        None => format!("{sha256}.{target_name}"),
    }
}

/// Splits a consistent target path back into its hash and target name.
pub fn parse_consistent_target_path(path: &str) -> Option<(&str, String)> {
    let (dir, file) = match path.rsplit_once('/') {
        Some((dir, file)) => (Some(dir), file),
        None => (None, path),
    };
    let (hash, name) = file.split_once('.')?;
    if hash.len() != 64 || !hash.bytes().all(|b| b.is_ascii_hexdigit()) || name.is_empty() {
        return None;
    }
    let target_name = match dir {
        Some(dir) => format!("{dir}/{name}"),
        None => name.to_string(),
    };
    Some((hash, target_name))
}

/// Percent-encodes a metadata or target path for a URL, keeping `/` as the separator.
pub fn url_path(path: &str) -> String {
    percent_encode(path, b"-._~/")
}

/// Percent-encodes a name so it is one URL path segment and one safe file name (`/`
/// encoded too): how TUF clients put role names in metadata URLs and file names
/// (python-tuf's `quote(name, "")`).
pub fn quote_name(name: &str) -> String {
    percent_encode(name, b"-._~")
}

fn percent_encode(text: &str, keep: &[u8]) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || keep.contains(&byte) {
            out.push(byte as char);
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn consistent_paths_round_trip() {
        let hash = "a".repeat(64);
        for name in ["fw.img", "camera/fw-1.0.img", "a/b/c.tar.zst"] {
            let path = consistent_target_path(name, &hash);
            assert_eq!(
                parse_consistent_target_path(&path),
                Some((hash.as_str(), name.to_string()))
            );
        }
        assert_eq!(parse_consistent_target_path("short.fw.img"), None);
    }

    #[test]
    fn url_path_quotes_what_urls_cannot_carry() {
        assert_eq!(url_path("dir/a b%?#.img"), "dir/a%20b%25%3F%23.img");
        assert_eq!(url_path("1.root.json"), "1.root.json");
        assert_eq!(quote_name("../team a/b?"), "..%2Fteam%20a%2Fb%3F");
        assert_eq!(quote_name("caf\u{e9}"), "caf%C3%A9");
    }
}
