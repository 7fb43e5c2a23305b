use std::process::ExitCode;

fn main() -> ExitCode {
    restore_sigpipe();
    otelpki::dispatch::main()
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
