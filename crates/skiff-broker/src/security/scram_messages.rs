//! The SCRAM messages (RFC 5802 section 7) a server reads and writes. Parsing only: the
//! cryptography is in `scram_keys`, the exchange in `scram_server`. Everything here takes
//! untrusted bytes, so every failure is an error value, never a panic.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use thiserror::Error;

/// Why a client's SCRAM message was refused. The messages name what was wrong, never a value
/// the client sent (they end up in logs).
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ScramMessageError {
    #[error("the message is not UTF-8")]
    NotUtf8,
    #[error("the GS2 header is malformed")]
    Gs2Header,
    #[error("channel binding is not supported")]
    ChannelBinding,
    #[error("mandatory extensions (m=) are not supported")]
    MandatoryExtension,
    #[error("attribute {expected:?} is missing or out of order")]
    Missing { expected: char },
    #[error("the user name is empty or badly escaped")]
    UserName,
    #[error("the nonce is empty or holds characters outside printable ASCII")]
    Nonce,
    #[error("the channel binding attribute (c=) is not valid base64")]
    ChannelBindingEncoding,
    #[error("the proof (p=) is not valid base64")]
    ProofEncoding,
    #[error("the proof (p=) is not the last attribute")]
    ProofNotLast,
    #[error("extensions are malformed")]
    Extension,
}

/// The client's first message, `gs2-header client-first-message-bare`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientFirst<'a> {
    /// `n,,` or `y,a=name,`: echoed back (base64) in the final message's `c=`.
    pub gs2_header: &'a str,
    /// The authorization identity, when the client asked for one (unescaped).
    pub authzid: Option<String>,
    /// The user name, unescaped.
    pub user: String,
    pub nonce: &'a str,
    /// Kafka's SCRAM extensions (`tokenauth=true`), as `key=value` pairs.
    pub extensions: Vec<(&'a str, &'a str)>,
    /// `client-first-message-bare`, part of the AuthMessage both sides sign.
    pub bare: &'a str,
}

/// The client's final message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientFinal<'a> {
    /// The decoded `c=`: the GS2 header the client sent first (no channel binding data).
    pub channel_binding: Vec<u8>,
    pub nonce: &'a str,
    pub proof: Vec<u8>,
    /// `client-final-message-without-proof`, part of the AuthMessage.
    pub without_proof: &'a str,
}

