//! Precompresses web assets at build time and names them by content hash.
//!
//! For each file in assets/static/ it writes `<stem>.<hash8>.<ext>` plus `.gz` and `.br` variants into
//! OUT_DIR and generates `assets_manifest.rs`: a table the server embeds with `include_bytes!`, so the
//! binary carries every asset and serves the smallest encoding the client accepts with
//! `Cache-Control: immutable`.

use std::io::Write;
use std::path::Path;

use sha2::{Digest, Sha256};

fn main() {
    pack_relative_relocations();
    let out_dir = std::env::var("OUT_DIR").expect("cargo sets OUT_DIR");
    let out = Path::new(&out_dir).join("assets");
    std::fs::create_dir_all(&out).expect("create OUT_DIR/assets");
    println!("cargo:rerun-if-changed=assets/static");

    let mut entries: Vec<_> = std::fs::read_dir("assets/static")
        .expect("assets/static exists")
        .map(|e| e.expect("readable dir entry").path())
        .filter(|p| p.is_file())
        .collect();
    entries.sort();

    let mut manifest = String::from("pub static ASSETS: &[Asset] = &[\n");
    for path in entries {
        println!("cargo:rerun-if-changed={}", path.display());
        let name = path.file_name().unwrap().to_str().expect("utf-8 asset names").to_owned();
        let bytes = std::fs::read(&path).expect("read asset");
        let hash = hex::encode(&Sha256::digest(&bytes)[..4]);
        let (stem, ext) = name.rsplit_once('.').unwrap_or((&name, ""));
        let hashed = format!("{stem}.{hash}.{ext}");
        let raw_path = out.join(&hashed);
        std::fs::write(&raw_path, &bytes).expect("write asset");

        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
        gz.write_all(&bytes).expect("gzip");
        let gz = gz.finish().expect("gzip finish");
        std::fs::write(out.join(format!("{hashed}.gz")), &gz).expect("write gz");

        let mut br = Vec::new();
        {
            let params = brotli::enc::BrotliEncoderParams { quality: 11, lgwin: 22, ..Default::default() };
            brotli::BrotliCompress(&mut bytes.as_slice(), &mut br, &params).expect("brotli");
        }
        std::fs::write(out.join(format!("{hashed}.br")), &br).expect("write br");

        let content_type = match ext {
            "css" => "text/css; charset=utf-8",
            "js" => "text/javascript; charset=utf-8",
            "svg" => "image/svg+xml",
            "png" => "image/png",
            "ico" => "image/x-icon",
            "woff2" => "font/woff2",
            "json" | "webmanifest" => "application/manifest+json",
            "txt" => "text/plain; charset=utf-8",
            _ => "application/octet-stream",
        };
        let p = out.display();
        manifest.push_str(&format!(
            "    Asset {{ name: {name:?}, hashed: {hashed:?}, content_type: {content_type:?},\n      \
             raw: include_bytes!(\"{p}/{hashed}\"), gzip: include_bytes!(\"{p}/{hashed}.gz\"), \
             brotli: include_bytes!(\"{p}/{hashed}.br\") }},\n"
        ));
    }
    manifest.push_str("];\n");
    std::fs::write(Path::new(&out_dir).join("assets_manifest.rs"), manifest).expect("write manifest");
}

/// The static glibc build (`-C target-feature=+crt-static`, what the Containerfile ships) is a
/// static PIE: ASLR needs every pointer in its data fixed up at start, and as plain `.rela.dyn`
/// entries those took 1.9 MB of the binary. Packed (DT_RELR, glibc >= 2.36 applies them itself in a
/// static PIE; both lld and GNU ld >= 2.38 write them) they take 23 KB (README, "Design decisions").
/// Dynamic builds (tests, Nix's package) keep their linker's defaults.
fn pack_relative_relocations() {
    let target_features = std::env::var("CARGO_CFG_TARGET_FEATURE").unwrap_or_default();
    let linux_gnu = std::env::var("CARGO_CFG_TARGET_OS").as_deref() == Ok("linux")
        && std::env::var("CARGO_CFG_TARGET_ENV").as_deref() == Ok("gnu");
    if linux_gnu && target_features.split(',').any(|f| f == "crt-static") {
        println!("cargo:rustc-link-arg-bins=-Wl,-z,pack-relative-relocs");
    }
}
