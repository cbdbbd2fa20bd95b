//! Which departure from "canary and baseline are alike" a test looks for.

/// The alternative hypothesis of a two-sample test, always read as "the
/// canary compared with the baseline".
///
/// A rollout gate usually cares about one direction only — the canary being
/// slower, or failing more — and a one-sided test has more power to see it
/// than a two-sided one with the same number of samples.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Alternative {
    /// The canary differs from the baseline in either direction.
    TwoSided,
    /// The canary's values (or rate) tend to be smaller than the baseline's.
    Less,
    /// The canary's values (or rate) tend to be greater than the baseline's:
    /// higher latency, more errors.
    Greater,
}
