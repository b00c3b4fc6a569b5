//! JSON request bodies whose errors name the field.
//!
//! poem-openapi's `Json<T>` reports a missing or mistyped member as, for example,
//! `Expected input type "string", found null (occurred while parsing "ArtistRequest")`, which does not
//! say which member. `JsonBody<T>` first checks the document against `T`'s own OpenAPI schema (required
//! members, JSON types, lengths, ranges, item counts; nested objects and arrays too) and refuses the
//! first problem as a 400 naming it, like `entries[3].title`. Only then does it hand the document to
//! `T`'s generated parser. The schema published at /openapi.json is exactly `T`'s.

use std::ops::Deref;

use poem::{FromRequest, Request, RequestBody, Result};
use poem_openapi::payload::{ParsePayload, Payload};
use poem_openapi::registry::{MetaSchema, MetaSchemaRef, Registry};
use poem_openapi::types::{ParseFromJSON, Type};
use serde_json::Value;

use crate::http::error::AppError;

/// Nesting deeper than this is refused instead of walked (request bodies here are at most 3 deep).
const MAX_DEPTH: usize = 16;

/// A JSON request body of type `T` (an `Object`), checked against `T`'s schema with field names.
pub struct JsonBody<T>(pub T);

impl<T> Deref for JsonBody<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.0
    }
}

impl<T: Type> Payload for JsonBody<T> {
    const CONTENT_TYPE: &'static str = "application/json; charset=utf-8";

    /// `application/json` or `application/<anything>+json`, with any parameters.
    fn check_content_type(content_type: &str) -> bool {
        let essence = content_type.split(';').next().unwrap_or_default().trim().to_ascii_lowercase();
        essence == "application/json" || (essence.starts_with("application/") && essence.ends_with("+json"))
    }

    fn schema_ref() -> MetaSchemaRef {
        T::schema_ref()
    }

    fn register(registry: &mut Registry) {
        T::register(registry);
    }
}

impl<T: ParseFromJSON> ParsePayload for JsonBody<T> {
    const IS_REQUIRED: bool = true;

    async fn from_request(request: &Request, body: &mut RequestBody) -> Result<Self> {
        let data = Vec::<u8>::from_request(request, body).await?;
        Ok(Self(parse::<T>(&data)?))
    }
}

/// Checks `data` against `T`'s schema (naming the first bad field), then parses it.
pub fn parse<T: ParseFromJSON>(data: &[u8]) -> Result<T, AppError> {
    if data.is_empty() {
        return Err(AppError::BadRequest { field: None, message: "the request body is empty".into() });
    }
    let value: Value = serde_json::from_slice(data).map_err(|e| AppError::BadRequest {
        field: None,
        message: format!("the request body is not valid JSON: {e}"),
    })?;
    let mut registry = Registry::new();
    T::register(&mut registry);
    check(&registry, &T::schema_ref(), &value, "", 0)
        .map_err(|(field, message)| AppError::bad_request(&field, message))?;
    T::parse_from_json(Some(value)).map_err(|e| AppError::BadRequest {
        field: None,
        message: format!("the request body does not fit the schema: {}", e.into_message()),
    })
}

poem_openapi::impl_apirequest_for_payload!(JsonBody<T>, T: ParseFromJSON);

type Problem = (String, String);

fn resolve<'a>(registry: &'a Registry, schema: &'a MetaSchemaRef) -> Option<&'a MetaSchema> {
    match schema {
        MetaSchemaRef::Inline(s) => Some(s),
        MetaSchemaRef::Reference(name) => registry.schemas.get(name),
    }
}

fn join(path: &str, member: &str) -> String {
    if path.is_empty() { member.to_owned() } else { format!("{path}.{member}") }
}

/// The field to name for a problem with the document itself (no member): "body".
fn name(path: &str) -> String {
    if path.is_empty() { "body".to_owned() } else { path.to_owned() }
}

/// Checks `value` against `schema`; the error is (field path, what is wrong).
fn check(registry: &Registry, schema: &MetaSchemaRef, value: &Value, path: &str, depth: usize) -> Result<(), Problem> {
    if depth > MAX_DEPTH {
        return Err((name(path), "is nested too deeply".into()));
    }
    let Some(s) = resolve(registry, schema) else { return Ok(()) };
    for part in &s.all_of {
        check(registry, part, value, path, depth + 1)?;
    }
    let wrong = |expected: &str| Err((name(path), format!("must be {expected}")));
    match s.ty {
        "object" => {
            let Some(members) = value.as_object() else { return wrong("an object") };
            for required in &s.required {
                if members.get(*required).is_none_or(Value::is_null) {
                    return Err((join(path, required), "is required".into()));
                }
            }
            for (member, member_schema) in &s.properties {
                match members.get(*member) {
                    None | Some(Value::Null) => {}
                    Some(v) => check(registry, member_schema, v, &join(path, member), depth + 1)?,
                }
            }
        }
        "array" => {
            let Some(items) = value.as_array() else { return wrong("an array") };
            if let Some(max) = s.max_items
                && items.len() > max
            {
                return Err((name(path), format!("must have at most {max} items")));
            }
            if let Some(min) = s.min_items
                && items.len() < min
            {
                return Err((name(path), format!("must have at least {min} items")));
            }
            if let Some(item_schema) = &s.items {
                for (i, item) in items.iter().enumerate() {
                    check(registry, item_schema, item, &format!("{}[{i}]", name(path)), depth + 1)?;
                }
            }
        }
        "string" => {
            let Some(text) = value.as_str() else { return wrong("a string") };
            let chars = text.chars().count();
            if let Some(max) = s.max_length
                && chars > max
            {
                return Err((name(path), format!("must be at most {max} characters")));
            }
            if let Some(min) = s.min_length
                && chars < min
            {
                return Err((name(path), format!("must be at least {min} characters")));
            }
        }
        "integer" => {
            let Some(n) = value.as_i64() else { return wrong("a whole number") };
            check_range(s, n as f64, path)?;
        }
        "number" => {
            let Some(n) = value.as_f64() else { return wrong("a number") };
            check_range(s, n, path)?;
        }
        "boolean" if !value.is_boolean() => return wrong("true or false"),
        _ => {}
    }
    Ok(())
}

fn check_range(s: &MetaSchema, n: f64, path: &str) -> Result<(), Problem> {
    if let Some(max) = s.maximum
        && (n > max || (s.exclusive_maximum == Some(true) && n == max))
    {
        return Err((name(path), format!("must be at most {max}")));
    }
    if let Some(min) = s.minimum
        && (n < min || (s.exclusive_minimum == Some(true) && n == min))
    {
        return Err((name(path), format!("must be at least {min}")));
    }
    Ok(())
}
