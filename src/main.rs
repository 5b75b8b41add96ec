use clap::Parser;

fn main() -> std::process::ExitCode {
    tracing_subscriber::fmt().with_target(false).init();
    let cli = hookd::cli::Cli::parse();
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("hookd: cannot start the async runtime: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    match runtime.block_on(hookd::cli::run(cli)) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("hookd: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}
