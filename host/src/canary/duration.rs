//! Go-style durations (`1m`, `30s`, `1m30s`, `500ms`, `1.5h`), as Flagger's
//! manifests write them.

use std::time::Duration;

use serde::{Deserialize, Deserializer, Serializer};

/// Parse a Go duration string. Units: `ns`, `us` (or `µs`), `ms`, `s`, `m`,
/// `h`; numbers may have a fraction; a bare `0` is zero.
pub fn parse(text: &str) -> Result<Duration, String> {
    let hint = || format!("`{text}` is not a duration: write it like `30s`, `1m` or `1m30s`");
    if text == "0" {
        return Ok(Duration::ZERO);
    }
    let mut rest = text;
    let mut total = 0f64;
    if rest.is_empty() {
        return Err(hint());
    }
    while !rest.is_empty() {
        let number_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .ok_or_else(hint)?;
        let (number, tail) = rest.split_at(number_len);
        let value: f64 = number.parse().map_err(|_| hint())?;
        let unit_len = tail
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(tail.len());
        let (unit, tail) = tail.split_at(unit_len);
        let seconds = match unit {
            "ns" => 1e-9,
            "us" | "µs" => 1e-6,
            "ms" => 1e-3,
            "s" => 1.0,
            "m" => 60.0,
            "h" => 3600.0,
            _ => return Err(hint()),
        };
        total += value * seconds;
        rest = tail;
    }
    Duration::try_from_secs_f64(total)
        .map_err(|_| format!("`{text}` is too long a duration: write at most a few years"))
}

/// Format a duration the way Go prints it (`1m30s`, `500ms`).
pub fn format(duration: Duration) -> String {
    let millis = duration.as_millis();
    if millis == 0 {
        return "0s".to_owned();
    }
    if !millis.is_multiple_of(1000) {
        return format!("{millis}ms");
    }
    let secs = duration.as_secs();
    let (h, m, s) = (secs / 3600, secs / 60 % 60, secs % 60);
    let mut out = String::new();
    if h > 0 {
        out.push_str(&format!("{h}h"));
    }
    if m > 0 {
        out.push_str(&format!("{m}m"));
    }
    if s > 0 || out.is_empty() {
        out.push_str(&format!("{s}s"));
    }
    out
}

/// Serde glue for `Duration` fields written as Go durations.
pub mod serde_go {
    use super::*;

    /// Serialize as a Go duration string.
    pub fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&format(*d))
    }

    /// Deserialize from a Go duration string.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        let text = String::deserialize(d)?;
        parse(&text).map_err(serde::de::Error::custom)
    }
}

/// Serde glue for optional `Duration` fields written as Go durations.
pub mod serde_go_option {
    use super::*;

    /// Serialize as a Go duration string, or nothing.
    pub fn serialize<S: Serializer>(d: &Option<Duration>, s: S) -> Result<S::Ok, S::Error> {
        match d {
            Some(d) => s.serialize_str(&format(*d)),
            None => s.serialize_none(),
        }
    }

    /// Deserialize from a Go duration string, if present.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Duration>, D::Error> {
        Option::<String>::deserialize(d)?
            .map(|text| parse(&text).map_err(serde::de::Error::custom))
            .transpose()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_flagger_durations() {
        assert_eq!(parse("1m").unwrap(), Duration::from_secs(60));
        assert_eq!(parse("1m30s").unwrap(), Duration::from_secs(90));
        assert_eq!(parse("500ms").unwrap(), Duration::from_millis(500));
        assert_eq!(parse("1.5h").unwrap(), Duration::from_secs(5400));
        assert_eq!(parse("0").unwrap(), Duration::ZERO);
    }

    #[test]
    fn rejects_what_go_rejects_with_an_example() {
        for bad in ["", "1", "m", "1x", "1 m", "-1s"] {
            let err = parse(bad).unwrap_err();
            assert!(err.contains("like `30s`"), "{bad}: {err}");
        }
    }

    #[test]
    fn a_duration_too_long_to_hold_is_an_error_not_a_panic() {
        let err = parse("99999999999999999999h").unwrap_err();
        assert!(err.contains("too long"), "{err}");
    }

    #[test]
    fn formats_like_go() {
        assert_eq!(format(Duration::from_secs(90)), "1m30s");
        assert_eq!(format(Duration::from_millis(500)), "500ms");
        assert_eq!(format(Duration::from_secs(3600)), "1h");
    }
}
