//! Distribution functions the tests turn their statistics into p-values
//! with: the normal tail for rank and proportion tests, the F tail for the
//! dispersion test and the binomial tails for the exact rate test.
//!
//! Policies compare p-values against small significance levels, so what
//! matters is *relative* accuracy far in the tails: every tail here is
//! computed directly (never as `1 - cdf`), keeps a relative error near
//! 1e-14 even where the value is 1e-300, and agrees with SciPy to better
//! than 1e-12 (where the two differ most, high-precision arithmetic sides
//! with this crate).

mod beta;
mod binomial;
mod gamma;
mod normal;

pub use beta::{f_sf, regularized_incomplete_beta};
pub use binomial::{binomial_cdf, binomial_pmf, binomial_sf};
pub use gamma::ln_gamma;
pub use normal::{erfc, normal_cdf, normal_sf};

pub(crate) use beta::incomplete_beta_with_complement;
