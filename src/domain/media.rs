//! Artist pictures: an upload is sniffed, its size checked before a pixel is decoded, decoded,
//! cropped to a square, resized and re-encoded as JPEG, then stored in the database by content hash.
//!
//! Invariants: nothing the uploader sent is ever served back. Only the re-encoded pixels are stored,
//! so metadata (EXIF location, comments, colour profiles) and any polyglot tricks do not survive; and
//! only PNG, JPEG and WebP reach a decoder, each after its declared dimensions were checked against
//! [`MAX_SIDE`], so a small file that claims a huge picture (a decompression bomb) is refused before
//! any memory is allocated for it. The decoder's own allocation limit is the second fence.
//!
//! Rejected alternative: files on disk beside the database. Backups, the standby and restores carry
//! the database only; pictures there would go missing after a failover (README, "Design decisions").

use std::io::Cursor;

use image::imageops::FilterType;
use image::{DynamicImage, ImageFormat, ImageReader, Limits, RgbImage};
use serde_json::json;
use sha2::{Digest, Sha256};

use super::catalog::audit;
use super::{CurrentUser, Domain, DomainError, Role};
use crate::db;

/// The largest upload accepted, in bytes.
pub const MAX_UPLOAD_BYTES: usize = 5 << 20;
/// The largest width or height an upload may declare (a 5000 × 5000 picture decodes to 100 MB).
pub const MAX_SIDE: u32 = 5000;
/// The side of the square picture on the artist page and the show page.
pub const PICTURE_SIZE: u32 = 480;
/// The side of the square thumbnail on show cards.
pub const THUMB_SIZE: u32 = 160;
const JPEG_QUALITY: u8 = 85;
const FIELD: &str = "image";

/// One decode at a time: only moderators upload, and this bounds the memory decoding may take.
static DECODING: tokio::sync::Semaphore = tokio::sync::Semaphore::const_new(1);

/// A re-encoded file ready to store: its name under `/media/` is the SHA-256 of its bytes.
#[derive(Debug)]
pub struct Encoded {
    pub name: String,
    pub size: (u32, u32),
    pub bytes: Vec<u8>,
}

/// The format by the file's first bytes (what it says it is, not what its name or type claim).
pub fn sniff(bytes: &[u8]) -> Option<ImageFormat> {
    if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
        Some(ImageFormat::Png)
    } else if bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
        Some(ImageFormat::Jpeg)
    } else if bytes.len() >= 12 && &bytes[..4] == b"RIFF" && &bytes[8..12] == b"WEBP" {
        Some(ImageFormat::WebP)
    } else {
        None
    }
}

fn reader(bytes: &[u8], format: ImageFormat) -> ImageReader<Cursor<&[u8]>> {
    let mut r = ImageReader::with_format(Cursor::new(bytes), format);
    let mut limits = Limits::default();
    limits.max_image_width = Some(MAX_SIDE);
    limits.max_image_height = Some(MAX_SIDE);
    limits.max_alloc = Some(256 << 20);
    r.limits(limits);
    r
}

fn unreadable() -> DomainError {
    DomainError::invalid(FIELD, "could not be read as a PNG, JPEG or WebP picture")
}

/// Checks and decodes an upload: the byte size, the format, then the declared dimensions (read from
/// the header alone), and only then the pixels.
pub fn decode(bytes: &[u8]) -> Result<DynamicImage, DomainError> {
    if bytes.is_empty() {
        return Err(DomainError::invalid(FIELD, "choose a picture to upload"));
    }
    if bytes.len() > MAX_UPLOAD_BYTES {
        return Err(DomainError::invalid(FIELD, format!("is larger than {} MiB", MAX_UPLOAD_BYTES >> 20)));
    }
    let format = sniff(bytes).ok_or_else(|| DomainError::invalid(FIELD, "must be a PNG, JPEG or WebP picture"))?;
    let (w, h) = ImageReader::with_format(Cursor::new(bytes), format).into_dimensions().map_err(|_| unreadable())?;
    if w > MAX_SIDE || h > MAX_SIDE {
        return Err(DomainError::invalid(
            FIELD,
            format!("is {w} × {h} pixels; at most {MAX_SIDE} × {MAX_SIDE} are accepted"),
        ));
    }
    if w == 0 || h == 0 {
        return Err(unreadable());
    }
    reader(bytes, format).decode().map_err(|_| unreadable())
}

