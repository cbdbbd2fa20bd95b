//! A policy's own configuration: JSON text that crosses the boundary as is.

use serde::de::DeserializeOwned;

use crate::PolicyError;

/// The configuration's text when none is given.
pub(crate) fn null() -> String {
    "null".to_owned()
}

/// Parse `json` as `T`, `T::default()` for `null`. The error names the field
/// that failed, e.g. `config.missingMetric: unknown variant ...`.
pub(crate) fn parse<T: DeserializeOwned + Default>(json: &str) -> Result<T, PolicyError> {
    if json.trim().is_empty() || json.trim() == "null" {
        return Ok(T::default());
    }
    let deserializer = &mut serde_json::Deserializer::from_str(json);
    serde_path_to_error::deserialize(deserializer).map_err(|err| {
        let path = err.path().to_string();
        let field = if path == "." {
            "config".to_owned()
        } else {
            format!("config.{path}")
        };
        PolicyError::InvalidConfig(format!(
            "{field}: {}; fix `analysis.policy.config` in the Canary",
            err.inner()
        ))
    })
}

/// Serde glue: the configuration is JSON text in Rust and a plain embedded
/// JSON value in JSON files.
pub(crate) mod embedded {
    use serde::{Deserialize, Deserializer, Serialize, Serializer};
    use serde_json::value::RawValue;

    pub fn serialize<S: Serializer>(json: &str, serializer: S) -> Result<S::Ok, S::Error> {
        let raw: &RawValue = serde_json::from_str(json).map_err(serde::ser::Error::custom)?;
        raw.serialize(serializer)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<String, D::Error> {
        Box::<RawValue>::deserialize(deserializer).map(|raw| raw.get().to_owned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Default, PartialEq, serde::Deserialize)]
    #[serde(default, deny_unknown_fields, rename_all = "camelCase")]
    struct Knobs {
        min_samples: u32,
        nested: Nested,
    }

    #[derive(Debug, Default, PartialEq, serde::Deserialize)]
    #[serde(default, deny_unknown_fields)]
    struct Nested {
        level: u8,
    }

    #[test]
    fn null_and_empty_configs_are_the_default() {
        assert_eq!(parse::<Knobs>("null").unwrap(), Knobs::default());
        assert_eq!(parse::<Knobs>("").unwrap(), Knobs::default());
    }

    #[test]
    fn a_bad_value_names_its_path() {
        let err = parse::<Knobs>(r#"{"nested":{"level":"high"}}"#).unwrap_err();
        let PolicyError::InvalidConfig(message) = err else {
            panic!("expected invalid config, got {err:?}");
        };
        assert!(
            message.starts_with("config.nested.level: invalid type"),
            "{message}"
        );
    }
}
