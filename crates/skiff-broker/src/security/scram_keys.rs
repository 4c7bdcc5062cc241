//! RFC 5802's key derivation and proof check, on RustCrypto's HMAC, SHA-2 and PBKDF2.

use hmac::{Hmac, KeyInit, Mac};
use rand::RngCore;
use sha2::{Digest, Sha256, Sha512};
use skiff_meta::{ScramCredential, ScramMechanism};
use subtle::ConstantTimeEq;

/// Salt bytes for credentials the broker derives (`--add-scram`, PLAIN-only setups).
const SALT_LEN: usize = 32;

fn hmac(mechanism: ScramMechanism, key: &[u8], message: &[u8]) -> Vec<u8> {
    macro_rules! with {
        ($hash:ty) => {{
            // HMAC takes keys of any length, so this never fails.
            let mut mac = <Hmac<$hash> as KeyInit>::new_from_slice(key)
                .unwrap_or_else(|_| unreachable!("HMAC accepts any key length"));
            mac.update(message);
            mac.finalize().into_bytes().to_vec()
        }};
    }
    match mechanism {
        ScramMechanism::Sha256 => with!(Sha256),
        ScramMechanism::Sha512 => with!(Sha512),
    }
}

fn hash(mechanism: ScramMechanism, data: &[u8]) -> Vec<u8> {
    match mechanism {
        ScramMechanism::Sha256 => Sha256::digest(data).to_vec(),
        ScramMechanism::Sha512 => Sha512::digest(data).to_vec(),
    }
}

/// `Hi(password, salt, i)`: PBKDF2 with the mechanism's HMAC.
pub fn salted_password(
    mechanism: ScramMechanism,
    password: &[u8],
    salt: &[u8],
    iterations: u32,
) -> Vec<u8> {
    let mut out = vec![0; mechanism.key_len()];
    match mechanism {
        ScramMechanism::Sha256 => {
            pbkdf2::pbkdf2_hmac::<Sha256>(password, salt, iterations, &mut out)
        }
        ScramMechanism::Sha512 => {
            pbkdf2::pbkdf2_hmac::<Sha512>(password, salt, iterations, &mut out)
        }
    }
    out
}

/// The stored credential for a salted password (what AlterUserScramCredentials sends).
pub fn credential_from_salted(
    mechanism: ScramMechanism,
    salted_password: &[u8],
    salt: Vec<u8>,
    iterations: u32,
) -> ScramCredential {
    let client_key = hmac(mechanism, salted_password, b"Client Key");
    ScramCredential {
        salt,
        stored_key: hash(mechanism, &client_key),
        server_key: hmac(mechanism, salted_password, b"Server Key"),
        iterations,
    }
}

/// A fresh random salt.
pub fn new_salt() -> Vec<u8> {
    let mut salt = vec![0; SALT_LEN];
    rand::rng().fill_bytes(&mut salt);
    salt
}

/// A credential for `password` with a fresh random salt.
pub fn new_credential(
    mechanism: ScramMechanism,
    password: &[u8],
    iterations: u32,
) -> ScramCredential {
    let salt = new_salt();
    let salted = salted_password(mechanism, password, &salt, iterations);
    credential_from_salted(mechanism, &salted, salt, iterations)
}

/// Whether `password` is the one `credential` was made from (PLAIN logins).
pub fn password_matches(
    mechanism: ScramMechanism,
    credential: &ScramCredential,
    password: &[u8],
) -> bool {
    let salted = salted_password(mechanism, password, &credential.salt, credential.iterations);
    let derived = credential_from_salted(mechanism, &salted, Vec::new(), credential.iterations);
    bool::from(derived.stored_key.ct_eq(&credential.stored_key))
}

/// Checks a client proof over `auth_message`; on success returns the server signature the
/// client verifies in turn.
pub fn verify_proof(
    mechanism: ScramMechanism,
    credential: &ScramCredential,
    auth_message: &[u8],
    proof: &[u8],
) -> Option<Vec<u8>> {
    if proof.len() != mechanism.key_len() {
        return None;
    }
    let client_signature = hmac(mechanism, &credential.stored_key, auth_message);
    let client_key: Vec<u8> = proof
        .iter()
        .zip(&client_signature)
        .map(|(p, s)| p ^ s)
        .collect();
    let matches = hash(mechanism, &client_key).ct_eq(&credential.stored_key);
    bool::from(matches).then(|| hmac(mechanism, &credential.server_key, auth_message))
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine;
    use base64::engine::general_purpose::STANDARD;

    /// RFC 7677's SCRAM-SHA-256 example exchange, checked end to end.
    #[test]
    fn rfc_7677_example_verifies() {
        let salt = STANDARD.decode("W22ZaJ0SNY7soEsUEjb6gQ==").unwrap();
        let salted = salted_password(ScramMechanism::Sha256, b"pencil", &salt, 4096);
        let credential = credential_from_salted(ScramMechanism::Sha256, &salted, salt, 4096);
        let auth_message = "n=user,r=rOprNGfwEbeRWgbNEkqO,\
            r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096,\
            c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0";
        let proof = STANDARD
            .decode("dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=")
            .unwrap();
        let signature = verify_proof(
            ScramMechanism::Sha256,
            &credential,
            auth_message.as_bytes(),
            &proof,
        )
        .expect("the RFC's proof verifies");
        assert_eq!(
            STANDARD.encode(signature),
            "6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4="
        );
        let mut wrong = proof.clone();
        wrong[0] ^= 1;
        assert!(
            verify_proof(
                ScramMechanism::Sha256,
                &credential,
                auth_message.as_bytes(),
                &wrong
            )
            .is_none()
        );
        assert!(password_matches(
            ScramMechanism::Sha256,
            &credential,
            b"pencil"
        ));
        assert!(!password_matches(
            ScramMechanism::Sha256,
            &credential,
            b"pencils"
        ));
    }

    #[test]
    fn new_credentials_are_salted_and_sized() {
        for mechanism in ScramMechanism::ALL {
            let a = new_credential(mechanism, b"secret", 4096);
            let b = new_credential(mechanism, b"secret", 4096);
            assert_ne!(a.salt, b.salt);
            assert_ne!(a.stored_key, b.stored_key);
            assert_eq!(a.stored_key.len(), mechanism.key_len());
            assert_eq!(a.server_key.len(), mechanism.key_len());
            assert!(password_matches(mechanism, &a, b"secret"));
        }
    }
}
