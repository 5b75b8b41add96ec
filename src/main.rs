use clap::Parser;

fn main() -> std::process::ExitCode {
    let cli = hookd::cli::Cli::parse();
    match cli.log_format() {
        Ok(format) => hookd::logs::init(format),
        Err(e) => {
            eprintln!("hookd: {e}");
            return std::process::ExitCode::FAILURE;
        }
    }
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("hookd: cannot start the async runtime: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    // Spawned, not run on this thread: the runtime's workers are the only busy threads.
    let outcome = runtime.block_on(async { tokio::spawn(hookd::cli::run(cli)).await });
    let outcome =
        outcome.unwrap_or_else(|e| Err(format!("hookd stopped unexpectedly: {e}").into()));
    match outcome {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(failure) => {
            eprintln!("hookd: {}", failure.message);
            std::process::ExitCode::from(failure.exit as u8)
        }
    }
}
