//! Kafka-style client properties files (`--command-config FILE`, as Kafka's tools take them),
//! read as Java's `Properties.load` does: `key=value`, `key: value` or `key value` lines, `#`
//! and `!` comments, a line ending in an odd number of backslashes continuing on the next, and
//! the escapes `\t`, `\n`, `\r`, `\f`, `\uXXXX` and backslash before any other character.

use std::fmt;
use std::path::Path;

/// Keys whose values are secrets: `Debug` shows them as `<redacted>`.
const SECRET_KEYS: &[&str] = &[
    "sasl.password",
    "sasl.jaas.config",
    "ssl.key.password",
    "ssl.keystore.password",
    "ssl.truststore.password",
    "ssl.key.pem",
    "sasl.oauthbearer.client.secret",
];

/// The `key=value` pairs of a properties file, in file order.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Properties(pub Vec<(String, String)>);

impl fmt::Debug for Properties {
    // The file holds passwords: a debug print of the arguments must not show them.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map()
            .entries(self.0.iter().map(|(k, v)| {
                let shown = if SECRET_KEYS.contains(&k.as_str()) {
                    "<redacted>"
                } else {
                    v.as_str()
                };
                (k, shown)
            }))
            .finish()
    }
}

impl Properties {
    /// The last value given for `key`.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.0
            .iter()
            .rev()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// The pairs to hand to librdkafka: all of them, except that the Java client's
    /// `sasl.jaas.config`, which librdkafka does not know, becomes `sasl.username` and
    /// `sasl.password` (unless those are given too). librdkafka itself refuses, naming it, a
    /// key it does not know or a value it cannot use.
    pub fn librdkafka_pairs(&self) -> Vec<(String, String)> {
        let mut pairs: Vec<(String, String)> = self
            .0
            .iter()
            .filter(|(k, _)| k != "sasl.jaas.config")
            .cloned()
            .collect();
        if let Some(jaas) = self.get("sasl.jaas.config") {
            for (option, key) in [("username", "sasl.username"), ("password", "sasl.password")] {
                if self.get(key).is_none()
                    && let Some(value) = jaas_option(jaas, option)
                {
                    pairs.push((key.to_owned(), value));
                }
            }
        }
        pairs
    }
}

/// `name="value"` out of a JAAS line such as
/// `org.apache.kafka.common.security.scram.ScramLoginModule required username="a" password="b";`.
pub fn jaas_option(jaas: &str, name: &str) -> Option<String> {
    let mut rest = jaas;
    while let Some(at) = rest.find(name) {
        let before = rest[..at].chars().last();
        let after = rest[at + name.len()..].trim_start();
        rest = &rest[at + name.len()..];
        if before.is_some_and(|c| !c.is_whitespace()) {
            continue;
        }
        if let Some(value) = after.strip_prefix('=') {
            let value = value.trim_start().strip_prefix('"')?;
            return value.find('"').map(|end| value[..end].to_owned());
        }
    }
    None
}

/// Reads and parses `path`; the error names the file and the line.
pub fn read_properties(path: &Path) -> Result<Properties, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    parse_properties(&text).map_err(|e| format!("{}: {e}", path.display()))
}

/// For clap: `--command-config FILE` read when the flag is parsed.
pub fn parse_properties_file(path: &str) -> Result<Properties, String> {
    read_properties(Path::new(path))
}

pub fn parse_properties(text: &str) -> Result<Properties, String> {
    let mut pairs = Vec::new();
    let mut logical = String::new();
    let mut first_line = 0;
    for (number, line) in text.lines().enumerate() {
        let line = line.trim_start();
        if logical.is_empty() {
            first_line = number + 1;
            if line.is_empty() || line.starts_with('#') || line.starts_with('!') {
                continue;
            }
        }
        let trailing = line.len() - line.trim_end_matches('\\').len();
        if trailing % 2 == 1 {
            logical.push_str(&line[..line.len() - 1]);
            continue;
        }
        logical.push_str(line);
        let entry = std::mem::take(&mut logical);
        let (key, value) =
            split_entry(&entry).map_err(|reason| format!("line {first_line}: {reason}"))?;
        if key.is_empty() {
            return Err(format!("line {first_line} has no key"));
        }
        pairs.push((key, value));
    }
    if !logical.is_empty() {
        let (key, value) =
            split_entry(&logical).map_err(|reason| format!("line {first_line}: {reason}"))?;
        pairs.push((key, value));
    }
    Ok(Properties(pairs))
}

