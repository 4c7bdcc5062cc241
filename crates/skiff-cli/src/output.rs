//! How results reach the terminal: aligned tables for people, JSON for scripts.

use std::io::{self, Write};

use base64::Engine;
use serde_json::{Map, Value, json};

/// A table printed with columns aligned on the widest cell.
pub struct Table {
    headers: Vec<&'static str>,
    rows: Vec<Vec<String>>,
    /// Numeric columns are right-aligned.
    right: Vec<bool>,
}

impl Table {
    pub fn new(headers: &[&'static str]) -> Self {
        Table {
            headers: headers.to_vec(),
            rows: Vec::new(),
            right: vec![false; headers.len()],
        }
    }

    /// Right-aligns the named columns.
    pub fn numeric(mut self, columns: &[&str]) -> Self {
        for (i, header) in self.headers.iter().enumerate() {
            if columns.contains(header) {
                self.right[i] = true;
            }
        }
        self
    }

    pub fn row(&mut self, cells: Vec<String>) {
        self.rows.push(cells);
    }

    pub fn render(&self) -> String {
        let columns = self.headers.len();
        let mut widths: Vec<usize> = self.headers.iter().map(|h| h.chars().count()).collect();
        for row in &self.rows {
            for (i, cell) in row.iter().enumerate().take(columns) {
                widths[i] = widths[i].max(cell.chars().count());
            }
        }
        let mut out = String::new();
        let header: Vec<String> = self.headers.iter().map(|h| (*h).to_owned()).collect();
        for row in std::iter::once(&header).chain(&self.rows) {
            let mut line = String::new();
            for (i, cell) in row.iter().enumerate().take(columns) {
                let pad = widths[i].saturating_sub(cell.chars().count());
                let last = i + 1 == columns;
                if i > 0 {
                    line.push_str("  ");
                }
                if self.right[i] {
                    line.push_str(&" ".repeat(pad));
                    line.push_str(cell);
                } else {
                    line.push_str(cell);
                    if !last {
                        line.push_str(&" ".repeat(pad));
                    }
                }
            }
            out.push_str(line.trim_end());
            out.push('\n');
        }
        out
    }
}

/// Prints `value` as pretty JSON and a newline.
pub fn print_json(value: &Value) -> io::Result<()> {
    let mut stdout = io::stdout().lock();
    serde_json::to_writer_pretty(&mut stdout, value).map_err(io::Error::other)?;
    writeln!(stdout)
}

pub fn print_text(text: &str) -> io::Result<()> {
    let mut stdout = io::stdout().lock();
    stdout.write_all(text.as_bytes())?;
    stdout.flush()
}

/// A cell for an optional value: `-` when absent.
pub fn or_dash<T: ToString>(value: Option<T>) -> String {
    value.map_or_else(|| "-".to_owned(), |v| v.to_string())
}

/// Adds `name` to a JSON record: text as a string when it is UTF-8 (and base64 is not forced),
/// otherwise base64 with `name_encoding: "base64"` beside it; null stays null.
pub fn put_bytes(
    object: &mut Map<String, Value>,
    name: &str,
    bytes: Option<&[u8]>,
    force_base64: bool,
) {
    let Some(bytes) = bytes else {
        object.insert(name.to_owned(), Value::Null);
        return;
    };
    match std::str::from_utf8(bytes) {
        Ok(text) if !force_base64 => {
            object.insert(name.to_owned(), json!(text));
        }
        _ => {
            object.insert(
                name.to_owned(),
                json!(base64::engine::general_purpose::STANDARD.encode(bytes)),
            );
            object.insert(format!("{name}_encoding"), json!("base64"));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_align_and_numbers_go_right() {
        let mut table = Table::new(&["NAME", "PARTITIONS"]).numeric(&["PARTITIONS"]);
        table.row(vec!["orders".into(), "3".into()]);
        table.row(vec!["a".into(), "120".into()]);
        assert_eq!(
            table.render(),
            "NAME    PARTITIONS\norders           3\na              120\n"
        );
    }

    #[test]
    fn bytes_become_text_or_tagged_base64() {
        let mut object = Map::new();
        put_bytes(&mut object, "key", Some(b"k1"), false);
        put_bytes(&mut object, "value", Some(&[0xff, 0x00]), false);
        put_bytes(&mut object, "none", None, false);
        assert_eq!(
            Value::Object(object),
            json!({"key": "k1", "value": "/wA=", "value_encoding": "base64", "none": null})
        );
        let mut forced = Map::new();
        put_bytes(&mut forced, "key", Some(b"k1"), true);
        assert_eq!(
            Value::Object(forced),
            json!({"key": "azE=", "key_encoding": "base64"})
        );
    }
}
