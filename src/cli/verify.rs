//! `hookd verify`: checks a request a receiver got, for people debugging a receiver. The
//! checking itself is [`crate::verify`].

use std::io::Read;
use std::path::PathBuf;

use super::client::{CliResult, Exit, Failure};

#[derive(clap::Args)]
pub struct VerifyArgs {
    /// The endpoint's secret: `whsec_…` for Standard Webhooks, its public key `whpk_…` for an
    /// ed25519 (`v1a`) endpoint, the shared secret for Mastodon and Misskey
    /// [env: HOOKD_VERIFY_SECRET].
    #[arg(long)]
    secret: Option<String>,
    /// A request header, `Name: value` (repeat for more).
    #[arg(long = "header", short = 'H', value_name = "NAME: VALUE")]
    headers: Vec<String>,
    /// A file of request headers, one `Name: value` per line (an HTTP request's head as a
    /// receiver logged it; other lines are skipped).
    #[arg(long, value_name = "FILE")]
    headers_file: Option<PathBuf>,
    /// The body exactly as received: a file, or `-` for standard input [default: -].
    body: Option<PathBuf>,
    /// Refuse a Standard Webhooks timestamp further than this many seconds from now (replays);
    /// 0 checks no time.
    #[arg(long, default_value_t = 300, value_name = "SECONDS")]
    tolerance: i64,
}

pub fn run(args: VerifyArgs) -> CliResult {
    let secret = args
        .secret
        .or_else(|| std::env::var("HOOKD_VERIFY_SECRET").ok())
        .ok_or("give the endpoint's secret with --secret or HOOKD_VERIFY_SECRET")?;
    let mut lines = args.headers;
    if let Some(file) = &args.headers_file {
        let text = std::fs::read_to_string(file)
            .map_err(|e| format!("cannot read {}: {e}", file.display()))?;
        lines.extend(text.lines().map(str::to_owned));
    }
    let headers: Vec<(String, String)> = lines
        .iter()
        .filter_map(|l| l.split_once(':'))
        .filter(|(name, _)| !name.is_empty() && !name.contains(' '))
        .map(|(name, value)| (name.trim().to_owned(), value.trim().to_owned()))
        .collect();
    let body = read_body(args.body.as_deref())?;
    let now = crate::model::time::now_ms() / 1000;
    let tolerance = (args.tolerance > 0).then_some(args.tolerance);
    match crate::verify::verify(&secret, &headers, &body, now, tolerance) {
        Ok(verified) => {
            println!("{verified}");
            Ok(())
        }
        Err(why) => Err(Failure::new(Exit::Invalid, format!("not a valid delivery: {why}"))),
    }
}

fn read_body(path: Option<&std::path::Path>) -> CliResult<Vec<u8>> {
    match path {
        Some(p) if p.as_os_str() != "-" => {
            std::fs::read(p).map_err(|e| format!("cannot read {}: {e}", p.display()).into())
        }
        _ => {
            let mut body = Vec::new();
            std::io::stdin().read_to_end(&mut body).map_err(|e| e.to_string())?;
            Ok(body)
        }
    }
}
