//! The client side of SCRAM (RFC 5802, RFC 7677): the first message, the proof over the
//! server's challenge, and the check of the server's signature, on RustCrypto's HMAC, SHA-2
//! and PBKDF2 (as the broker's side is).

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, KeyInit, Mac};
use sha2::{Digest, Sha256, Sha512};

use super::SaslMechanism;

/// Kafka's smallest SCRAM iteration count; fewer would make a stolen exchange cheap to attack.
const MIN_ITERATIONS: u32 = 4096;
/// Kafka's largest: a server asking for more would make the client burn CPU for it.
const MAX_ITERATIONS: u32 = 16384;

/// A SCRAM exchange in progress.
#[derive(Debug)]
pub struct ScramClient {
    mechanism: SaslMechanism,
    password: String,
    client_nonce: String,
    first_bare: String,
}

/// What the client checks the server's last message against.
#[derive(Debug)]
pub struct ScramFinal {
    server_signature: Vec<u8>,
}

impl ScramClient {
    /// Starts an exchange; `client_first` is the first message to send.
    pub fn new(mechanism: SaslMechanism, user: &str, password: &str) -> (ScramClient, String) {
        let nonce = uuid::Uuid::new_v4().simple().to_string();
        Self::with_nonce(mechanism, user, password, nonce)
    }

    fn with_nonce(
        mechanism: SaslMechanism,
        user: &str,
        password: &str,
        client_nonce: String,
    ) -> (ScramClient, String) {
        let user = user.replace('=', "=3D").replace(',', "=2C");
        let first_bare = format!("n={user},r={client_nonce}");
        let first = format!("n,,{first_bare}");
        let client = ScramClient {
            mechanism,
            password: password.to_owned(),
            client_nonce,
            first_bare,
        };
        (client, first)
    }

    /// The final message for the server's first message.
    pub fn respond(self, server_first: &[u8]) -> Result<(String, ScramFinal), String> {
        let server_first =
            std::str::from_utf8(server_first).map_err(|_| "the server's challenge is not UTF-8")?;
        let mut nonce = None;
        let mut salt = None;
        let mut iterations = None;
        for attribute in server_first.split(',') {
            match attribute.split_once('=') {
                Some(("r", v)) => nonce = Some(v),
                Some(("s", v)) => salt = STANDARD.decode(v).ok(),
                Some(("i", v)) => iterations = v.parse::<u32>().ok(),
                Some(("e", v)) => return Err(format!("the server refused: {v}")),
                _ => {}
            }
        }
        let (Some(nonce), Some(salt), Some(iterations)) = (nonce, salt, iterations) else {
            return Err("the server's challenge lacks a nonce, salt or iteration count".into());
        };
        if !nonce.starts_with(&self.client_nonce) || nonce.len() == self.client_nonce.len() {
            return Err("the server's nonce does not extend this client's".into());
        }
        if !(MIN_ITERATIONS..=MAX_ITERATIONS).contains(&iterations) {
            return Err(format!(
                "the server asks for {iterations} iterations, outside {MIN_ITERATIONS}..={MAX_ITERATIONS}"
            ));
        }
        let m = self.mechanism;
        let salted = salted_password(m, self.password.as_bytes(), &salt, iterations);
        let client_key = hmac(m, &salted, b"Client Key");
        let stored_key = hash(m, &client_key);
        let without_proof = format!("c=biws,r={nonce}");
        let auth_message = format!("{},{server_first},{without_proof}", self.first_bare);
        let client_signature = hmac(m, &stored_key, auth_message.as_bytes());
        let proof: Vec<u8> = client_key
            .iter()
            .zip(&client_signature)
            .map(|(k, s)| k ^ s)
            .collect();
        let server_key = hmac(m, &salted, b"Server Key");
        let server_signature = hmac(m, &server_key, auth_message.as_bytes());
        let message = format!("{without_proof},p={}", STANDARD.encode(proof));
        Ok((message, ScramFinal { server_signature }))
    }
}

