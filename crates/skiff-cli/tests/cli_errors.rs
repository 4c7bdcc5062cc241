//! Errors that need no cluster: an unreachable broker, bad flags, completions and help.
#![allow(clippy::unwrap_used)]

mod support;

use support::{free_port, run_with};

#[test]
fn every_client_command_names_the_unreachable_broker() {
    let addr = format!("127.0.0.1:{}", free_port());
    let expected = format!("error: broker unreachable at {addr} (connection refused)");
    for args in [
        &["topic", "list"][..],
        &["topic", "create", "t"],
        &["topic", "describe", "t"],
        &["topic", "delete", "t"],
        &["topic", "alter-config", "t", "--set", "a=b"],
        &["topic", "add-partitions", "t", "--to", "2"],
        &["consume", "t"],
        &["cluster", "status"],
    ] {
        let run = run_with(args, None, Some(&addr));
        assert_eq!(run.fails(), expected, "{args:?}");
    }
    let run = run_with(&["produce", "t"], Some(b"x\n"), Some(&addr));
    assert_eq!(run.fails(), expected);
    // --bootstrap wins over SKIFF_BOOTSTRAP.
    let other = format!("127.0.0.1:{}", free_port());
    let run = run_with(&["topic", "list", "--bootstrap", &other], None, Some(&addr));
    assert_eq!(
        run.fails(),
        format!("error: broker unreachable at {other} (connection refused)")
    );
}

#[test]
fn bad_flags_are_usage_errors_with_exit_2() {
    for (args, needle) in [
        (&["consume", "t", "--offset", "soon"][..], "not an offset"),
        (&["consume", "t", "--from-time", "yesterday"], "RFC 3339"),
        (&["consume", "t", "--from-time", "-5x"], "unknown unit"),
        (
            &["consume", "t", "--offset", "3", "--from-beginning"],
            "cannot be used with",
        ),
        (&["consume", "t", "--format", "xml"], "invalid value 'xml'"),
        (&["produce", "t", "--acks", "2"], "invalid value '2'"),
        (
            &["produce", "t", "--compression", "brotli"],
            "invalid value 'brotli'",
        ),
        (&["produce", "t", "--header", "novalue"], "is not key=value"),
        (&["topic", "create"], "required"),
        (&["topic", "alter-config", "t"], "required"),
        (&["topic", "add-partitions", "t"], "--to"),
        (
            &["topic", "create", "t", "--partitions", "many"],
            "invalid digit",
        ),
        (&["completions", "powershell"], "invalid value 'powershell'"),
        (&["nonsense"], "unrecognized subcommand"),
    ] {
        let run = run_with(args, None, None);
        assert_eq!(run.code(), Some(2), "{args:?}: {}", run.stderr);
        assert!(run.stderr.contains(needle), "{args:?}: {}", run.stderr);
    }
}

#[test]
fn completions_are_generated_for_each_shell() {
    for (shell, marker) in [
        ("bash", "complete -F"),
        ("zsh", "#compdef skiff"),
        ("fish", "complete -c skiff"),
    ] {
        let out = run_with(&["completions", shell], None, None).ok();
        assert!(
            out.contains(marker),
            "{shell}: {}",
            &out[..out.len().min(200)]
        );
        for word in [
            "topic",
            "produce",
            "consume",
            "cluster",
            "add-partitions",
            "from-time",
        ] {
            assert!(out.contains(word), "{shell} completions lack {word}");
        }
    }
}

#[test]
fn every_subcommand_has_help_with_an_example() {
    for args in [
        &["--help"][..],
        &["dev", "--help"],
        &["topic", "create", "--help"],
        &["topic", "list", "--help"],
        &["topic", "describe", "--help"],
        &["topic", "delete", "--help"],
        &["topic", "alter-config", "--help"],
        &["topic", "add-partitions", "--help"],
        &["produce", "--help"],
        &["consume", "--help"],
        &["cluster", "status", "--help"],
        &["completions", "--help"],
    ] {
        let out = run_with(args, None, None).ok();
        let examples = out
            .split_once("Examples:\n")
            .map(|(_, e)| e)
            .unwrap_or_default();
        assert!(
            examples.contains("skiff "),
            "{args:?} help has no example:\n{out}"
        );
        if args[0] != "dev" && args[0] != "completions" && args != ["--help"] {
            assert!(
                out.contains("--bootstrap"),
                "{args:?} help lacks --bootstrap"
            );
            assert!(
                out.contains("SKIFF_BOOTSTRAP"),
                "{args:?} help lacks SKIFF_BOOTSTRAP"
            );
        }
    }
}
