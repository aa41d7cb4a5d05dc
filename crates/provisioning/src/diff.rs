//! The before/after diff a write's sync-log event carries: every changed attribute, by its
//! SCIM path (`name.givenName`, `urn:…:User:department`), so an admin reads what the IdP changed.

use serde_json::{Map, Value, json};

/// `prefix` is the path so far; an extension's attributes follow its URN after a `:`.
fn flatten(prefix: &str, v: &Value, out: &mut Map<String, Value>, depth: usize) {
    match v {
        Value::Object(o) if !o.is_empty() => {
            for (k, child) in o {
                if prefix.is_empty() && k == "schemas" {
                    continue;
                }
                let path = if prefix.is_empty() {
                    k.clone()
                } else if depth == 1 && prefix.starts_with("urn:") {
                    format!("{prefix}:{k}")
                } else {
                    format!("{prefix}.{k}")
                };
                flatten(&path, child, out, depth + 1);
            }
        }
        other => {
            if !prefix.is_empty() {
                out.insert(prefix.to_string(), other.clone());
            }
        }
    }
}

/// The attributes that differ between two stored documents (`Value::Null` for "none").
pub fn diff(before: &Value, after: &Value) -> Vec<Value> {
    let (mut b, mut a) = (Map::new(), Map::new());
    flatten("", before, &mut b, 0);
    flatten("", after, &mut a, 0);
    let mut keys: Vec<&String> = b.keys().chain(a.keys()).collect();
    keys.sort();
    keys.dedup();
    keys.into_iter()
        .filter_map(|k| {
            let (x, y) = (b.get(k).unwrap_or(&Value::Null), a.get(k).unwrap_or(&Value::Null));
            (x != y).then(|| json!({"attribute": k, "before": redact(k, x), "after": redact(k, y)}))
        })
        .collect()
}

fn redact(key: &str, v: &Value) -> Value {
    if key.eq_ignore_ascii_case("password") && !v.is_null() { json!("[redacted]") } else { v.clone() }
}

/// The membership part of a diff.
pub fn members(added: &[String], removed: &[String]) -> Option<Value> {
    (!added.is_empty() || !removed.is_empty())
        .then(|| json!({"attribute": "members", "added": added, "removed": removed}))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Nested, extension and multi-valued attributes appear by their SCIM paths.
    #[test]
    fn paths_and_values() {
        let urn = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
        let before = json!({"schemas":["x"],"userName":"a","name":{"givenName":"A"},urn:{"department":"R","manager":{"value":"m1"}},"active":true});
        let after = json!({"schemas":["y"],"userName":"a","name":{"givenName":"B","familyName":"C"},urn:{"department":"S","manager":{"value":"m2"}},"active":false,"emails":[{"value":"e"}]});
        assert_eq!(
            diff(&before, &after),
            vec![
                json!({"attribute":"active","before":true,"after":false}),
                json!({"attribute":"emails","before":null,"after":[{"value":"e"}]}),
                json!({"attribute":"name.familyName","before":null,"after":"C"}),
                json!({"attribute":"name.givenName","before":"A","after":"B"}),
                json!({"attribute":format!("{urn}:department"),"before":"R","after":"S"}),
                json!({"attribute":format!("{urn}:manager.value"),"before":"m1","after":"m2"}),
            ]
        );
        assert!(diff(&after, &after).is_empty(), "no change, no diff");
    }
}
