//! Delegations: a targets role handing parts of its namespace to other roles, and which
//! role is trusted for which target path.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use super::{Unrecognized, check_unique_keyids};
use crate::hash::sha256_hex;
use crate::keys::{KeyId, PublicKey};

/// Roles this targets role hands parts of its namespace to, in order of trust.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Delegations {
    pub keys: BTreeMap<KeyId, PublicKey>,
    pub roles: Vec<DelegatedRole>,
    #[serde(flatten)]
    pub unrecognized: Unrecognized,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DelegatedRole {
    pub name: String,
    pub keyids: Vec<KeyId>,
    pub threshold: u32,
    #[serde(default)]
    pub terminating: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub paths: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path_hash_prefixes: Option<Vec<String>>,
    #[serde(flatten)]
    pub unrecognized: Unrecognized,
}

impl Delegations {
    /// Role names are unique, each role lists a key once, and names its paths one way.
    pub(crate) fn check_well_formed(&self) -> Result<(), String> {
        let mut names = BTreeSet::new();
        for role in &self.roles {
            if !names.insert(role.name.as_str()) {
                return Err(format!("delegated role {:?} appears twice", role.name));
            }
            if role.name.is_empty() {
                return Err("a delegated role has an empty name".into());
            }
            if super::RoleType::ALL
                .iter()
                .any(|top| top.as_str() == role.name)
            {
                return Err(format!("a delegated role may not be named {:?}", role.name));
            }
            check_unique_keyids(&role.name, &role.keyids)?;
            if role.paths.is_some() == role.path_hash_prefixes.is_some() {
                return Err(format!(
                    "delegated role {:?} must have exactly one of paths and path_hash_prefixes",
                    role.name
                ));
            }
        }
        Ok(())
    }

    /// The roles trusted for `target_path`, in the delegator's order, each with whether
    /// it is terminating. The search stops after the first terminating one.
    pub fn roles_for_target<'a>(
        &'a self,
        target_path: &'a str,
    ) -> impl Iterator<Item = &'a DelegatedRole> {
        let mut stopped = false;
        self.roles
            .iter()
            .filter(move |role| role.is_delegated_path(target_path))
            .take_while(move |role| {
                let take = !stopped;
                stopped |= role.terminating;
                take
            })
    }
}

impl DelegatedRole {
    /// Whether this role is trusted for `target_path`: a hash prefix of the path's sha256
    /// (hex) matches, or a path pattern does.
    pub fn is_delegated_path(&self, target_path: &str) -> bool {
        if let Some(prefixes) = &self.path_hash_prefixes {
            let hash = sha256_hex(target_path.as_bytes());
            return prefixes
                .iter()
                .any(|prefix| hash.starts_with(prefix.as_str()));
        }
        self.paths
            .iter()
            .flatten()
            .any(|pattern| path_matches(pattern, target_path))
    }
}

/// TUF path patterns as python-tuf applies them: the pattern and the path have the same
/// number of `/`-separated parts and each part matches shell-style (`*`, `?`, `[...]`,
/// `[!...]`), case-sensitively; `*` never crosses a `/`.
pub fn path_matches(pattern: &str, target_path: &str) -> bool {
    let pattern_parts: Vec<&str> = pattern.split('/').collect();
    let path_parts: Vec<&str> = target_path.split('/').collect();
    pattern_parts.len() == path_parts.len()
        && pattern_parts.iter().zip(&path_parts).all(|(p, t)| {
            segment_matches(
                &p.chars().collect::<Vec<_>>(),
                &t.chars().collect::<Vec<_>>(),
            )
        })
}

/// Shell-style matching of one path segment. Written here rather than taken from a glob
/// crate because the semantics must be exactly Python's `fnmatch` (which python-tuf and
/// other TUF implementations use): `**` is just `*`, an unclosed `[` is a literal.
fn segment_matches(pattern: &[char], text: &[char]) -> bool {
    // Iterative matching with one backtrack point for the last `*`: linear in practice,
    // and no recursion for hostile patterns to exploit.
    let (mut p, mut t) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while t < text.len() {
        if p < pattern.len() {
            match pattern[p] {
                '*' => {
                    star = Some((p, t));
                    p += 1;
                    continue;
                }
                '?' => {
                    p += 1;
                    t += 1;
                    continue;
                }
                '[' => {
                    if let Some((matched, next)) = match_class(pattern, p, text[t]) {
                        if matched {
                            p = next;
                            t += 1;
                            continue;
                        }
                    } else if text[t] == '[' {
                        p += 1;
                        t += 1;
                        continue;
                    }
                }
                c if c == text[t] => {
                    p += 1;
                    t += 1;
                    continue;
                }
                _ => {}
            }
        }
        match star {
            Some((star_p, star_t)) => {
                p = star_p + 1;
                t = star_t + 1;
                star = Some((star_p, star_t + 1));
            }
            None => return false,
        }
    }
    pattern[p..].iter().all(|&c| c == '*')
}

