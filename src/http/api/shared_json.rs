//! A JSON response made of bytes serialized earlier and shared between requests (a cached ranking),
//! documented in the spec as `T`. poem-openapi's `Json<T>` would convert `T` to a
//! `serde_json::Value` and serialize that on every request: for the ranking that was most of the
//! endpoint's time (README, "Performance").

use std::marker::PhantomData;

use bytes::Bytes;
use poem::{IntoResponse, Response};
use poem_openapi::ApiResponse;
use poem_openapi::payload::Payload;
use poem_openapi::registry::{MetaMediaType, MetaResponse, MetaResponses, MetaSchemaRef, Registry};
use poem_openapi::types::Type;

/// JSON bytes that serialize a `T` (the caller guarantees the shape; a test per use compares them
/// with `T`'s own serialization).
pub struct SharedJson<T> {
    bytes: Bytes,
    shape: PhantomData<fn() -> T>,
}

impl<T> SharedJson<T> {
    pub fn new(bytes: Bytes) -> Self {
        Self { bytes, shape: PhantomData }
    }
}

const CONTENT_TYPE: &str = "application/json; charset=utf-8";

impl<T: Type> Payload for SharedJson<T> {
    const CONTENT_TYPE: &'static str = CONTENT_TYPE;

    fn schema_ref() -> MetaSchemaRef {
        T::schema_ref()
    }

    fn register(registry: &mut Registry) {
        T::register(registry);
    }
}

impl<T> IntoResponse for SharedJson<T> {
    fn into_response(self) -> Response {
        Response::builder().content_type(CONTENT_TYPE).body(self.bytes)
    }
}

impl<T: Type> ApiResponse for SharedJson<T> {
    fn meta() -> MetaResponses {
        MetaResponses {
            responses: vec![MetaResponse {
                description: "",
                status: Some(200),
                status_range: None,
                content: vec![MetaMediaType { content_type: CONTENT_TYPE, schema: T::schema_ref() }],
                headers: vec![],
            }],
        }
    }

    fn register(registry: &mut Registry) {
        T::register(registry);
    }
}
