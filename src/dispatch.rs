//! The command line's dispatch, the other half of the CLI layer (with `cli.rs`): parse argv,
//! turn the flags into each command's plain options, call the command, hand its report to
//! `report::emit` (text or JSON, the one place that writes to stdout), and map the outcome to
//! the exit code. `src/main.rs` only restores SIGPIPE and calls `main` here.

use std::io::Write;
use std::process::ExitCode;

use clap::{CommandFactory, Parser};

use crate::cli::{Cli, Command, Export, Issue, RotateCa};
use crate::report::{Outcome, emit};
use crate::{
    apply, check, config, csr, export, fixtures, inspect, issue, probe, renew, rotate, store,
    verify,
};

/// Exit codes (docs/commands.md): 0 ok, 1 a check found a problem, 2 usage or input error.
const EXIT_FINDINGS: u8 = 1;
const EXIT_ERROR: u8 = 2;

/// The otelpki command line: parses argv, runs the command, renders its report, and returns
/// the exit code.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(&cli) {
        Ok(code) => code,
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::from(EXIT_ERROR)
        }
    }
}

/// Parse, convert, call, render: each command gets its plain options (built in `cli.rs`) and
/// returns a report, which `report::emit` writes as text or JSON.
fn run(cli: &Cli) -> anyhow::Result<ExitCode> {
    let dir = cli.dir.as_path();
    let outcome = match &cli.command {
        Command::Init(args) => emit(&issue::init(dir, &args.into())?, false)?,
        Command::InitCa(args) => emit(&issue::init_ca(dir, &args.into())?, false)?,
        Command::Issue(Issue::Server(args)) => match &args.leaf.csr {
            Some(csr_file) => emit(&csr::server(dir, &args.into(), csr_file)?, false)?,
            None => emit(&issue::server(dir, &args.into())?, false)?,
        },
        Command::Issue(Issue::Client(args)) => match &args.leaf.csr {
            Some(csr_file) => emit(&csr::client(dir, &args.into(), csr_file)?, false)?,
            None => emit(&issue::client(dir, &args.into())?, false)?,
        },
        Command::Config(target) => emit(&config::run(dir, &target.into())?, false)?,
        Command::Fixtures(args) => emit(&fixtures::run(dir, &args.into())?, false)?,
        Command::Apply(args) => emit(&apply::run(dir, &args.into())?, args.json)?,
        Command::Export(Export::P12(args)) => emit(&export::p12(dir, &args.into())?, false)?,
        Command::Export(Export::Truststore(args)) => {
            emit(&export::truststore(dir, &args.into())?, false)?
        }
        Command::Renew(args) => emit(&renew::run(dir, &args.into())?, args.json)?,
        Command::RotateCa(RotateCa::Start(args)) => {
            emit(&rotate::start(dir, &args.into())?, args.json)?
        }
        Command::RotateCa(RotateCa::Switch(args)) => {
            emit(&rotate::switch(dir, &args.into())?, args.json)?
        }
        Command::RotateCa(RotateCa::Finish(args)) => emit(&rotate::finish(dir)?, args.json)?,
        Command::RotateCa(RotateCa::Status(args)) => emit(&rotate::status(dir)?, args.json)?,
        Command::Inspect(args) => emit(&inspect::run(&args.into())?, args.json)?,
        Command::Verify(args) => emit(&verify::run(dir, &args.into())?, args.json)?,
        Command::Check(args) => emit(&check::run(dir, &args.into())?, args.json)?,
        Command::Probe(args) => emit(&probe::run(dir, &args.into())?, args.json)?,
        Command::Recover => emit(&store::recover_command(dir)?, false)?,
        Command::Completions(args) => {
            let mut out = std::io::stdout().lock();
            clap_complete::generate(args.shell, &mut Cli::command(), "otelpki", &mut out);
            out.flush()?;
            Outcome::Clean
        }
    };
    Ok(exit(outcome))
}

fn exit(outcome: Outcome) -> ExitCode {
    match outcome {
        Outcome::Clean => ExitCode::SUCCESS,
        Outcome::Findings => ExitCode::from(EXIT_FINDINGS),
    }
}