/// The key (up to the first unescaped `=`, `:` or whitespace) and the value (after that
/// separator and the whitespace around it), both unescaped. Trailing whitespace of the value
/// is dropped too, since a stray space after a password is never meant.
fn split_entry(entry: &str) -> Result<(String, String), String> {
    let mut end = entry.len();
    let mut escaped = false;
    for (at, c) in entry.char_indices() {
        if escaped {
            escaped = false;
        } else if c == '\\' {
            escaped = true;
        } else if c == '=' || c == ':' || c.is_whitespace() {
            end = at;
            break;
        }
    }
    let key = &entry[..end];
    let mut rest = entry[end..].trim_start();
    if let Some(after) = rest.strip_prefix(['=', ':']) {
        rest = after.trim_start();
    }
    Ok((unescape(key)?, unescape(rest.trim_end())?))
}

fn unescape(text: &str) -> Result<String, String> {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('t') => out.push('\t'),
            Some('n') => out.push('\n'),
            Some('r') => out.push('\r'),
            Some('f') => out.push('\u{c}'),
            Some('u') => {
                let hex: String = chars.by_ref().take(4).collect();
                let decoded = u32::from_str_radix(&hex, 16)
                    .ok()
                    .filter(|_| hex.len() == 4)
                    .and_then(char::from_u32)
                    .ok_or_else(|| format!("\\u{hex} is not a \\uXXXX escape"))?;
                out.push(decoded);
            }
            Some(other) => out.push(other),
            None => {}
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(props: &Properties) -> Vec<(&str, &str)> {
        props
            .0
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect()
    }

    #[test]
    fn kafka_tool_files_parse() {
        let props = parse_properties(
            "# SASL_SSL\n! also a comment\n\nsecurity.protocol=SASL_SSL\n  sasl.mechanism : SCRAM-SHA-512\n\
             sasl.username alice:x\nsasl.password=a=b\\\n  c\nssl.ca.location=\n",
        )
        .unwrap();
        assert_eq!(
            pairs(&props),
            [
                ("security.protocol", "SASL_SSL"),
                ("sasl.mechanism", "SCRAM-SHA-512"),
                ("sasl.username", "alice:x"),
                ("sasl.password", "a=bc"),
                ("ssl.ca.location", ""),
            ]
        );
        assert_eq!(props.get("sasl.username"), Some("alice:x"));
        assert!(parse_properties("=value\n").unwrap_err().contains("line 1"));
    }

    #[test]
    fn java_escapes_are_undone() {
        let props = parse_properties(
            "a\\=b=c\\:d\nwin=C:\\\\certs\\\\ca.pem\nuni=caf\\u00e9\\t!\nends.with.backslash=x\\\\\nnext=1\n",
        )
        .unwrap();
        assert_eq!(
            pairs(&props),
            [
                ("a=b", "c:d"),
                ("win", "C:\\certs\\ca.pem"),
                ("uni", "café\t!"),
                ("ends.with.backslash", "x\\"),
                ("next", "1"),
            ]
        );
        let bad = parse_properties("\n\nk=\\u12\n").unwrap_err();
        assert!(bad.contains("line 3") && bad.contains("\\u12"), "{bad}");
    }

    #[test]
    fn debug_hides_secrets() {
        let props = parse_properties(
            "sasl.username=alice\nsasl.password=hunter2-secret\n\
             sasl.jaas.config=x required username=\"a\" password=\"jaas-secret\";\n",
        )
        .unwrap();
        let shown = format!("{props:?}");
        assert!(shown.contains("alice"), "{shown}");
        assert!(
            !shown.contains("hunter2") && !shown.contains("jaas-secret"),
            "{shown}"
        );
    }

    #[test]
    fn jaas_lines_give_the_user_and_password() {
        let jaas = r#"org.apache.kafka.common.security.plain.PlainLoginModule required username="bob" password="p w";"#;
        assert_eq!(jaas_option(jaas, "username").as_deref(), Some("bob"));
        assert_eq!(jaas_option(jaas, "password").as_deref(), Some("p w"));
        assert_eq!(jaas_option(jaas, "token"), None);
        let props = Properties(vec![
            ("security.protocol".into(), "SASL_SSL".into()),
            ("sasl.jaas.config".into(), jaas.into()),
        ]);
        assert_eq!(
            props.librdkafka_pairs(),
            [
                ("security.protocol", "SASL_SSL"),
                ("sasl.username", "bob"),
                ("sasl.password", "p w"),
            ]
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
        );
    }
}
