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

/// Writing to standard output failed.
#[derive(Debug, thiserror::Error)]
pub enum OutputError {
    /// The reader went away (`skiff topic list | head -1`): the command ends quietly with
    /// success, as `cat` does, since whoever reads has all they wanted.
    #[error("standard output was closed")]
    Closed,
    #[error("cannot write to standard output: {0}")]
    Write(io::Error),
}

impl From<io::Error> for OutputError {
    fn from(error: io::Error) -> Self {
        if error.kind() == io::ErrorKind::BrokenPipe {
            OutputError::Closed
        } else {
            OutputError::Write(error)
        }
    }
}

impl From<serde_json::Error> for OutputError {
    fn from(error: serde_json::Error) -> Self {
        // serde_json hands back the writer's io::Error as it was, kind included.
        io::Error::from(error).into()
    }
}

/// True when `error` (or what caused it) is standard output's reader going away.
pub fn is_closed_output(error: &anyhow::Error) -> bool {
    error
        .chain()
        .any(|cause| matches!(cause.downcast_ref(), Some(OutputError::Closed)))
}

/// `error: cause: its cause…` for people, like anyhow's `{:#}`, minus causes the message
/// before them already quotes (many errors say their source in their own words too, and
/// `cannot listen on X: Address in use: Address in use` reads as a stutter).
pub fn error_chain(error: &anyhow::Error) -> String {
    let mut text = error.to_string();
    for cause in error.chain().skip(1) {
        let cause = cause.to_string();
        if !text.contains(&cause) {
            text.push_str(": ");
            text.push_str(&cause);
        }
    }
    text
}

/// Prints `value` as pretty JSON and a newline.
pub fn print_json(value: &Value) -> Result<(), OutputError> {
    let mut stdout = io::stdout().lock();
    serde_json::to_writer_pretty(&mut stdout, value)?;
    writeln!(stdout)?;
    Ok(stdout.flush()?)
}

pub fn print_text(text: &str) -> Result<(), OutputError> {
    print_bytes(text.as_bytes())
}

pub fn print_bytes(bytes: &[u8]) -> Result<(), OutputError> {
    let mut stdout = io::stdout().lock();
    stdout.write_all(bytes)?;
    Ok(stdout.flush()?)
}

/// Resolves once standard output is a pipe or socket whose reader went away; never for files
/// and terminals. A command waiting for data (`consume --follow | grep -m1 x`) then ends at
/// once, as GNU `tail -f` does, instead of at its next write, and a group member gives its
/// partitions back instead of holding them for a reader that is gone.
pub async fn stdout_reader_gone() {
    #[cfg(unix)]
    {
        use std::os::fd::AsFd;
        use tokio::io::Interest;
        use tokio::io::unix::AsyncFd;
        // A duplicate, so the descriptor epoll watches is ours and stays open as long as the
        // AsyncFd lives: what makes with_interest sound (tokio deprecated it for descriptors
        // that might be closed under it; the replacement is `unsafe`, which we forbid).
        let duplicate = io::stdout().as_fd().try_clone_to_owned();
        // epoll refuses regular files (EPERM): those never lose their reader.
        #[allow(deprecated)]
        let registered = duplicate.and_then(|fd| AsyncFd::with_interest(fd, Interest::ERROR));
        if let Ok(stdout) = registered {
            // A pipe's write end reports an error exactly when its read end is closed.
            while let Ok(mut ready) = stdout.ready(Interest::ERROR).await {
                if ready.ready().is_error() {
                    return;
                }
                ready.clear_ready();
            }
        }
    }
    std::future::pending::<()>().await;
}

/// A line on stderr for the person at the terminal, beside the data on stdout. A closed
/// stderr loses the line but never fails the command (eprintln! would panic).
pub fn note(text: &str) {
    let _ = writeln!(io::stderr().lock(), "{text}");
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

    #[test]
    fn a_closed_reader_is_told_apart_from_other_write_errors() {
        let closed = OutputError::from(io::Error::from(io::ErrorKind::BrokenPipe));
        assert!(matches!(closed, OutputError::Closed));
        let full = OutputError::from(io::Error::from(io::ErrorKind::StorageFull));
        assert!(matches!(full, OutputError::Write(_)));

        // Through serde_json, which used to turn every writer error into "other".
        let error = serde_json::to_writer(BrokenPipeWriter, &json!({"a": 1})).unwrap_err();
        assert!(matches!(OutputError::from(error), OutputError::Closed));

        let wrapped = anyhow::Error::from(OutputError::Closed).context("printing the topics");
        assert!(is_closed_output(&wrapped));
        assert!(!is_closed_output(&anyhow::anyhow!("unknown topic")));
        assert!(
            !is_closed_output(&anyhow::Error::from(io::Error::from(
                io::ErrorKind::BrokenPipe
            ))),
            "a broken connection to a broker is an error, not a closed stdout"
        );
    }

    #[derive(Debug, thiserror::Error)]
    #[error("cannot listen on 127.0.0.1:9092: {source}")]
    struct Bind {
        source: io::Error,
    }

    #[test]
    fn each_cause_is_said_once() {
        let in_use = || io::Error::new(io::ErrorKind::AddrInUse, "Address in use");
        let quoted = anyhow::Error::from(Bind { source: in_use() }).context("broker");
        assert_eq!(
            error_chain(&quoted),
            "broker: cannot listen on 127.0.0.1:9092: Address in use"
        );
        let plain = anyhow::Error::from(in_use()).context("cannot listen on 127.0.0.1:9092");
        assert_eq!(
            error_chain(&plain),
            "cannot listen on 127.0.0.1:9092: Address in use"
        );
    }

    struct BrokenPipeWriter;

    impl Write for BrokenPipeWriter {
        fn write(&mut self, _: &[u8]) -> io::Result<usize> {
            Err(io::ErrorKind::BrokenPipe.into())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }
}
