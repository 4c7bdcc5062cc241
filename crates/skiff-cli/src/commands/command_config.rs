//! `--command-config FILE` for the client commands: the settings of a Kafka client properties
//! file, with librdkafka's names (and the Java client's `sasl.jaas.config`, whose `username`
//! and `password` are read), applied to `skiff-client`'s connections.
//!
//! A key the commands cannot honour is an error naming it rather than a warning: a typo in
//! `sasl.pasword`, or a Java keystore the client cannot read, would otherwise surface as a
//! puzzling authentication or certificate failure.

use anyhow::{Context, bail};
use skiff_bench::properties::{Properties, jaas_option};
use skiff_client::ClientConfig;
use skiff_client::security::{
    SaslCredentials, SaslMechanism, SecurityProtocol, TlsFiles, tls_config,
};

/// Keys the client commands act on.
const APPLIED: &[&str] = &[
    "security.protocol",
    "sasl.mechanism",
    "sasl.mechanisms",
    "sasl.username",
    "sasl.password",
    "sasl.jaas.config",
    "ssl.ca.location",
    "ssl.certificate.location",
    "ssl.key.location",
    "ssl.endpoint.identification.algorithm",
    "client.id",
];

/// Client tuning keys common in properties files shared with other tools: accepted, named in
/// a warning, and not used (the commands' own flags, such as --timeout-ms, set these).
const TOLERATED: &[&str] = &[
    "bootstrap.servers",
    "request.timeout.ms",
    "default.api.timeout.ms",
    "socket.timeout.ms",
    "socket.connection.setup.timeout.ms",
    "connections.max.idle.ms",
    "metadata.max.age.ms",
    "retries",
    "retry.backoff.ms",
    "reconnect.backoff.ms",
    "reconnect.backoff.max.ms",
];

/// Why a key the commands know of cannot be used, with what to do instead.
fn unsupported(key: &str) -> Option<&'static str> {
    Some(match key {
        "ssl.truststore.location" | "ssl.truststore.password" | "ssl.truststore.type" => {
            "Java trust stores are not read; give the CA certificates as PEM with ssl.ca.location"
        }
        "ssl.keystore.location" | "ssl.keystore.password" | "ssl.keystore.type" => {
            "Java key stores are not read; give the client certificate and key as PEM with \
             ssl.certificate.location and ssl.key.location"
        }
        "ssl.key.password" => {
            "encrypted private keys are not read; decrypt the key first \
             (openssl pkey -in KEY -out KEY.pem)"
        }
        "enable.ssl.certificate.verification" => {
            "the skiff client commands always verify the broker's certificate"
        }
        _ => return None,
    })
}

/// Sets `config.tls`, `config.sasl` and `config.client_id` from the properties.
pub fn apply(props: &Properties, config: &mut ClientConfig) -> anyhow::Result<()> {
    for (key, value) in &props.0 {
        let key = key.as_str();
        if key == "enable.ssl.certificate.verification" && value.eq_ignore_ascii_case("true") {
            continue;
        }
        if let Some(why) = unsupported(key) {
            bail!("{key}: {why}");
        }
        if !APPLIED.contains(&key) && !TOLERATED.contains(&key) {
            bail!(
                "unknown key {key:?}; the skiff client commands read {}",
                APPLIED.join(", ")
            );
        }
    }
    let ignored: Vec<&str> = props
        .0
        .iter()
        .map(|(k, _)| k.as_str())
        .filter(|k| TOLERATED.contains(k))
        .collect();
    if !ignored.is_empty() {
        tracing::warn!(
            "--command-config: ignoring settings the skiff client commands set with their own flags: {}",
            ignored.join(", ")
        );
    }
    let get = |key: &str| props.get(key).filter(|v| !v.is_empty());
    if let Some(algorithm) = get("ssl.endpoint.identification.algorithm")
        && !algorithm.eq_ignore_ascii_case("https")
    {
        bail!(
            "ssl.endpoint.identification.algorithm: {algorithm:?} is not supported; the skiff \
             client commands always check the broker's host name (https)"
        );
    }
    if let Some(client_id) = get("client.id") {
        config.client_id = client_id.to_owned();
    }
    let protocol: SecurityProtocol = match get("security.protocol") {
        Some(text) => text
            .parse()
            .map_err(anyhow::Error::msg)
            .context("security.protocol")?,
        None => SecurityProtocol::Plaintext,
    };
    if protocol.uses_tls() {
        let files = TlsFiles {
            // librdkafka's "probe" means the system's CA certificates, as no location does.
            ca: get("ssl.ca.location")
                .filter(|ca| *ca != "probe")
                .map(Into::into),
            certificate: get("ssl.certificate.location").map(Into::into),
            key: get("ssl.key.location").map(Into::into),
        };
        config.tls = Some(tls_config(&files)?);
    }
    if protocol.uses_sasl() {
        let mechanism: SaslMechanism = get("sasl.mechanism")
            .or_else(|| get("sasl.mechanisms"))
            .unwrap_or("PLAIN")
            .parse()
            .map_err(anyhow::Error::msg)
            .context("sasl.mechanism")?;
        let jaas = get("sasl.jaas.config");
        let username = get("sasl.username")
            .map(str::to_owned)
            .or_else(|| jaas.and_then(|j| jaas_option(j, "username")));
        let password = get("sasl.password")
            .map(str::to_owned)
            .or_else(|| jaas.and_then(|j| jaas_option(j, "password")));
        let (Some(username), Some(password)) = (username, password) else {
            bail!(
                "security.protocol {} needs sasl.username and sasl.password",
                protocol_name(protocol)
            );
        };
        config.sasl = Some(SaslCredentials {
            mechanism,
            username,
            password,
        });
    }
    Ok(())
}

