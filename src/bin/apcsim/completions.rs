//! `apcsim completions SHELL`: a completion script for the shell, generated from the same clap
//! definitions that parse the command line, so it never lists a command that does not exist.

use crate::exit::Failure;
use clap::CommandFactory;
use clap_complete::Shell;

#[derive(clap::Args, Debug)]
pub struct CompletionsArgs {
    /// The shell: bash, zsh, fish, elvish or powershell.
    shell: Shell,
}

pub fn completions(args: CompletionsArgs) -> Result<(), Failure> {
    let mut script = Vec::new();
    clap_complete::generate(
        args.shell,
        &mut crate::Cli::command(),
        "apcsim",
        &mut script,
    );
    say!("{}", String::from_utf8_lossy(&script));
    Ok(())
}
