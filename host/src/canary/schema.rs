//! Schema pieces for the CRDs that the derived schemas cannot say by
//! themselves: Go durations, free-form Flagger fields, and the enums the
//! guest SDK owns (it does not depend on schemars).

use schemars::{Schema, SchemaGenerator, json_schema};

/// A Go duration (`30s`, `1m`, `1h30m`, `500ms`), as Flagger writes them.
pub(super) const DURATION_PATTERN: &str = r"^(0|([0-9]+(\.[0-9]+)?(ns|us|µs|ms|s|m|h))+)$";

/// Flagger's phases, as the status writes them.
pub(super) const PHASES: [&str; 9] = [
    "Initializing",
    "Initialized",
    "Waiting",
    "Progressing",
    "WaitingPromotion",
    "Promoting",
    "Finalising",
    "Succeeded",
    "Failed",
];

/// Flagger's webhook types.
pub(super) const WEBHOOK_TYPES: [&str; 8] = [
    "confirm-rollout",
    "pre-rollout",
    "rollout",
    "confirm-traffic-increase",
    "confirm-promotion",
    "post-rollout",
    "rollback",
    "event",
];

pub(super) fn duration(_: &mut SchemaGenerator) -> Schema {
    json_schema!({
        "type": "string",
        "pattern": DURATION_PATTERN,
        "maxLength": 32,
    })
}

/// A field Flagger documents but Warbler keeps as written (so that a Flagger
/// manifest applies), whatever its shape.
pub(super) fn any_value(_: &mut SchemaGenerator) -> Schema {
    json_schema!({
        "x-kubernetes-preserve-unknown-fields": true,
    })
}

pub(super) fn phase(_: &mut SchemaGenerator) -> Schema {
    json_schema!({
        "type": "string",
        "enum": PHASES,
    })
}

pub(super) fn webhook_type(_: &mut SchemaGenerator) -> Schema {
    json_schema!({
        "type": "string",
        "enum": WEBHOOK_TYPES,
    })
}

/// The decisions of past steps, written by Warbler for policies.
pub(super) fn history(_: &mut SchemaGenerator) -> Schema {
    json_schema!({
        "type": "array",
        "items": {
            "type": "object",
            "x-kubernetes-preserve-unknown-fields": true,
        },
    })
}

#[cfg(test)]
mod tests {
    use warbler_guest_sdk::{Phase, WebhookKind};

    use super::*;

    #[test]
    fn every_phase_in_the_schema_is_a_phase() {
        for name in PHASES {
            let phase: Result<Phase, _> = serde_json::from_value(name.into());
            assert!(phase.is_ok(), "{name}");
        }
    }

    #[test]
    fn every_webhook_type_in_the_schema_is_a_webhook_kind() {
        for name in WEBHOOK_TYPES {
            let kind: Result<WebhookKind, _> = serde_json::from_value(name.into());
            assert!(kind.is_ok(), "{name}");
        }
    }
}
