//! JSON API under /api/v1 (poem-openapi): everything the pages can do. Spec at /openapi.json,
//! reference page at /api/docs (pages/api_docs.rs). Errors are application/problem+json naming the field.

mod admin;
mod auth_api;
mod catalog_api;
mod json_body;
mod models;
mod responses;
mod shared_json;
mod shows_api;

use std::sync::Arc;

use poem_openapi::{OpenApiService, Tags};

use super::state::AppState;

pub use auth_api::SIGNED_UP;

#[derive(Tags)]
pub enum ApiTags {
    /// Sign up, sign in, sign out, the current account
    Auth,
    /// Shows, rankings, votes and setlists
    Shows,
    /// Artists, venues, songs and search
    Catalog,
    /// Users, roles and the audit log (admin)
    Admin,
}

pub type Api = (auth_api::AuthApi, shows_api::ShowsApi, catalog_api::CatalogApi, admin::AdminApi);

/// Errors every operation may answer, each an `application/problem+json` document (see `http/error.rs`).
/// poem-openapi lists only the success responses it generates; the served spec adds these.
const PROBLEMS: &[(&str, &str)] = &[
    ("400", "Malformed input: unparsable JSON, a parameter or member of the wrong type or length (`field` names it)"),
    ("401", "Sign-in required"),
    ("403", "Not allowed: the role is too low, or a cross-site request"),
    ("404", "No such resource"),
    ("409", "Conflicts with the current state (duplicate, still referenced, voting closed)"),
    ("413", "The request body is larger than `http.max_body_bytes`"),
    ("415", "The request body is not JSON"),
    ("422", "Well-formed but refused by a rule (`field` names it)"),
    ("429", "Rate limited; retry after `Retry-After` seconds"),
    ("503", "Temporarily unable (standby node, replication not confirmed); retry after `Retry-After` seconds"),
];

/// The spec served at /openapi.json: poem-openapi's, plus the error responses of every operation and
/// `nullable` on optional members (they are sent as `null`), so that clients can trust it entirely.
pub fn spec_json(service: &OpenApiService<Api, ()>) -> String {
    let mut spec: serde_json::Value = serde_json::from_str(&service.spec()).expect("poem-openapi emits valid JSON");
    complete_spec(&mut spec);
    serde_json::to_string_pretty(&spec).expect("a JSON value serializes")
}

fn complete_spec(spec: &mut serde_json::Value) {
    use serde_json::json;
    let retry_after = json!({"Retry-After": {"description": "seconds to wait", "schema": {"type": "integer"}}});
    if let Some(paths) = spec.get_mut("paths").and_then(|p| p.as_object_mut()) {
        for operation in paths.values_mut().filter_map(|p| p.as_object_mut()).flat_map(|p| p.values_mut()) {
            let Some(responses) = operation.get_mut("responses").and_then(|r| r.as_object_mut()) else { continue };
            for (status, description) in PROBLEMS {
                let mut response = json!({
                    "description": description,
                    "content": {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}},
                });
                if matches!(*status, "429" | "503") {
                    response["headers"] = retry_after.clone();
                }
                responses.entry(*status).or_insert(response);
            }
        }
    }
    let schemas = &mut spec["components"]["schemas"];
    if let Some(schemas) = schemas.as_object_mut() {
        for schema in schemas.values_mut() {
            let required: Vec<String> = schema["required"]
                .as_array()
                .map(|r| r.iter().filter_map(|v| v.as_str().map(str::to_owned)).collect())
                .unwrap_or_default();
            if let Some(props) = schema.get_mut("properties").and_then(|p| p.as_object_mut()) {
                for (name, prop) in props.iter_mut() {
                    if !required.contains(name)
                        && let Some(prop) = prop.as_object_mut()
                    {
                        prop.insert("nullable".into(), json!(true));
                    }
                }
            }
        }
        schemas.insert(
            "Problem".into(),
            json!({
                "type": "object",
                "description": "RFC 9457 problem details",
                "required": ["type", "title", "status", "code", "detail"],
                "properties": {
                    "type": {"type": "string"},
                    "title": {"type": "string"},
                    "status": {"type": "integer"},
                    "code": {"type": "string", "description": "stable machine-readable code"},
                    "detail": {"type": "string"},
                    "field": {"type": "string", "description": "the input at fault, when there is one"},
                },
            }),
        );
    }
}

pub fn service(state: &Arc<AppState>) -> OpenApiService<Api, ()> {
    let _ = state;
    OpenApiService::new(
        (auth_api::AuthApi, shows_api::ShowsApi, catalog_api::CatalogApi, admin::AdminApi),
        "MySetlist API",
        env!("CARGO_PKG_VERSION"),
    )
    .description("Vote on the songs you want an artist to play. Cookie sessions; JSON writes must be same-origin.")
    .url_prefix("/api/v1")
}

/// Fuzzing entry (see `http::fuzzing`): a body as every JSON request type would parse it.
pub(crate) fn fuzz_json_bodies(data: &[u8]) {
    use json_body::parse;
    use models::*;
    let _ = parse::<SignUpRequest>(data);
    let _ = parse::<LoginRequest>(data);
    let _ = parse::<AddSongRequest>(data);
    let _ = parse::<ActualSetlistRequest>(data);
    let _ = parse::<ArtistRequest>(data).map(|b| catalog_api::artist_input(b).validate());
    let _ = parse::<VenueRequest>(data).map(|b| catalog_api::venue_input(b).validate());
    let _ = parse::<SongRequest>(data).map(|b| catalog_api::song_input(b).validate(1));
    if let Ok(b) = parse::<ShowRequest>(data) {
        let _ = crate::domain::parse_time("starts_at", &b.starts_at);
    }
    let _ = parse::<RoleRequest>(data);
    let _ = parse::<BanRequest>(data);
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What each kind of write answers, as the spec declares it (schemathesis holds the server to it).
    #[test]
    fn creates_declare_201_and_updates_and_deletes_204() {
        let api = (auth_api::AuthApi, shows_api::ShowsApi, catalog_api::CatalogApi, admin::AdminApi);
        let service = OpenApiService::new(api, "MySetlist API", "test").url_prefix("/api/v1");
        let spec: serde_json::Value = serde_json::from_str(&service.spec()).unwrap();
        let codes = |path: &str, method: &str| -> Vec<String> {
            let op = spec["paths"].get(path).or_else(|| spec["paths"].get(format!("/api/v1{path}"))).unwrap();
            op[method]["responses"].as_object().unwrap().keys().cloned().collect()
        };
        for (path, method, code) in [
            ("/artists", "post", "201"),
            ("/artists/{id}", "put", "204"),
            ("/artists/{id}", "delete", "204"),
            ("/artists/{id}/songs", "post", "201"),
            ("/songs/{id}", "put", "204"),
            ("/songs/{id}", "delete", "204"),
            ("/venues", "post", "201"),
            ("/venues/{id}", "put", "204"),
            ("/venues/{id}", "delete", "204"),
            ("/shows", "post", "201"),
            ("/shows/{id}", "put", "204"),
            ("/shows/{id}", "delete", "204"),
            ("/reports", "post", "201"),
            ("/admin/users/{id}/role", "put", "204"),
            ("/admin/users/{id}/ban", "put", "204"),
        ] {
            assert_eq!(codes(path, method), [code], "{method} {path}");
        }
    }
}
