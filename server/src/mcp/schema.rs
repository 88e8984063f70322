//! Checking a tool call's arguments against the tool's input schema before anything runs. The part of
//! JSON Schema that tool schemas use: `type` (one or several), `properties`, `required`,
//! `additionalProperties: false`, `items`, `enum`, `const`, `minimum`/`maximum`, `minLength`/`maxLength`,
//! `anyOf`/`oneOf` (one branch must hold). Keywords it does not know are not checked — a server's own
//! validation still answers for them.

use serde_json::Value;

/// The first reason `value` does not satisfy `schema`, naming where (`arguments.path[0]`).
pub fn check(schema: &Value, value: &Value) -> Result<(), String> {
    check_at(schema, value, "arguments")
}

fn check_at(schema: &Value, value: &Value, at: &str) -> Result<(), String> {
    let Some(schema) = schema.as_object() else {
        // `true` or a missing schema: anything goes; `false`: nothing does.
        return if schema == &Value::Bool(false) {
            Err(format!("{at} is not allowed"))
        } else {
            Ok(())
        };
    };
    if let Some(types) = schema.get("type") {
        let names: Vec<&str> = match types {
            Value::String(name) => vec![name.as_str()],
            Value::Array(names) => names.iter().filter_map(Value::as_str).collect(),
            _ => Vec::new(),
        };
        if !names.is_empty() && !names.iter().any(|name| is_type(value, name)) {
            return Err(format!(
                "{at} must be {}, not {}",
                names.join(" or "),
                type_of(value)
            ));
        }
    }
    if let Some(allowed) = schema.get("enum").and_then(Value::as_array)
        && !allowed.contains(value)
    {
        return Err(format!(
            "{at} must be one of {}",
            Value::Array(allowed.clone())
        ));
    }
    if let Some(constant) = schema.get("const")
        && constant != value
    {
        return Err(format!("{at} must be {constant}"));
    }
    for (keyword, pick_one) in [("anyOf", false), ("oneOf", true)] {
        if let Some(branches) = schema.get(keyword).and_then(Value::as_array) {
            let holding = branches
                .iter()
                .filter(|branch| check_at(branch, value, at).is_ok())
                .count();
            if holding == 0 || (pick_one && holding > 1) {
                return Err(format!(
                    "{at} matches {holding} of the {} allowed shapes ({keyword})",
                    branches.len()
                ));
            }
        }
    }
    match value {
        Value::Object(object) => {
            let properties = schema.get("properties").and_then(Value::as_object);
            for name in schema
                .get("required")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
            {
                if !object.contains_key(name) {
                    return Err(format!("{at}.{name} is required"));
                }
            }
            for (name, item) in object {
                match properties.and_then(|properties| properties.get(name)) {
                    Some(property) => check_at(property, item, &format!("{at}.{name}"))?,
                    None => match schema.get("additionalProperties") {
                        Some(Value::Bool(false)) => {
                            let known: Vec<&str> = properties
                                .map(|properties| properties.keys().map(String::as_str).collect())
                                .unwrap_or_default();
                            return Err(format!(
                                "{at}.{name} is not a known argument (known: {})",
                                known.join(", ")
                            ));
                        }
                        Some(extra @ Value::Object(_)) => {
                            check_at(extra, item, &format!("{at}.{name}"))?;
                        }
                        _ => {}
                    },
                }
            }
        }
        Value::Array(items) => {
            if let Some(item_schema) = schema.get("items") {
                for (index, item) in items.iter().enumerate() {
                    check_at(item_schema, item, &format!("{at}[{index}]"))?;
                }
            }
        }
        Value::String(text) => {
            let length = text.chars().count() as u64;
            if let Some(least) = schema.get("minLength").and_then(Value::as_u64)
                && length < least
            {
                return Err(format!("{at} must be at least {least} characters"));
            }
            if let Some(most) = schema.get("maxLength").and_then(Value::as_u64)
                && length > most
            {
                return Err(format!("{at} must be at most {most} characters"));
            }
        }
        Value::Number(number) => {
            let number = number.as_f64().unwrap_or_default();
            if let Some(least) = schema.get("minimum").and_then(Value::as_f64)
                && number < least
            {
                return Err(format!("{at} must be at least {least}"));
            }
            if let Some(most) = schema.get("maximum").and_then(Value::as_f64)
                && number > most
            {
                return Err(format!("{at} must be at most {most}"));
            }
        }
        Value::Null | Value::Bool(_) => {}
    }
    Ok(())
}

fn is_type(value: &Value, name: &str) -> bool {
    match name {
        "object" => value.is_object(),
        "array" => value.is_array(),
        "string" => value.is_string(),
        "boolean" => value.is_boolean(),
        "null" => value.is_null(),
        "number" => value.is_number(),
        "integer" => {
            value.is_i64()
                || value.is_u64()
                || value.as_f64().is_some_and(|number| number.fract() == 0.0)
        }
        _ => true,
    }
}

fn type_of(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn echo() -> Value {
        json!({
            "type": "object",
            "properties": {"message": {"type": "string", "minLength": 1}, "times": {"type": "integer", "minimum": 1}},
            "required": ["message"],
            "additionalProperties": false
        })
    }

    #[test]
    fn arguments_that_fit_pass() {
        assert_eq!(check(&echo(), &json!({"message": "hi"})), Ok(()));
        assert_eq!(
            check(&echo(), &json!({"message": "hi", "times": 3})),
            Ok(())
        );
        assert_eq!(check(&json!({}), &json!({"anything": [1, 2]})), Ok(()));
    }

    #[test]
    fn each_misfit_is_named() {
        let cases = [
            (json!({}), "arguments.message is required"),
            (
                json!({"message": 5}),
                "arguments.message must be string, not a number",
            ),
            (
                json!({"message": ""}),
                "arguments.message must be at least 1 characters",
            ),
            (
                json!({"message": "a", "times": 1.5}),
                "arguments.times must be integer, not a number",
            ),
            (
                json!({"message": "a", "times": 0}),
                "arguments.times must be at least 1",
            ),
            (
                json!({"message": "a", "color": "red"}),
                "arguments.color is not a known argument (known: message, times)",
            ),
            (json!("text"), "arguments must be object, not a string"),
        ];
        for (value, reason) in cases {
            assert_eq!(check(&echo(), &value), Err(reason.to_owned()), "{value}");
        }
    }

    #[test]
    fn nested_arrays_enums_and_alternatives() {
        let schema = json!({
            "type": "object",
            "properties": {
                "paths": {"type": "array", "items": {"type": "string"}},
                "mode": {"enum": ["fast", "slow"]},
                "limit": {"anyOf": [{"type": "integer"}, {"type": "null"}]}
            }
        });
        assert_eq!(
            check(
                &schema,
                &json!({"paths": ["a", "b"], "mode": "fast", "limit": null})
            ),
            Ok(())
        );
        assert_eq!(
            check(&schema, &json!({"paths": ["a", 2]})),
            Err("arguments.paths[1] must be string, not a number".to_owned())
        );
        assert_eq!(
            check(&schema, &json!({"mode": "medium"})),
            Err("arguments.mode must be one of [\"fast\",\"slow\"]".to_owned())
        );
        assert!(check(&schema, &json!({"limit": "ten"})).is_err());
    }
}
