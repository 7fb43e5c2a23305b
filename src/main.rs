use std::io::Write;
use std::process::ExitCode;

use clap::{CommandFactory, Parser};

use otelpki::cli::{Cli, Command, Export, Issue, RotateCa};
use otelpki::report::Outcome;
use otelpki::{
    apply, check, config, csr, export, fixtures, inspect, issue, probe, renew, rotate, verify,
};

/// Exit codes (docs/commands.md): 0 ok, 1 a check found a problem, 2 usage or input error.
const EXIT_FINDINGS: u8 = 1;
const EXIT_ERROR: u8 = 2;

fn main() -> ExitCode {
    restore_sigpipe();
    let cli = Cli::parse();
    match run(&cli) {
        Ok(code) => code,
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::from(EXIT_ERROR)
        }
    }
}

fn run(cli: &Cli) -> anyhow::Result<ExitCode> {
    let dir = cli.dir.as_path();
    match &cli.command {
        Command::Init(args) => issue::init(dir, args)?,
        Command::InitCa(args) => issue::init_ca(dir, args)?,
        Command::Issue(Issue::Server(args)) => match &args.leaf.csr {
            Some(csr_file) => csr::server(dir, args, csr_file)?,
            None => issue::server(dir, args)?,
        },
        Command::Issue(Issue::Client(args)) => match &args.leaf.csr {
            Some(csr_file) => csr::client(dir, args, csr_file)?,
            None => issue::client(dir, args)?,
        },
        Command::Config(target) => config::run(dir, target)?,
        Command::Fixtures(args) => fixtures::run(dir, args)?,
        Command::Apply(args) => apply::run(dir, args)?,
        Command::Export(Export::P12(args)) => export::p12(dir, args)?,
        Command::Export(Export::Truststore(args)) => export::truststore(dir, args)?,
        Command::Renew(args) => renew::run(dir, args)?,
        Command::RotateCa(RotateCa::Start(args)) => rotate::start(dir, args)?,
        Command::RotateCa(RotateCa::Switch(args)) => rotate::switch(dir, args)?,
        Command::RotateCa(RotateCa::Finish(args)) => rotate::finish(dir, args)?,
        Command::RotateCa(RotateCa::Status(args)) => rotate::status(dir, args)?,
        Command::Inspect(args) => inspect::run(args)?,
        Command::Verify(args) => return Ok(exit(verify::run(dir, args)?)),
        Command::Check(args) => return Ok(exit(check::run(dir, args)?)),
        Command::Probe(args) => return Ok(exit(probe::run(dir, args)?)),
        Command::Recover => otelpki::store::recover_command(dir)?,
        Command::Completions(args) => {
            let mut out = std::io::stdout().lock();
            clap_complete::generate(args.shell, &mut Cli::command(), "otelpki", &mut out);
            out.flush()?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn exit(outcome: Outcome) -> ExitCode {
    match outcome {
        Outcome::Clean => ExitCode::SUCCESS,
        Outcome::Findings => ExitCode::from(EXIT_FINDINGS),
    }
}

/// Rust ignores SIGPIPE, so `otelpki inspect ... | head` would panic on the closed pipe.
/// Restore the default action: the process ends quietly, like every Unix filter. Every file
/// otelpki writes is published before it prints, so nothing is left half-written.
#[allow(unsafe_code)]
fn restore_sigpipe() {
    // SAFETY: called first in main, before any thread exists; SIG_DFL is a valid action.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
}
