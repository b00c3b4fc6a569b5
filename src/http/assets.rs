//! Embedded assets with content-hashed names, served precompressed (brotli, gzip) and cached forever.

use poem::http::{HeaderValue, StatusCode};
use poem::web::Path;
use poem::{Request, Response, handler};

pub struct Asset {
    pub name: &'static str,
    pub hashed: &'static str,
    pub content_type: &'static str,
    pub raw: &'static [u8],
    pub gzip: &'static [u8],
    pub brotli: &'static [u8],
}

include!(concat!(env!("OUT_DIR"), "/assets_manifest.rs"));

/// `/assets/<hashed name>` for a logical name like `app.css` (templates call this).
pub fn url(name: &str) -> String {
    match ASSETS.iter().find(|a| a.name == name) {
        Some(a) => format!("/assets/{}", a.hashed),
        None => format!("/assets/{name}"),
    }
}

fn respond(req: &Request, asset: &Asset, immutable: bool) -> Response {
    let accept = req.header("accept-encoding").unwrap_or_default();
    let (body, encoding) = if accept.contains("br") && asset.brotli.len() < asset.raw.len() {
        (asset.brotli, Some("br"))
    } else if accept.contains("gzip") && asset.gzip.len() < asset.raw.len() {
        (asset.gzip, Some("gzip"))
    } else {
        (asset.raw, None)
    };
    let mut resp = Response::builder().content_type(asset.content_type).body(body);
    let h = resp.headers_mut();
    h.insert("vary", HeaderValue::from_static("accept-encoding"));
    h.insert(
        "cache-control",
        HeaderValue::from_static(if immutable {
            "public, max-age=31536000, immutable"
        } else {
            "public, max-age=3600"
        }),
    );
    if let Some(e) = encoding {
        h.insert("content-encoding", HeaderValue::from_static(e));
    }
    resp
}

#[handler]
pub fn serve(req: &Request, Path(name): Path<String>) -> Response {
    if let Some(a) = ASSETS.iter().find(|a| a.hashed == name) {
        return respond(req, a, true);
    }
    // Unhashed names still work (short cache) so external links do not break.
    if let Some(a) = ASSETS.iter().find(|a| a.name == name) {
        return respond(req, a, false);
    }
    Response::builder().status(StatusCode::NOT_FOUND).body("not found")
}

#[handler]
pub fn favicon(req: &Request) -> Response {
    match ASSETS.iter().find(|a| a.name == "icon.svg") {
        Some(a) => respond(req, a, false),
        None => Response::builder().status(StatusCode::NOT_FOUND).finish(),
    }
}
