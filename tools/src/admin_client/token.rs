//! The admin bearer token: checked once when parsed, never shown by `Debug`.

use std::fmt;
use std::str::FromStr;

use super::AdminError;

/// The admin bearer token. `Debug` never shows it.
#[derive(Clone)]
pub struct AdminToken(String);

impl FromStr for AdminToken {
    type Err = AdminError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let token = text.trim();
        if token.is_empty() {
            return Err(AdminError::InvalidToken("it is empty".into()));
        }
        if !token.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(AdminError::InvalidToken(
                "it must be printable ASCII without spaces".into(),
            ));
        }
        Ok(AdminToken(token.to_string()))
    }
}

impl AdminToken {
    /// The token itself, for the `Authorization` header only.
    pub(super) fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for AdminToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("AdminToken(<redacted>)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_checked_and_never_shown() {
        let token: AdminToken = " s3cret-token \n".parse().unwrap();
        assert_eq!(token.0, "s3cret-token");
        assert!(!format!("{token:?}").contains("s3cret"));
        assert!("".parse::<AdminToken>().is_err());
        assert!("a b".parse::<AdminToken>().is_err());
    }
}
