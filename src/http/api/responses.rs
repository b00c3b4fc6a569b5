//! The answers of writes that make, change or remove a resource: a create answers 201 with the new
//! id; an update or a delete answers 204, as the caller already named the resource.

use poem_openapi::ApiResponse;
use poem_openapi::payload::Json;

use super::models::Created;

#[derive(ApiResponse)]
pub enum CreateResponse {
    /// Created; the body holds the new resource's id
    #[oai(status = 201)]
    Created(Json<Created>),
}

#[derive(ApiResponse)]
pub enum ChangeResponse {
    /// Done; nothing to return
    #[oai(status = 204)]
    Done,
}
