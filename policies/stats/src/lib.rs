//! The statistics behind Warbler's analysis policies: is the canary's
//! metric different from the baseline's, and how sure can a policy be?
//!
//! - Location: [`mann_whitney`], the rank test Kayenta's canary judge uses,
//!   with the Hodges–Lehmann shift estimate.
//! - Spread: [`brown_forsythe`], a median-centred Levene test, and
//!   [`iqr_ratio`].
//! - Rare events: [`two_proportion_z_test`] and the exact
//!   [`poisson_rate_test`] for error counts.
//! - Descriptive statistics: [`mean`], [`variance`], [`median`],
//!   [`quantile`], [`interquartile_range`].
//! - The distribution functions underneath, in [`distribution`].
//!
//! Conventions shared by every function:
//!
//! - Two-sample tests take the **canary first** and the baseline (the
//!   primary) second; [`Alternative::Greater`] means "the canary's values
//!   are larger" — slower, or failing more.
//! - **NaN values are dropped** before anything is computed: a missing
//!   scrape should shrink a sample, not poison it. A function returns
//!   `None` when too few values remain for its statistic to exist.
//! - Results **match SciPy**: each test names the SciPy (or NumPy)
//!   function it reproduces, and the crate's tests compare against values
//!   SciPy computed (`tests/tools/stats_reference.py`), to a relative 1e-9
//!   or better, far tails included. Where an edge case makes SciPy return
//!   NaN (0/0), the function documents the value it returns instead.
//!
//! The crate uses only `std` and no `unsafe`, so it builds for
//! `wasm32-unknown-unknown` and `wasm32-wasip2` like any policy, and gives
//! the same result for the same input, as policies must.

mod alternative;
mod descriptive;
mod dispersion;
pub mod distribution;
mod proportion;
mod quantile;
mod rank;
mod rate;
mod sample;

pub use alternative::Alternative;
pub use descriptive::{mean, median, variance};
pub use dispersion::{BrownForsythe, brown_forsythe, iqr_ratio};
pub use proportion::{Counts, ProportionTest, two_proportion_z_test};
pub use quantile::{interquartile_range, quantile};
pub use rank::{MannWhitney, PValueMethod, mann_whitney, mann_whitney_using};
pub use rate::{RateTest, poisson_rate_test};
