//! Payload filters: an endpoint's `filter`, a JSON document matched against each message
//! (`{"eventType", "channels", "payload"}`) at fan-out, with Outpost's operators.
//!
//! - `{"payload": {"order": {"total": {"$gte": 100}}}}`: nested objects match nested fields;
//!   `{"payload.order.total": {"$gte": 100}}` is the same, as a dotted path.
//! - A plain value matches by equality; against an array it matches when any element does
//!   (`{"channels": "eu"}` matches a message on channel `eu` among others).
//! - Operators on a field: `$eq`, `$neq`, `$gt`, `$gte`, `$lt`, `$lte` (numbers, or strings
//!   compared as text, such as RFC 3339 times), `$in`, `$nin` (a list), `$startsWith`,
//!   `$endsWith` (strings), `$exist` (true or false). Several in one object must all hold.
//! - Logic anywhere a field may stand: `$or` and `$and` (a list of filters), `$not` (a filter).
//!
//! Every key of a filter must hold. A filter is checked when it is saved ([`validate`]), so
//! matching ([`matches`]) meets no surprise and never fails: a field that is absent, or of
//! another kind than an operator compares, simply does not match.

use std::cmp::Ordering;

use serde_json::{Map, Value};

/// How deep a filter may nest, and how large it may be: it runs for every message.
const MAX_DEPTH: usize = 16;
const MAX_BYTES: usize = 8 * 1024;

const FIELD_OPERATORS: &[&str] = &[
    "$eq",
    "$neq",
    "$gt",
    "$gte",
    "$lt",
    "$lte",
    "$in",
    "$nin",
    "$startsWith",
    "$endsWith",
    "$exist",
];

/// Whether `message` (the document a filter sees) passes `filter`.
pub fn matches(filter: &Value, message: &Value) -> bool {
    filter.as_object().is_some_and(|f| object_matches(f, Some(message)))
}

/// The document a message is matched as.
pub fn document(event_type: &str, channels: Option<&[String]>, payload: &str) -> Value {
    let payload = serde_json::from_str(payload).unwrap_or(Value::Null);
    serde_json::json!({"eventType": event_type, "channels": channels, "payload": payload})
}

/// Every key of `filter` holds at `value`.
fn object_matches(filter: &Map<String, Value>, value: Option<&Value>) -> bool {
    filter.iter().all(|(key, condition)| match key.as_str() {
        "$or" => list(condition).iter().any(|f| sub_matches(f, value)),
        "$and" => list(condition).iter().all(|f| sub_matches(f, value)),
        "$not" => !sub_matches(condition, value),
        op if op.starts_with('$') => operator_holds(op, condition, value),
        path => field_matches(condition, lookup(value, path)),
    })
}

fn sub_matches(filter: &Value, value: Option<&Value>) -> bool {
    filter.as_object().is_some_and(|f| object_matches(f, value))
}

fn list(condition: &Value) -> &[Value] {
    condition.as_array().map_or(&[], Vec::as_slice)
}

/// The value at a dotted path below `value`.
fn lookup<'a>(value: Option<&'a Value>, path: &str) -> Option<&'a Value> {
    path.split('.').try_fold(value?, |v, key| v.as_object()?.get(key))
}

/// A condition on one field: operators, a nested filter, or a value to equal.
fn field_matches(condition: &Value, value: Option<&Value>) -> bool {
    match condition {
        Value::Object(map) if !map.is_empty() => match value {
            // A nested filter against an array: any element may match it.
            Some(Value::Array(items)) if !is_operators(map) => {
                items.iter().any(|item| object_matches(map, Some(item)))
            }
            _ => object_matches(map, value),
        },
        literal => equals_or_contains(value, literal),
    }
}

fn is_operators(map: &Map<String, Value>) -> bool {
    map.keys().all(|k| k.starts_with('$'))
}

fn equals_or_contains(value: Option<&Value>, literal: &Value) -> bool {
    match value {
        Some(Value::Array(items)) if !literal.is_array() => items.contains(literal),
        Some(v) => v == literal,
        None => false,
    }
}