pub fn parse_client_first(bytes: &[u8]) -> Result<ClientFirst<'_>, ScramMessageError> {
    let text = std::str::from_utf8(bytes).map_err(|_| ScramMessageError::NotUtf8)?;
    // gs2-header = gs2-cbind-flag "," [ authzid ] ","
    let (flag, rest) = text.split_once(',').ok_or(ScramMessageError::Gs2Header)?;
    match flag {
        "n" | "y" => {}
        _ if flag.starts_with("p=") => return Err(ScramMessageError::ChannelBinding),
        _ => return Err(ScramMessageError::Gs2Header),
    }
    let (authzid, bare) = rest.split_once(',').ok_or(ScramMessageError::Gs2Header)?;
    let authzid = match authzid {
        "" => None,
        _ => Some(
            authzid
                .strip_prefix("a=")
                .and_then(unescape_name)
                .ok_or(ScramMessageError::Gs2Header)?,
        ),
    };
    let gs2_header = text
        .get(..text.len() - bare.len())
        .ok_or(ScramMessageError::Gs2Header)?;

    let mut attributes = bare.split(',');
    let mut next = attributes.next();
    if next.is_some_and(|a| a.starts_with("m=")) {
        return Err(ScramMessageError::MandatoryExtension);
    }
    let user = next
        .and_then(|a| a.strip_prefix("n="))
        .ok_or(ScramMessageError::Missing { expected: 'n' })
        .and_then(|name| unescape_name(name).ok_or(ScramMessageError::UserName))?;
    next = attributes.next();
    let nonce = next
        .and_then(|a| a.strip_prefix("r="))
        .ok_or(ScramMessageError::Missing { expected: 'r' })?;
    check_nonce(nonce)?;
    let extensions = attributes
        .map(|a| {
            a.split_once('=')
                .filter(|(key, _)| !key.is_empty())
                .ok_or(ScramMessageError::Extension)
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(ClientFirst {
        gs2_header,
        authzid,
        user,
        nonce,
        extensions,
        bare,
    })
}

pub fn parse_client_final(bytes: &[u8]) -> Result<ClientFinal<'_>, ScramMessageError> {
    let text = std::str::from_utf8(bytes).map_err(|_| ScramMessageError::NotUtf8)?;
    let (without_proof, proof) = text
        .rsplit_once(",p=")
        .ok_or(ScramMessageError::Missing { expected: 'p' })?;
    if proof.contains(',') {
        return Err(ScramMessageError::ProofNotLast);
    }
    let proof = STANDARD
        .decode(proof)
        .map_err(|_| ScramMessageError::ProofEncoding)?;
    let mut attributes = without_proof.split(',');
    let channel_binding = attributes
        .next()
        .and_then(|a| a.strip_prefix("c="))
        .ok_or(ScramMessageError::Missing { expected: 'c' })?;
    let channel_binding = STANDARD
        .decode(channel_binding)
        .map_err(|_| ScramMessageError::ChannelBindingEncoding)?;
    let nonce = attributes
        .next()
        .and_then(|a| a.strip_prefix("r="))
        .ok_or(ScramMessageError::Missing { expected: 'r' })?;
    check_nonce(nonce)?;
    // Extensions may follow the nonce; they are part of the signed message and otherwise unused.
    if attributes.any(|a| a.split_once('=').is_none_or(|(key, _)| key.is_empty())) {
        return Err(ScramMessageError::Extension);
    }
    Ok(ClientFinal {
        channel_binding,
        nonce,
        proof,
        without_proof,
    })
}

/// `server-first-message`: the combined nonce, the salt and the iteration count.
pub fn server_first(nonce: &str, salt: &[u8], iterations: u32) -> String {
    format!("r={nonce},s={},i={iterations}", STANDARD.encode(salt))
}

/// `server-final-message` for a verified proof.
pub fn server_final(server_signature: &[u8]) -> String {
    format!("v={}", STANDARD.encode(server_signature))
}

/// Printable ASCII except ',' (RFC 5802 `printable`).
fn check_nonce(nonce: &str) -> Result<(), ScramMessageError> {
    let printable = |b: u8| (0x21..=0x7e).contains(&b) && b != b',';
    if nonce.is_empty() || !nonce.bytes().all(printable) {
        return Err(ScramMessageError::Nonce);
    }
    Ok(())
}