/// Matches `c` against the class starting at `pattern[start] == '['`. Returns whether it
/// matched and the index after the class, or `None` if the class is not closed.
fn match_class(pattern: &[char], start: usize, c: char) -> Option<(bool, usize)> {
    let mut i = start + 1;
    let negated = matches!(pattern.get(i), Some('!'));
    if negated {
        i += 1;
    }
    let first = i;
    let mut matched = false;
    while i < pattern.len() {
        // A `]` right after `[` or `[!` is a literal member.
        if pattern[i] == ']' && i > first {
            return Some((matched != negated, i + 1));
        }
        if pattern.get(i + 1) == Some(&'-') && pattern.get(i + 2).is_some_and(|&end| end != ']') {
            let (low, high) = (pattern[i], pattern[i + 2]);
            matched |= low <= c && c <= high;
            i += 3;
        } else {
            matched |= pattern[i] == c;
            i += 1;
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns_match_like_python_fnmatch_per_segment() {
        let cases = [
            ("*", "file", true),
            ("*", "dir/file", false),
            ("*.py", "a.py", true),
            ("*.py", "a.pyc", false),
            ("*.doc", "README.doc", true),
            ("releases/*/*", "releases/x/x_v1", true),
            ("releases/*/*", "releases/README.md", false),
            ("releases/x/*", "releases/x/x_v1", true),
            ("releases/y/*.zip", "releases/z/z_v1.zip", false),
            ("foo-?.tgz", "foo-1.tgz", true),
            ("foo-?.tgz", "foo-alpha.tgz", false),
            ("*.md", "README.MD", false),
            ("a**b", "axyzb", true),
            ("[ab]c", "bc", true),
            ("[!ab]c", "bc", false),
            ("[!ab]c", "xc", true),
            ("[a-c]", "b", true),
            ("[a-c]", "d", false),
            ("[]]", "]", true),
            ("[x", "[x", true),
            ("", "", true),
            ("*", "", true),
            ("?", "", false),
            ("dir/", "dir/", true),
        ];
        for (pattern, path, expected) in cases {
            assert_eq!(
                path_matches(pattern, path),
                expected,
                "{pattern:?} vs {path:?}"
            );
        }
    }

    #[test]
    fn hostile_patterns_stay_fast() {
        let pattern = "*a".repeat(200);
        let text = "a".repeat(5000) + "b";
        assert!(!path_matches(&pattern, &text));
    }

    fn role(name: &str, paths: &[&str], terminating: bool) -> DelegatedRole {
        DelegatedRole {
            name: name.into(),
            keyids: vec![],
            threshold: 1,
            terminating,
            paths: Some(paths.iter().map(|p| p.to_string()).collect()),
            path_hash_prefixes: None,
            unrecognized: Unrecognized::new(),
        }
    }

    #[test]
    fn roles_for_target_stop_after_a_terminating_match() {
        let delegations = Delegations {
            keys: BTreeMap::new(),
            roles: vec![
                role("A", &["*.py"], false),
                role("B", &["*"], true),
                role("C", &["*"], false),
            ],
            unrecognized: Unrecognized::new(),
        };
        let names = |path| {
            delegations
                .roles_for_target(path)
                .map(|r| r.name.as_str())
                .collect::<Vec<_>>()
        };
        assert_eq!(names("x.py"), ["A", "B"]);
        assert_eq!(names("x.txt"), ["B"]);
    }

    #[test]
    fn hash_prefixes_select_by_the_path_hash() {
        let hash = sha256_hex(b"firmware/a.img");
        let mut by_hash = role("H", &[], false);
        by_hash.paths = None;
        by_hash.path_hash_prefixes = Some(vec![hash[..2].to_string()]);
        assert!(by_hash.is_delegated_path("firmware/a.img"));
        by_hash.path_hash_prefixes = Some(vec![if hash.starts_with('0') {
            "1".into()
        } else {
            "0".into()
        }]);
        assert!(!by_hash.is_delegated_path("firmware/a.img"));
    }

    #[test]
    fn malformed_delegations_are_refused() {
        let mut twice = Delegations {
            keys: BTreeMap::new(),
            roles: vec![role("A", &["*"], false), role("A", &["*"], false)],
            unrecognized: Unrecognized::new(),
        };
        assert!(twice.check_well_formed().is_err());
        twice.roles.pop();
        twice.check_well_formed().unwrap();
        twice.roles[0].path_hash_prefixes = Some(vec!["ab".into()]);
        assert!(twice.check_well_formed().is_err());
        twice.roles[0].path_hash_prefixes = None;
        twice.roles[0].keyids = vec!["k".into(), "k".into()];
        assert!(twice.check_well_formed().is_err());
    }
}