impl ScramFinal {
    /// Checks the server's last message: it must prove the server knows the credential too.
    pub fn verify(&self, server_final: &[u8]) -> Result<(), String> {
        let text =
            std::str::from_utf8(server_final).map_err(|_| "the server's answer is not UTF-8")?;
        if let Some(error) = text.strip_prefix("e=") {
            return Err(format!("the server refused: {error}"));
        }
        let signature = text
            .strip_prefix("v=")
            .and_then(|v| {
                STANDARD
                    .decode(v.split(',').next().unwrap_or_default())
                    .ok()
            })
            .ok_or("the server's last message holds no signature")?;
        if signature != self.server_signature {
            return Err(
                "the server's signature is wrong (not the server holding this user)".into(),
            );
        }
        Ok(())
    }
}

fn hmac(mechanism: SaslMechanism, key: &[u8], message: &[u8]) -> Vec<u8> {
    macro_rules! with {
        ($hash:ty) => {{
            let mut mac = <Hmac<$hash> as KeyInit>::new_from_slice(key)
                .unwrap_or_else(|_| unreachable!("HMAC accepts any key length"));
            mac.update(message);
            mac.finalize().into_bytes().to_vec()
        }};
    }
    match mechanism {
        SaslMechanism::ScramSha512 => with!(Sha512),
        _ => with!(Sha256),
    }
}

fn hash(mechanism: SaslMechanism, data: &[u8]) -> Vec<u8> {
    match mechanism {
        SaslMechanism::ScramSha512 => Sha512::digest(data).to_vec(),
        _ => Sha256::digest(data).to_vec(),
    }
}

fn salted_password(mechanism: SaslMechanism, password: &[u8], salt: &[u8], i: u32) -> Vec<u8> {
    match mechanism {
        SaslMechanism::ScramSha512 => {
            let mut out = vec![0; 64];
            pbkdf2::pbkdf2_hmac::<Sha512>(password, salt, i, &mut out);
            out
        }
        _ => {
            let mut out = vec![0; 32];
            pbkdf2::pbkdf2_hmac::<Sha256>(password, salt, i, &mut out);
            out
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 7677's SCRAM-SHA-256 example, from the client's side.
    #[test]
    fn rfc_7677_example_exchange() {
        let (client, first) = ScramClient::with_nonce(
            SaslMechanism::ScramSha256,
            "user",
            "pencil",
            "rOprNGfwEbeRWgbNEkqO".into(),
        );
        assert_eq!(first, "n,,n=user,r=rOprNGfwEbeRWgbNEkqO");
        let server_first = "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096";
        let (last, check) = client.respond(server_first.as_bytes()).unwrap();
        assert_eq!(
            last,
            "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ="
        );
        check
            .verify(b"v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=")
            .unwrap();
        assert!(
            check
                .verify(b"v=AAAATRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=")
                .is_err()
        );
        assert!(
            check
                .verify(b"e=invalid-proof")
                .unwrap_err()
                .contains("invalid-proof")
        );
    }

    #[test]
    fn bad_challenges_are_refused() {
        let start =
            || ScramClient::with_nonce(SaslMechanism::ScramSha512, "a,b=c", "p", "abc".into());
        let (_, first) = start();
        assert_eq!(first, "n,,n=a=2Cb=3Dc,r=abc");
        for challenge in [
            "r=xyz,s=AAAA,i=4096",
            "r=abc,s=AAAA,i=4096",
            "r=abcd,s=AAAA,i=100",
            "r=abcd,i=4096",
            "e=unknown-user",
        ] {
            assert!(
                start().0.respond(challenge.as_bytes()).is_err(),
                "{challenge}"
            );
        }
        assert!(start().0.respond(b"r=abcd,s=AAAA,i=4096").is_ok());
    }
}
