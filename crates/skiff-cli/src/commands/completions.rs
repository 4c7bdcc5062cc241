//! `skiff completions bash|zsh|fish`.

use clap::{Args, ValueEnum};
use clap_complete::Shell;

use crate::output::{OutputError, print_bytes};

pub const EXAMPLES: &str = "Examples:\n  \
    skiff completions bash > ~/.local/share/bash-completion/completions/skiff\n  \
    skiff completions zsh > \"${fpath[1]}/_skiff\"\n  \
    skiff completions fish > ~/.config/fish/completions/skiff.fish";

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum CompletionShell {
    Bash,
    Zsh,
    Fish,
}

#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// The shell to generate completions for.
    pub shell: CompletionShell,
}

/// Prints the completion script for `command` (the whole `skiff` command line).
pub fn run(args: &CompletionsArgs, mut command: clap::Command) -> Result<(), OutputError> {
    let shell = match args.shell {
        CompletionShell::Bash => Shell::Bash,
        CompletionShell::Zsh => Shell::Zsh,
        CompletionShell::Fish => Shell::Fish,
    };
    // clap_complete panics when its writer fails, so the script is built in memory and
    // written out here, where a closed stdout is an ordinary end.
    let mut script = Vec::new();
    clap_complete::generate(shell, &mut command, "skiff", &mut script);
    print_bytes(&script)
}
