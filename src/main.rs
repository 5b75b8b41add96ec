use clap::Parser;

fn main() -> std::process::ExitCode {
    let level = match std::env::var("HOOKD_LOG").as_deref() {
        Ok("error") => tracing::Level::ERROR,
        Ok("warn") => tracing::Level::WARN,
        Ok("debug") => tracing::Level::DEBUG,
        _ => tracing::Level::INFO,
    };
    tracing_subscriber::fmt().with_target(false).with_max_level(level).init();
    let cli = hookd::cli::Cli::parse();
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("hookd: cannot start the async runtime: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    // Spawned, not run on this thread: the runtime's workers are the only busy threads.
    let outcome = runtime.block_on(async { tokio::spawn(hookd::cli::run(cli)).await });
    match outcome.unwrap_or_else(|e| Err(format!("hookd stopped unexpectedly: {e}"))) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("hookd: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}