/// A square of `side` pixels cropped from the middle, flattened onto white, as JPEG.
fn square_jpeg(img: &DynamicImage, side: u32) -> Result<Encoded, DomainError> {
    let rgba = img.resize_to_fill(side, side, FilterType::CatmullRom).to_rgba8();
    let rgb = RgbImage::from_fn(rgba.width(), rgba.height(), |x, y| {
        let [r, g, b, a] = rgba.get_pixel(x, y).0;
        let over_white = |c: u8| ((u32::from(c) * u32::from(a) + 255 * (255 - u32::from(a))) / 255) as u8;
        image::Rgb([over_white(r), over_white(g), over_white(b)])
    });
    let mut bytes = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut bytes, JPEG_QUALITY)
        .encode_image(&rgb)
        .map_err(|e| DomainError::Internal(e.into()))?;
    let name = format!("{}.jpg", hex::encode(Sha256::digest(&bytes)));
    Ok(Encoded { name, size: (rgb.width(), rgb.height()), bytes })
}

/// The picture ([`PICTURE_SIZE`]) and thumbnail ([`THUMB_SIZE`]) of an upload.
pub fn picture_and_thumbnail(bytes: &[u8]) -> Result<(Encoded, Encoded), DomainError> {
    let img = decode(bytes)?;
    Ok((square_jpeg(&img, PICTURE_SIZE)?, square_jpeg(&img, THUMB_SIZE)?))
}

/// Whether a name can be a stored file's (`<64 hex>.jpg`): anything else is not looked up.
pub fn is_media_name(name: &str) -> bool {
    name.strip_suffix(".jpg").is_some_and(|h| h.len() == 64 && h.bytes().all(|b| b.is_ascii_hexdigit()))
}

impl Domain {
    /// Replaces an artist's picture with an upload; the old files go unless another artist uses them.
    pub async fn set_artist_picture(&self, actor: &CurrentUser, id: i64, upload: Vec<u8>) -> Result<(), DomainError> {
        actor.require(Role::Moderator)?;
        let (picture, thumb) = {
            let _one = DECODING.acquire().await.map_err(|e| DomainError::Internal(e.into()))?;
            tokio::task::spawn_blocking(move || picture_and_thumbnail(&upload))
                .await
                .map_err(|e| DomainError::Internal(e.into()))??
        };
        let (actor_id, now) = (actor.id, self.now());
        self.db
            .write(move |c| {
                for f in [&picture, &thumb] {
                    db::media::insert(c, &f.name, "image/jpeg", f.size, &f.bytes, now)?;
                }
                if !db::artists::set_picture(c, id, Some((&picture.name, &thumb.name)), now)? {
                    return Err(DomainError::NotFound("artist"));
                }
                db::media::prune(c)?;
                audit(c, Some(actor_id), "artist.picture", "artist", id, json!({"image": picture.name}), now)
            })
            .await?;
        self.every_ranking_changed();
        Ok(())
    }

    pub async fn remove_artist_picture(&self, actor: &CurrentUser, id: i64) -> Result<(), DomainError> {
        actor.require(Role::Moderator)?;
        let (actor_id, now) = (actor.id, self.now());
        self.db
            .write(move |c| {
                if !db::artists::set_picture(c, id, None, now)? {
                    return Err(DomainError::NotFound("artist"));
                }
                db::media::prune(c)?;
                audit(c, Some(actor_id), "artist.picture", "artist", id, json!({"image": null}), now)
            })
            .await?;
        self.every_ranking_changed();
        Ok(())
    }

