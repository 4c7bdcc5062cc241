//! Errors that need no cluster: an unreachable broker, bad flags, completions and help.
#![allow(clippy::unwrap_used)]

use crate::support;

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
        &["consume", "t", "--group", "g"],
        &["cluster", "status"],
        &["group", "list"],
        &["group", "describe", "g"],
        &[
            "group",
            "reset-offsets",
            "g",
            "--topic",
            "t",
            "--to-earliest",
        ],
        &["group", "delete", "g"],
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
        (
            &["consume", "t", "--group", "g", "--offset", "3"],
            "cannot be used with",
        ),
        (
            &["consume", "t", "--group", "g", "--partition", "0"],
            "cannot be used with",
        ),
        (
            &["consume", "t", "--group", "g", "--from-time", "-1h"],
            "cannot be used with",
        ),
        (
            &["consume", "t", "--session-timeout-ms", "6000"],
            "--group <GROUP>",
        ),
        (
            &[
                "consume",
                "t",
                "--group",
                "g",
                "--session-timeout-ms",
                "soon",
            ],
            "invalid digit",
        ),
        (&["group", "describe"], "required"),
        (&["group", "reset-offsets", "g", "--topic", "t"], "required"),
        (&["group", "reset-offsets", "g", "--to-earliest"], "--topic"),
        (
            &[
                "group",
                "reset-offsets",
                "g",
                "--topic",
                "t",
                "--to-earliest",
                "--to-latest",
            ],
            "cannot be used with",
        ),
        (
            &[
                "group",
                "reset-offsets",
                "g",
                "--topic",
                "t",
                "--to-offset",
                "-3",
            ],
            "not in 0..",
        ),
        (
            &[
                "group",
                "reset-offsets",
                "g",
                "--topic",
                "t",
                "--to-offset",
                "ten",
            ],
            "invalid digit",
        ),
        (
            &[
                "group",
                "reset-offsets",
                "g",
                "--topic",
                "t",
                "--to-datetime",
                "yesterday",
            ],
            "RFC 3339",
        ),
        (&["group", "rename", "g"], "unrecognized subcommand"),
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
            "group",
            "reset-offsets",
            "to-datetime",
            "session-timeout-ms",
        ] {
            assert!(out.contains(word), "{shell} completions lack {word}");
        }
    }
}

#[test]
fn reset_help_says_it_applies_unless_dry_run() {
    let out = run_with(&["group", "reset-offsets", "--help"], None, None).ok();
    assert!(out.contains("--dry-run"), "{out}");
    assert!(
        out.contains(
            "The new offsets are committed at once; --dry-run prints them and commits nothing."
        ),
        "{out}"
    );
    let out = run_with(&["consume", "--help"], None, None).ok();
    assert!(out.contains("--group <GROUP>"), "{out}");
    assert!(out.contains("--session-timeout-ms <MS>"), "{out}");
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
        &["group", "list", "--help"],
        &["group", "describe", "--help"],
        &["group", "reset-offsets", "--help"],
        &["group", "delete", "--help"],
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
