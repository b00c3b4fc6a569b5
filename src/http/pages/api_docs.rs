//! `/api/docs`: the JSON API's reference as an ordinary page, rendered from the OpenAPI document the
//! server publishes at /openapi.json (so the two cannot disagree): every operation by tag with its
//! method, path, summary, parameters, request body and responses.
//!
//! It replaced poem-openapi's embedded Swagger UI: 1.6 MB of script in the binary, and the only page
//! that needed a Content-Security-Policy with `unsafe-inline`. Interactive clients can load
//! /openapi.json into any OpenAPI tool.

use std::sync::Arc;

use poem::web::Data;
use poem::{Response, handler};
use serde_json::Value;

use super::{Layout, render, respond};
use crate::http::auth::Visitor;

/// The reference, extracted from the spec once at start-up.
pub struct ApiDocs {
    title: String,
    version: String,
    tags: Vec<TagDocs>,
}

struct TagDocs {
    name: String,
    description: String,
    operations: Vec<Operation>,
}

struct Operation {
    anchor: String,
    method: String,
    path: String,
    summary: String,
    description: String,
    params: Vec<Param>,
    body: Option<String>,
    responses: Vec<(String, String)>,
    /// A `curl` command for it (see `api_examples`).
    example: String,
}

struct Param {
    name: String,
    location: String,
    required: bool,
    kind: String,
}

/// `#/components/schemas/Show` -> `Show`; arrays as `[Show]`; plain types by their JSON type.
fn type_name(schema: &Value) -> String {
    if let Some(r) = schema["$ref"].as_str() {
        return r.rsplit('/').next().unwrap_or(r).to_owned();
    }
    if let Some(all) = schema["allOf"].as_array()
        && let Some(first) = all.first()
    {
        return type_name(first);
    }
    match schema["type"].as_str() {
        Some("array") => format!("[{}]", type_name(&schema["items"])),
        Some(t) => match schema["format"].as_str() {
            Some(f) => format!("{t} ({f})"),
            None => t.to_owned(),
        },
        None => "object".to_owned(),
    }
}

fn text(v: &Value) -> String {
    v.as_str().unwrap_or_default().to_owned()
}

impl ApiDocs {
    pub fn from_spec(spec: &Value) -> Self {
        let mut tags: Vec<TagDocs> = spec["tags"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|t| TagDocs { name: text(&t["name"]), description: text(&t["description"]), operations: Vec::new() })
            .collect();
        for (path, ops) in spec["paths"].as_object().into_iter().flatten() {
            for (method, op) in ops.as_object().into_iter().flatten() {
                let params = op["parameters"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(|p| Param {
                        name: text(&p["name"]),
                        location: text(&p["in"]),
                        required: p["required"].as_bool().unwrap_or(false),
                        kind: type_name(&p["schema"]),
                    })
                    .collect();
                let body = op["requestBody"]["content"]
                    .as_object()
                    .and_then(|c| c.iter().next())
                    .map(|(media, c)| format!("{} ({media})", type_name(&c["schema"])));
                let responses = op["responses"]
                    .as_object()
                    .into_iter()
                    .flatten()
                    .map(|(status, r)| {
                        let schema =
                            r["content"].as_object().and_then(|c| c.values().next()).map(|c| type_name(&c["schema"]));
                        let what = match (text(&r["description"]), schema) {
                            (d, Some(s)) if !d.is_empty() => format!("{d}: {s}"),
                            (_, Some(s)) => s,
                            (d, None) => d,
                        };
                        (status.clone(), what)
                    })
                    .collect();
                let example = super::api_examples::curl(spec, method, path, op);
                let operation = Operation {
                    example,
                    anchor: format!("{}-{}", method, path.replace(['/', '{', '}'], "-")),
                    method: method.to_ascii_uppercase(),
                    path: path.clone(),
                    summary: text(&op["summary"]),
                    description: text(&op["description"]),
                    params,
                    body,
                    responses,
                };
                let tag = op["tags"][0].as_str().unwrap_or("Other").to_owned();
                match tags.iter_mut().find(|t| t.name == tag) {
                    Some(t) => t.operations.push(operation),
                    None => tags.push(TagDocs { name: tag, description: String::new(), operations: vec![operation] }),
                }
            }
        }
        tags.retain(|t| !t.operations.is_empty());
        Self { title: text(&spec["info"]["title"]), version: text(&spec["info"]["version"]), tags }
    }
}

#[derive(askama::Template)]
#[template(path = "api_docs.html")]
struct ApiDocsTemplate<'a> {
    layout: Layout,
    docs: &'a ApiDocs,
}

#[handler]
pub fn api_docs_page(Data(docs): Data<&Arc<ApiDocs>>, mut visitor: Visitor) -> Response {
    let t = ApiDocsTemplate { layout: Layout::new(&visitor), docs };
    let result = render(&t);
    respond(&mut visitor, "/api/docs", result)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn operations_are_grouped_by_tag_with_their_types() {
        let spec = json!({
            "info": {"title": "T", "version": "1"},
            "tags": [{"name": "Shows", "description": "Shows and votes"}],
            "paths": {"/shows/{id}/ranking": {"get": {
                "tags": ["Shows"], "summary": "The ranking",
                "parameters": [{"name": "id", "in": "path", "required": true, "schema": {"type": "integer", "format": "int64"}}],
                "responses": {"200": {"description": "", "content": {"application/json": {"schema": {"type": "array", "items": {"$ref": "#/components/schemas/RankedSong"}}}}}}
            }}}
        });
        let docs = ApiDocs::from_spec(&spec);
        assert_eq!(docs.tags.len(), 1);
        let op = &docs.tags[0].operations[0];
        assert_eq!(
            (op.method.as_str(), op.path.as_str(), op.summary.as_str()),
            ("GET", "/shows/{id}/ranking", "The ranking")
        );
        assert_eq!(op.params[0].kind, "integer (int64)");
        assert_eq!(op.responses, vec![("200".to_owned(), "[RankedSong]".to_owned())]);
    }
}