    /// A stored file by its name under `/media/`.
    pub async fn media(&self, name: &str) -> Result<db::media::Media, DomainError> {
        if !is_media_name(name) {
            return Err(DomainError::NotFound("file"));
        }
        let name = name.to_owned();
        self.db.read(move |c| db::media::get(c, &name)).await?.ok_or(DomainError::NotFound("file"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn png(w: u32, h: u32) -> Vec<u8> {
        let img = image::RgbaImage::from_pixel(w, h, image::Rgba([200, 30, 30, 255]));
        let mut out = Vec::new();
        img.write_to(&mut Cursor::new(&mut out), ImageFormat::Png).unwrap();
        out
    }

    #[test]
    fn sniffing_goes_by_the_bytes_not_the_name() {
        assert_eq!(sniff(&png(2, 2)), Some(ImageFormat::Png));
        assert_eq!(sniff(&[0xFF, 0xD8, 0xFF, 0xE0]), Some(ImageFormat::Jpeg));
        assert_eq!(sniff(b"RIFF\0\0\0\0WEBPVP8 "), Some(ImageFormat::WebP));
        for other in [&b"GIF89a"[..], b"<svg xmlns=", b"%PDF-1.7", b"", b"RIFF\0\0\0\0WAVE"] {
            assert_eq!(sniff(other), None, "{other:?}");
        }
    }

    #[test]
    fn uploads_become_squares_of_the_documented_sizes() {
        let (picture, thumb) = picture_and_thumbnail(&png(900, 600)).unwrap();
        for (f, side) in [(&picture, PICTURE_SIZE), (&thumb, THUMB_SIZE)] {
            assert_eq!(f.size, (side, side));
            let back = image::load_from_memory_with_format(&f.bytes, ImageFormat::Jpeg).unwrap();
            assert_eq!((back.width(), back.height()), (side, side));
            assert!(is_media_name(&f.name), "{}", f.name);
        }
    }

    #[test]
    fn jpeg_and_webp_uploads_are_decoded_too() {
        let img = image::RgbaImage::from_pixel(40, 30, image::Rgba([20, 90, 200, 255]));
        for format in [ImageFormat::Jpeg, ImageFormat::WebP] {
            let mut bytes = Vec::new();
            let rgb = DynamicImage::ImageRgba8(img.clone()).to_rgb8();
            rgb.write_to(&mut Cursor::new(&mut bytes), format).unwrap();
            assert_eq!(sniff(&bytes), Some(format));
            let (picture, _) = picture_and_thumbnail(&bytes).unwrap();
            assert_eq!(picture.size, (PICTURE_SIZE, PICTURE_SIZE), "{format:?}");
        }
    }

    #[test]
    fn limits_are_checked_before_decoding() {
        let too_big = vec![0x89; MAX_UPLOAD_BYTES + 1];
        assert!(decode(&too_big).unwrap_err().to_string().contains("larger than 5 MiB"));
        assert!(decode(b"GIF89a....").unwrap_err().to_string().contains("PNG, JPEG or WebP"));
        // A valid PNG header that claims 60000 × 60000 pixels, with no pixel data at all.
        let mut bomb = png(1, 1);
        bomb[16..20].copy_from_slice(&60_000u32.to_be_bytes());
        bomb[20..24].copy_from_slice(&60_000u32.to_be_bytes());
        let crc = crc::Crc::<u32>::new(&crc::CRC_32_ISO_HDLC).checksum(&bomb[12..29]);
        bomb[29..33].copy_from_slice(&crc.to_be_bytes());
        let e = decode(&bomb).unwrap_err().to_string();
        assert!(e.contains("60000 × 60000"), "{e}");
        assert!(decode(&png(MAX_SIDE + 1, 1)).is_err());
        assert!(decode(&png(3, 3)).is_ok());
    }

    #[test]
    fn only_hash_names_are_looked_up() {
        assert!(is_media_name(&format!("{}.jpg", "a".repeat(64))));
        for bad in ["", ".jpg", "../x.jpg", &format!("{}.png", "a".repeat(64)), &format!("{}.jpg", "g".repeat(64))] {
            assert!(!is_media_name(bad), "{bad}");
        }
    }
}