/// `saslname`: '=' only as "=2C" (',') or "=3D" ('='); never empty.
fn unescape_name(name: &str) -> Option<String> {
    if name.is_empty() {
        return None;
    }
    let mut out = String::with_capacity(name.len());
    let mut rest = name;
    while let Some(at) = rest.find('=') {
        out.push_str(rest.get(..at)?);
        let escape = rest.get(at..at + 3)?;
        out.push(match escape {
            "=2C" => ',',
            "=3D" => '=',
            _ => return None,
        });
        rest = rest.get(at + 3..)?;
    }
    out.push_str(rest);
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn rfc_7677_client_messages_parse() {
        let first = parse_client_first(b"n,,n=user,r=rOprNGfwEbeRWgbNEkqO").unwrap();
        assert_eq!(first.gs2_header, "n,,");
        assert_eq!(first.user, "user");
        assert_eq!(first.nonce, "rOprNGfwEbeRWgbNEkqO");
        assert_eq!(first.bare, "n=user,r=rOprNGfwEbeRWgbNEkqO");
        assert_eq!(first.authzid, None);

        let last = parse_client_final(
            b"c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=",
        )
        .unwrap();
        assert_eq!(last.channel_binding, b"n,,");
        assert_eq!(
            last.nonce,
            "rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0"
        );
        assert_eq!(last.proof.len(), 32);
        assert_eq!(
            last.without_proof,
            "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0"
        );
    }

    #[test]
    fn names_authzid_and_kafka_extensions() {
        let first = parse_client_first(b"y,a=x=3Dy,n=a=2Cb,r=abc,tokenauth=true").unwrap();
        assert_eq!(first.gs2_header, "y,a=x=3Dy,");
        assert_eq!(first.authzid.as_deref(), Some("x=y"));
        assert_eq!(first.user, "a,b");
        assert_eq!(first.extensions, vec![("tokenauth", "true")]);
    }

    #[test]
    fn malformed_messages_are_refused() {
        use ScramMessageError as E;
        let first = |m: &[u8]| parse_client_first(m).err();
        assert_eq!(first(b"p=tls-unique,,n=u,r=x"), Some(E::ChannelBinding));
        assert_eq!(first(b"x,,n=u,r=x"), Some(E::Gs2Header));
        assert_eq!(first(b"n,"), Some(E::Gs2Header));
        assert_eq!(first(b"n,,m=ext,n=u,r=x"), Some(E::MandatoryExtension));
        assert_eq!(first(b"n,,r=x,n=u"), Some(E::Missing { expected: 'n' }));
        assert_eq!(first(b"n,,n=u"), Some(E::Missing { expected: 'r' }));
        assert_eq!(first(b"n,,n=,r=x"), Some(E::UserName));
        assert_eq!(first(b"n,,n=a=2,r=x"), Some(E::UserName));
        assert_eq!(first(b"n,,n=a=41,r=x"), Some(E::UserName));
        assert_eq!(first(b"n,,n=u,r="), Some(E::Nonce));
        assert_eq!(first(b"n,,n=u,r=a b"), Some(E::Nonce));
        assert_eq!(first(b"n,,n=u,r=x,=v"), Some(E::Extension));
        assert_eq!(first(&[0xff, 0xfe]), Some(E::NotUtf8));

        let last = |m: &[u8]| parse_client_final(m).err();
        assert_eq!(last(b"c=biws,r=x"), Some(E::Missing { expected: 'p' }));
        assert_eq!(last(b"c=biws,r=x,p=!!"), Some(E::ProofEncoding));
        assert_eq!(last(b"c=biws,r=x,p=AAAA,e=1"), Some(E::ProofNotLast));
        assert_eq!(
            last(b"r=x,c=biws,p=AAAA"),
            Some(E::Missing { expected: 'c' })
        );
        assert_eq!(last(b"c=@@,r=x,p=AAAA"), Some(E::ChannelBindingEncoding));
        assert_eq!(last(b"c=biws,p=AAAA"), Some(E::Missing { expected: 'r' }));
    }

    #[test]
    fn server_messages_have_rfc_layout() {
        assert_eq!(server_first("ab", b"salt", 4096), "r=ab,s=c2FsdA==,i=4096");
        assert_eq!(server_final(&[1, 2, 3]), "v=AQID");
    }

    proptest! {
        /// Random bytes and random SCRAM-shaped text never panic either parser.
        #[test]
        fn arbitrary_input_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..256)) {
            let _ = parse_client_first(&bytes);
            let _ = parse_client_final(&bytes);
        }

        #[test]
        fn scram_shaped_input_never_panics(text in "[nyp]?,?(a=)?[=,a-z23CD]{0,12}(,n=)?[=,a-z23CD]{0,12}(,r=)?[ -~]{0,20}(,[a-z]=[ -~]{0,8}){0,3}") {
            let _ = parse_client_first(text.as_bytes());
            let _ = parse_client_final(text.as_bytes());
        }
    }
}
