//! The canonical revision of a target: a hash of its template that depends
//! only on the template's content, not on field order or on Warbler's version.

use serde_json::Value;
use sha2::{Digest, Sha256};

/// The first 16 hex digits of the sha256 of the template's canonical JSON
/// (object keys sorted, no whitespace).
pub fn revision_of(template: &Value) -> String {
    let mut canonical = String::new();
    write_canonical(template, &mut canonical);
    let digest = Sha256::digest(canonical.as_bytes());
    digest[..8].iter().map(|b| format!("{b:02x}")).collect()
}

fn write_canonical(value: &Value, out: &mut String) {
    match value {
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            out.push('{');
            for (i, key) in keys.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&Value::String(key.clone()).to_string());
                out.push(':');
                write_canonical(&map[key], out);
            }
            out.push('}');
        }
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_canonical(item, out);
            }
            out.push(']');
        }
        scalar => out.push_str(&scalar.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn key_order_does_not_change_the_revision() {
        let a = json!({"image": "podinfo:6.0", "env": [{"name": "A", "value": "1"}]});
        let b = json!({"env": [{"value": "1", "name": "A"}], "image": "podinfo:6.0"});
        assert_eq!(revision_of(&a), revision_of(&b));
    }

    #[test]
    fn a_changed_image_changes_the_revision() {
        let a = json!({"image": "podinfo:6.0"});
        let b = json!({"image": "podinfo:6.1"});
        assert_ne!(revision_of(&a), revision_of(&b));
        assert_eq!(revision_of(&a).len(), 16);
    }
}
