use std::io::Write;
use std::process::ExitCode;

use clap::{CommandFactory, Parser};

use otelpki::cli::{Cli, Command, Export, Issue, RotateCa};
use otelpki::report::{Outcome, emit};
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
        Command::Recover => emit(&otelpki::store::recover_command(dir)?, false)?,
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