fn protocol_name(protocol: SecurityProtocol) -> &'static str {
    match protocol {
        SecurityProtocol::Plaintext => "PLAINTEXT",
        SecurityProtocol::Ssl => "SSL",
        SecurityProtocol::SaslPlaintext => "SASL_PLAINTEXT",
        SecurityProtocol::SaslSsl => "SASL_SSL",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use skiff_bench::properties::parse_properties;

    fn applied(text: &str) -> anyhow::Result<ClientConfig> {
        let mut config = ClientConfig::default();
        apply(&parse_properties(text).unwrap(), &mut config)?;
        Ok(config)
    }

    fn refused(text: &str) -> String {
        match applied(text) {
            Ok(_) => panic!("{text:?} was accepted"),
            Err(e) => format!("{e:#}"),
        }
    }

    #[test]
    fn sasl_plaintext_settings_become_credentials() {
        let config = applied(
            "security.protocol=SASL_PLAINTEXT\nsasl.mechanism=SCRAM-SHA-256\n\
             sasl.username=alice\nsasl.password=alice-secret\nclient.id=ops\n\
             request.timeout.ms=5000\n",
        )
        .unwrap();
        assert!(config.tls.is_none());
        assert_eq!(config.client_id, "ops");
        let sasl = config.sasl.unwrap();
        assert_eq!(sasl.mechanism, SaslMechanism::ScramSha256);
        assert_eq!(
            (sasl.username.as_str(), sasl.password.as_str()),
            ("alice", "alice-secret")
        );
        assert!(
            !format!("{sasl:?}").contains("alice-secret"),
            "Debug hides the password"
        );
    }

    #[test]
    fn a_java_jaas_line_gives_the_credentials() {
        let config = applied(
            "security.protocol=SASL_PLAINTEXT\nsasl.mechanism=PLAIN\nsasl.jaas.config=\
             org.apache.kafka.common.security.plain.PlainLoginModule required \
             username=\"bob\" password=\"p w\";\n",
        )
        .unwrap();
        let sasl = config.sasl.unwrap();
        assert_eq!(sasl.mechanism, SaslMechanism::Plain);
        assert_eq!(
            (sasl.username.as_str(), sasl.password.as_str()),
            ("bob", "p w")
        );
    }

    #[test]
    fn plaintext_sets_nothing() {
        let config = applied("security.protocol=PLAINTEXT\n").unwrap();
        assert!(config.tls.is_none() && config.sasl.is_none());
        let config = applied("# nothing\n").unwrap();
        assert!(config.tls.is_none() && config.sasl.is_none());
    }

    #[test]
    fn mistakes_are_named() {
        let cases = [
            ("security.protocol=SASL_SSLX\n", "security.protocol"),
            (
                "security.protocol=SASL_PLAINTEXT\nsasl.username=a\n",
                "sasl.password",
            ),
            (
                "security.protocol=SASL_PLAINTEXT\nsasl.mechanism=GSSAPI\nsasl.username=a\nsasl.password=b\n",
                "sasl.mechanism",
            ),
            (
                "security.protocol=SSL\nssl.ca.location=/nonexistent/ca.pem\n",
                "ssl.ca.location",
            ),
            ("sasl.pasword=x\n", "\"sasl.pasword\""),
            ("ssl.truststore.location=/x.jks\n", "ssl.ca.location"),
            ("ssl.keystore.location=/x.p12\n", "ssl.certificate.location"),
            ("ssl.key.password=x\n", "ssl.key.password"),
            (
                "enable.ssl.certificate.verification=false\n",
                "enable.ssl.certificate.verification",
            ),
            (
                "ssl.endpoint.identification.algorithm=none\n",
                "ssl.endpoint.identification.algorithm",
            ),
        ];
        for (text, named) in cases {
            let message = refused(text);
            assert!(message.contains(named), "{text:?}: {message}");
        }
        assert!(
            !refused("sasl.pasword=hunter2\n").contains("hunter2"),
            "the value of an unknown key may be a secret"
        );
        applied("enable.ssl.certificate.verification=true\nssl.endpoint.identification.algorithm=https\n")
            .unwrap();
    }
}
