//! Prints request paths for the benchmark, one per line:
//!
//! ```text
//! bench-links --guarded --count 2000   # 2,000 distinct genuine links to /guarded/<n>
//! bench-links --forged                  # one link signed by a key the server does not have
//! bench-links --plain --count 2000      # /plain/<n>, no token
//! ```
//!
//! Links are signed with the server's own configuration (`bench::figment()`: the crate's
//! `Rocket.toml`, `ROCKET_PROFILE`, `ROCKET_LINKTOKEN`), so run it with the server's environment.

use std::io::{BufWriter, Write};
use std::process::ExitCode;

use bench::Kind;

const USAGE: &str = "usage: bench-links (--plain | --guarded | --forged) [--count N]";

fn main() -> ExitCode {
    let (kind, count) = match parse(std::env::args().skip(1)) {
        Ok(args) => args,
        Err(why) => {
            eprintln!("bench-links: {why}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    let paths = match bench::links(&bench::figment(), kind, count) {
        Ok(paths) => paths,
        Err(e) => {
            eprintln!("bench-links: {e}");
            return ExitCode::FAILURE;
        }
    };
    let mut out = BufWriter::new(std::io::stdout().lock());
    let written = paths
        .iter()
        .try_for_each(|path| writeln!(out, "{path}"))
        .and_then(|()| out.flush());
    match written {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("bench-links: writing the paths failed: {e}");
            ExitCode::FAILURE
        }
    }
}

fn parse(mut args: impl Iterator<Item = String>) -> Result<(Kind, u32), String> {
    let mut kind = None;
    let mut count = 1;
    while let Some(arg) = args.next() {
        let chosen = match arg.as_str() {
            "--plain" => Kind::Plain,
            "--guarded" => Kind::Guarded,
            "--forged" => Kind::Forged,
            "--count" => {
                let value = args.next().ok_or("--count needs a number")?;
                count = value
                    .parse()
                    .map_err(|_| format!("--count takes a whole number, not `{value}`"))?;
                continue;
            }
            _ => return Err(format!("unknown argument `{arg}`")),
        };
        if kind.replace(chosen).is_some() {
            return Err("give one of --plain, --guarded, --forged".into());
        }
    }
    let kind = kind.ok_or("give one of --plain, --guarded, --forged")?;
    Ok((kind, count))
}
