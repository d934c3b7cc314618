//! What an admin token may do. A token holds one or more scopes; every scope implies
//! `read`, and `all` implies every scope.

use std::collections::BTreeSet;
use std::fmt;
use std::str::FromStr;

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Scope {
    /// Every GET of the admin API.
    Read,
    /// Images, roots, targets, configuration profiles, delegated role metadata.
    Publish,
    /// Class profiles, approval, rollouts and their actions, device retries.
    Rollout,
    /// Device enrolment and revocation, enrolment secrets.
    Devices,
    All,
}

impl Scope {
    pub const NAMES: [(&'static str, Scope); 5] = [
        ("read", Scope::Read),
        ("publish", Scope::Publish),
        ("rollout", Scope::Rollout),
        ("devices", Scope::Devices),
        ("all", Scope::All),
    ];

    pub fn name(self) -> &'static str {
        Self::NAMES
            .iter()
            .find(|(_, scope)| *scope == self)
            .map_or("all", |(name, _)| name)
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[derive(Debug, thiserror::Error)]
#[error("unknown admin token scope {0:?} (expected read, publish, rollout, devices or all)")]
pub struct UnknownScope(pub String);

impl FromStr for Scope {
    type Err = UnknownScope;

    fn from_str(text: &str) -> Result<Scope, UnknownScope> {
        Self::NAMES
            .iter()
            .find(|(name, _)| *name == text)
            .map(|(_, scope)| *scope)
            .ok_or_else(|| UnknownScope(text.to_string()))
    }
}

/// The scopes of one token; stored as their names joined by commas.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Scopes(BTreeSet<Scope>);

impl Scopes {
    /// `scopes`, or `all` when empty.
    pub fn new(scopes: impl IntoIterator<Item = Scope>) -> Scopes {
        let set: BTreeSet<Scope> = scopes.into_iter().collect();
        if set.is_empty() {
            Scopes::all()
        } else {
            Scopes(set)
        }
    }

    pub fn all() -> Scopes {
        Scopes(BTreeSet::from([Scope::All]))
    }

    /// Whether a request needing `needed` may proceed.
    pub fn grants(&self, needed: Scope) -> bool {
        self.0.contains(&Scope::All) || needed == Scope::Read || self.0.contains(&needed)
    }
}

impl fmt::Display for Scopes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names: Vec<&str> = self.0.iter().map(|scope| scope.name()).collect();
        f.write_str(&names.join(","))
    }
}

impl FromStr for Scopes {
    type Err = UnknownScope;

    fn from_str(text: &str) -> Result<Scopes, UnknownScope> {
        let scopes = text
            .split(',')
            .map(|name| name.trim().parse())
            .collect::<Result<Vec<Scope>, _>>()?;
        Ok(Scopes::new(scopes))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_scope_implies_read_and_all_implies_everything() {
        let publish = Scopes::new([Scope::Publish]);
        assert!(publish.grants(Scope::Read));
        assert!(publish.grants(Scope::Publish));
        assert!(!publish.grants(Scope::Rollout));
        assert!(!publish.grants(Scope::All));
        let read = Scopes::new([Scope::Read]);
        assert!(!read.grants(Scope::Publish));
        for (_, scope) in Scope::NAMES {
            assert!(Scopes::all().grants(scope));
        }
    }

    #[test]
    fn scopes_round_trip_as_text() {
        let scopes: Scopes = "rollout,publish".parse().unwrap();
        assert_eq!(scopes.to_string(), "publish,rollout");
        assert_eq!(Scopes::new([]), Scopes::all());
        assert!("publish,root".parse::<Scopes>().is_err());
    }
}
