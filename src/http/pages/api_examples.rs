//! An example request for every operation of `/api/docs`, made from the OpenAPI document: the method,
//! the path with sample ids, the required query parameters, and for writes the headers a browser
//! client sends (`Origin`, the session cookie) and a JSON body built from the request schema.

use serde_json::{Map, Value, json};

/// How deep a request body's nested objects are filled in.
const MAX_DEPTH: usize = 4;

/// A `curl` command for one operation (`$BASE` is the site's origin).
pub fn curl(spec: &Value, method: &str, path: &str, op: &Value) -> String {
    let mut url = path.split('/').map(|seg| if seg.starts_with('{') { "1" } else { seg }).collect::<Vec<_>>().join("/");
    let query: Vec<String> = op["parameters"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|p| p["in"] == "query" && p["required"].as_bool().unwrap_or(false))
        .map(|p| {
            format!(
                "{}={}",
                text(&p["name"]),
                scalar(&p["schema"], text(&p["name"]).as_str()).to_string().trim_matches('"')
            )
        })
        .collect();
    if !query.is_empty() {
        url = format!("{url}?{}", query.join("&"));
    }
    let method = method.to_ascii_uppercase();
    let mut lines = vec![match method.as_str() {
        "GET" => format!("curl \"$BASE{url}\""),
        m => format!("curl -X {m} \"$BASE{url}\""),
    }];
    // Writes come from the site's origin; all but signing up and in carry the session.
    let signs_in = path.ends_with("/auth/signup") || path.ends_with("/auth/login");
    match (method.as_str(), signs_in) {
        ("GET", _) => {}
        (_, true) => lines.push("-H \"Origin: $BASE\"".to_owned()),
        (_, false) => lines.push("-H \"Origin: $BASE\" -b \"$SESSION_COOKIE\"".to_owned()),
    }
    let body = op["requestBody"]["content"].as_object().and_then(|c| c.values().next()).map(|c| &c["schema"]);
    if let Some(schema) = body {
        let example = example(spec, schema, "", 0);
        lines.push(format!("-H 'Content-Type: application/json' -d '{}'", example.to_string().replace('\'', "'\\''")));
    }
    lines.join(" \\\n  ")
}

fn text(v: &Value) -> String {
    v.as_str().unwrap_or_default().to_owned()
}

/// A value for `schema`: its `example` when it has one, else one by type (named by the property).
fn example(spec: &Value, schema: &Value, name: &str, depth: usize) -> Value {
    if let Some(e) = schema.get("example") {
        return e.clone();
    }
    if let Some(r) = schema["$ref"].as_str() {
        let target = r.rsplit('/').next().unwrap_or(r);
        return example(spec, &spec["components"]["schemas"][target], name, depth + 1);
    }
    if let Some(first) = schema["allOf"].as_array().and_then(|a| a.first()) {
        return example(spec, first, name, depth);
    }
    match schema["type"].as_str() {
        Some("object") | None if depth < MAX_DEPTH => {
            let required: Vec<&str> =
                schema["required"].as_array().into_iter().flatten().filter_map(Value::as_str).collect();
            let mut object = Map::new();
            for (key, property) in schema["properties"].as_object().into_iter().flatten() {
                if required.is_empty() || required.contains(&key.as_str()) {
                    object.insert(key.clone(), example(spec, property, key, depth + 1));
                }
            }
            Value::Object(object)
        }
        Some("array") => json!([example(spec, &schema["items"], name, depth + 1)]),
        _ => scalar(schema, name),
    }
}

/// A plausible value for a scalar field, by its format or its name.
fn scalar(schema: &Value, name: &str) -> Value {
    if let Some(first) = schema["enum"].as_array().and_then(|e| e.first()) {
        return first.clone();
    }
    match (schema["type"].as_str(), schema["format"].as_str()) {
        (Some("integer"), _) => json!(1),
        (Some("number"), _) => json!(1.5),
        (Some("boolean"), _) => json!(true),
        (_, Some("date-time")) => json!("2026-12-24T20:00:00Z"),
        _ => match name {
            "email" => json!("fan@example.org"),
            "password" => json!("a long and decent passphrase"),
            "q" => json!("lanterns"),
            n if n.ends_with("url") => json!("https://example.org/"),
            n => json!(format!("{}", n.replace('_', " "))),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec() -> Value {
        json!({"components": {"schemas": {"Login": {
            "type": "object", "required": ["email", "password"],
            "properties": {"email": {"type": "string"}, "password": {"type": "string"}, "remember": {"type": "boolean"}}
        }}}})
    }

    #[test]
    fn a_read_is_a_plain_get_with_sample_ids_and_required_query() {
        let op = json!({"parameters": [
            {"name": "id", "in": "path", "required": true, "schema": {"type": "integer"}},
            {"name": "q", "in": "query", "required": true, "schema": {"type": "string"}},
            {"name": "limit", "in": "query", "required": false, "schema": {"type": "integer"}}
        ]});
        assert_eq!(
            curl(&spec(), "get", "/api/v1/shows/{id}/ranking", &op),
            "curl \"$BASE/api/v1/shows/1/ranking?q=lanterns\""
        );
    }

    #[test]
    fn a_write_carries_origin_cookie_and_a_body_of_the_required_fields() {
        let op = json!({"requestBody": {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/Login"}}}}});
        let c = curl(&spec(), "post", "/api/v1/auth/login", &op);
        assert!(c.starts_with("curl -X POST \"$BASE/api/v1/auth/login\" \\\n  -H \"Origin: $BASE\" \\"), "{c}");
        assert!(
            curl(&spec(), "put", "/api/v1/artists/{id}", &op).contains("-b \"$SESSION_COOKIE\""),
            "other writes carry it"
        );
        assert!(c.ends_with(r#"-d '{"email":"fan@example.org","password":"a long and decent passphrase"}'"#), "{c}");
    }
}
