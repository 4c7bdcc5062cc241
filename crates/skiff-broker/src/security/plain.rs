//! SASL PLAIN (RFC 4616): `[authzid] NUL authcid NUL passwd`.

use thiserror::Error;

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum PlainError {
    #[error("the PLAIN message does not have three NUL-separated parts")]
    Shape,
    #[error("the PLAIN user name is empty or not UTF-8")]
    User,
    #[error("the PLAIN authorization id differs from the user name")]
    Authzid,
}

/// The user and password of a PLAIN message.
pub fn parse(message: &[u8]) -> Result<(&str, &[u8]), PlainError> {
    let mut parts = message.splitn(3, |&b| b == 0);
    let (Some(authzid), Some(user), Some(password)) = (parts.next(), parts.next(), parts.next())
    else {
        return Err(PlainError::Shape);
    };
    if password.contains(&0) {
        return Err(PlainError::Shape);
    }
    let user = std::str::from_utf8(user)
        .ok()
        .filter(|u| !u.is_empty())
        .ok_or(PlainError::User)?;
    if !authzid.is_empty() && authzid != user.as_bytes() {
        return Err(PlainError::Authzid);
    }
    Ok((user, password))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn plain_messages() {
        assert_eq!(parse(b"\0alice\0pw"), Ok(("alice", &b"pw"[..])));
        assert_eq!(parse(b"alice\0alice\0pw"), Ok(("alice", &b"pw"[..])));
        assert_eq!(parse(b"bob\0alice\0pw"), Err(PlainError::Authzid));
        assert_eq!(parse(b"\0alice"), Err(PlainError::Shape));
        assert_eq!(parse(b"\0\0pw"), Err(PlainError::User));
        assert_eq!(parse(b"\0a\0p\0w"), Err(PlainError::Shape));
    }

    proptest! {
        #[test]
        fn arbitrary_input_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..128)) {
            let _ = parse(&bytes);
        }
    }
}