fn operator_holds(op: &str, operand: &Value, value: Option<&Value>) -> bool {
    match op {
        "$exist" => operand.as_bool() == Some(value.is_some_and(|v| !v.is_null())),
        "$eq" => equals_or_contains(value, operand),
        "$neq" => !equals_or_contains(value, operand),
        "$in" => list(operand).iter().any(|candidate| equals_or_contains(value, candidate)),
        "$nin" => !list(operand).iter().any(|candidate| equals_or_contains(value, candidate)),
        "$startsWith" => text_test(value, operand, |v, p| v.starts_with(p)),
        "$endsWith" => text_test(value, operand, |v, p| v.ends_with(p)),
        "$gt" => compare(value, operand).is_some_and(Ordering::is_gt),
        "$gte" => compare(value, operand).is_some_and(Ordering::is_ge),
        "$lt" => compare(value, operand).is_some_and(Ordering::is_lt),
        "$lte" => compare(value, operand).is_some_and(Ordering::is_le),
        _ => false,
    }
}

fn text_test(value: Option<&Value>, operand: &Value, test: fn(&str, &str) -> bool) -> bool {
    match (value.and_then(Value::as_str), operand.as_str()) {
        (Some(v), Some(p)) => test(v, p),
        _ => false,
    }
}

/// Numbers as numbers, strings as text; anything else does not compare.
fn compare(value: Option<&Value>, operand: &Value) -> Option<Ordering> {
    match (value?, operand) {
        (Value::Number(a), Value::Number(b)) => a.as_f64()?.partial_cmp(&b.as_f64()?),
        (Value::String(a), Value::String(b)) => Some(a.as_str().cmp(b.as_str())),
        _ => None,
    }
}

/// Checks a filter before it is saved; `Err` names the part at fault, as
/// `filter.payload.total.$gte: …`.
pub fn validate(filter: &Value) -> Result<(), String> {
    if filter.to_string().len() > MAX_BYTES {
        return Err(format!("filter: at most {MAX_BYTES} bytes"));
    }
    match filter {
        Value::Object(map) => check_object(map, "filter", 0),
        _ => Err("filter: must be a JSON object".into()),
    }
}

fn check_object(map: &Map<String, Value>, at: &str, depth: usize) -> Result<(), String> {
    if depth > MAX_DEPTH {
        return Err(format!("{at}: nested deeper than {MAX_DEPTH}"));
    }
    for (key, condition) in map {
        let here = format!("{at}.{key}");
        match key.as_str() {
            "$or" | "$and" => {
                let items = condition.as_array().filter(|l| !l.is_empty());
                let items = items.ok_or(format!("{here}: must be a non-empty list of filters"))?;
                for (i, item) in items.iter().enumerate() {
                    let item = item.as_object().ok_or(format!("{here}[{i}]: must be an object"))?;
                    check_object(item, &format!("{here}[{i}]"), depth + 1)?;
                }
            }
            "$not" => {
                let inner = condition.as_object().ok_or(format!("{here}: must be an object"))?;
                check_object(inner, &here, depth + 1)?;
            }
            op if op.starts_with('$') => check_operator(op, condition, &here)?,
            "" => return Err(format!("{at}: a field name is empty")),
            path if path.split('.').any(str::is_empty) => {
                return Err(format!("{here}: a dotted path has an empty part"));
            }
            _ => match condition {
                Value::Object(inner) if !inner.is_empty() => check_object(inner, &here, depth + 1)?,
                _ => {}
            },
        }
    }
    Ok(())
}

