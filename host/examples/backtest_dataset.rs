//! Write the labelled backtest dataset: `cargo run -p warbler --example
//! backtest_dataset -- DIR [SEED]` (the repository's copy, in
//! `tests/data/backtest/`, is seed 20261207).

use std::path::PathBuf;

fn main() -> std::io::Result<()> {
    let mut args = std::env::args().skip(1);
    let dir = PathBuf::from(
        args.next()
            .unwrap_or_else(|| "tests/data/backtest".to_owned()),
    );
    let seed = match args.next() {
        Some(seed) => seed
            .parse()
            .map_err(|err| std::io::Error::other(format!("SEED must be a whole number: {err}")))?,
        None => warbler::backtest::dataset::SEED,
    };
    let scenarios = warbler::backtest::dataset::generate(seed);
    warbler::backtest::dataset::write(&dir, &scenarios)?;
    println!("{} rollouts written to {}", scenarios.len(), dir.display());
    Ok(())
}