fn check_operator(op: &str, operand: &Value, at: &str) -> Result<(), String> {
    let ok = match op {
        "$eq" | "$neq" => true,
        "$gt" | "$gte" | "$lt" | "$lte" => operand.is_number() || operand.is_string(),
        "$in" | "$nin" => operand.is_array(),
        "$startsWith" | "$endsWith" => operand.is_string(),
        "$exist" => operand.is_boolean(),
        _ => {
            let known = FIELD_OPERATORS.join(", ");
            return Err(format!("{at}: unknown operator (known: {known}, $or, $and, $not)"));
        }
    };
    let wants = match op {
        "$gt" | "$gte" | "$lt" | "$lte" => "a number or a string",
        "$in" | "$nin" => "a list",
        "$startsWith" | "$endsWith" => "a string",
        _ => "true or false",
    };
    if ok { Ok(()) } else { Err(format!("{at}: must be {wants}")) }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn order() -> Value {
        document(
            "order.paid",
            Some(&["eu".to_owned(), "web".to_owned()]),
            r#"{"total": 120, "currency": "EUR", "customer": {"tier": "gold", "email": "a@shop.example"},
               "items": [{"sku": "A-1", "qty": 2}, {"sku": "B-7", "qty": 1}], "coupon": null,
               "paidAt": "2026-12-01T10:00:00Z"}"#,
        )
    }

    #[test]
    fn the_operators_on_a_table_of_cases() {
        let cases = [
            (json!({"eventType": "order.paid"}), true),
            (json!({"eventType": "order.refunded"}), false),
            (json!({"channels": "eu"}), true),
            (json!({"channels": "us"}), false),
            (json!({"payload": {"total": 120}}), true),
            (json!({"payload": {"total": {"$eq": 120}}}), true),
            (json!({"payload": {"total": {"$neq": 120}}}), false),
            (json!({"payload": {"total": {"$gt": 100}}}), true),
            (json!({"payload": {"total": {"$gt": 120}}}), false),
            (json!({"payload": {"total": {"$gte": 120, "$lt": 200}}}), true),
            (json!({"payload": {"total": {"$lte": 119.5}}}), false),
            (json!({"payload": {"currency": {"$in": ["EUR", "GBP"]}}}), true),
            (json!({"payload": {"currency": {"$nin": ["EUR", "GBP"]}}}), false),
            (json!({"payload": {"customer": {"email": {"$endsWith": "@shop.example"}}}}), true),
            (json!({"payload": {"customer": {"tier": {"$startsWith": "sil"}}}}), false),
            (json!({"payload.customer.tier": "gold"}), true),
            (json!({"payload.customer.name": {"$exist": false}}), true),
            (json!({"payload.customer.tier": {"$exist": true}}), true),
            (json!({"payload.coupon": {"$exist": true}}), false),
            (json!({"payload": {"items": {"sku": "B-7"}}}), true),
            (json!({"payload": {"items": {"sku": "C-0"}}}), false),
            (json!({"payload": {"paidAt": {"$gte": "2026-12-01T00:00:00Z"}}}), true),
            (json!({"payload": {"total": {"$gt": "100"}}}), false),
            (
                json!({"$or": [{"eventType": "order.refunded"}, {"payload.total": {"$gt": 100}}]}),
                true,
            ),
            (json!({"$and": [{"eventType": "order.paid"}, {"payload.currency": "USD"}]}), false),
            (json!({"$not": {"channels": "us"}}), true),
            (json!({"payload": {"$not": {"currency": "EUR"}}}), false),
            (json!({"eventType": "order.paid", "payload": {"missing": 1}}), false),
            (json!({}), true),
        ];
        let message = order();
        for (filter, expected) in cases {
            assert!(validate(&filter).is_ok(), "{filter} should be valid");
            assert_eq!(matches(&filter, &message), expected, "{filter}");
        }
    }

    #[test]
    fn invalid_filters_name_the_part_at_fault() {
        let cases = [
            (json!([1]), "filter: must be a JSON object"),
            (
                json!({"payload": {"total": {"$gte": true}}}),
                "filter.payload.total.$gte: must be a number",
            ),
            (
                json!({"payload": {"x": {"$like": "a%"}}}),
                "filter.payload.x.$like: unknown operator",
            ),
            (json!({"$or": []}), "filter.$or: must be a non-empty list"),
            (json!({"$or": [1]}), "filter.$or[0]: must be an object"),
            (json!({"$not": "x"}), "filter.$not: must be an object"),
            (json!({"a": {"$in": "x"}}), "filter.a.$in: must be a list"),
            (json!({"a..b": 1}), "filter.a..b: a dotted path has an empty part"),
            (json!({"a": {"$exist": "yes"}}), "filter.a.$exist: must be true or false"),
        ];
        for (filter, expected) in cases {
            let err = validate(&filter).unwrap_err();
            assert!(err.starts_with(expected), "{filter}: {err}");
        }
        let mut deep = json!(1);
        for _ in 0..20 {
            deep = json!({"a": deep});
        }
        assert!(validate(&deep).unwrap_err().contains("nested deeper"));
    }
}
