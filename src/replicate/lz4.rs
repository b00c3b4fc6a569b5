//! The two LZ4 page encodings LTX files use, over `lz4_flex`.
//!
//! * **Frame** (LTX page flags 0, written by Litestream 0.5.0–0.5.15 and readable by every 0.5.x):
//!   one LZ4 frame per page, 64 KiB independent blocks, content checksum on and no block
//!   checksums. `lz4_flex` then emits the same frame header as Go's pierrec/lz4 with
//!   `Block64Kb`: `04 22 4d 18 64 40 a7`. Old Go decoders read exactly 8 footer bytes after the
//!   data (EndMark + content checksum), so the content checksum must stay on.
//! * **Block** (LTX page flag 0x1, Litestream ≥ 0.5.16): a raw LZ4 block; the caller stores
//!   its length in front of it.
//!
//! A frame carries no length prefix inside an LTX file, so [`frame_len`] walks the frame
//! structure to find where it ends before it is decoded.

use std::io::{Read, Write};

use lz4_flex::frame::{BlockMode, BlockSize, FrameDecoder, FrameEncoder, FrameInfo};

const FRAME_MAGIC: [u8; 4] = [0x04, 0x22, 0x4d, 0x18];
const FLG_BLOCK_CHECKSUM: u8 = 0x10;
const FLG_CONTENT_SIZE: u8 = 0x08;
const FLG_CONTENT_CHECKSUM: u8 = 0x04;
const FLG_DICT_ID: u8 = 0x01;

/// Why LZ4 page data could not be encoded or decoded.
#[derive(Debug, thiserror::Error)]
pub enum Lz4Error {
    #[error("lz4 frame encode: {0}")]
    Encode(std::io::Error),
    #[error("lz4 frame encode: {0}")]
    Finish(lz4_flex::frame::Error),
    #[error("page data is not an LZ4 frame (bad magic)")]
    BadMagic,
    #[error("unsupported LZ4 frame version in FLG byte {0:#04x}")]
    Version(u8),
    /// The frame ends early: the named part (block header, block data, content checksum) is cut off.
    #[error("LZ4 frame is truncated ({0} missing)")]
    Truncated(&'static str),
    #[error("LZ4 frame decode: {source} (expected {expected} bytes)")]
    FrameDecode { source: std::io::Error, expected: usize },
    #[error("LZ4 frame holds more than the page size ({0} bytes)")]
    FrameTooLong(usize),
    #[error("LZ4 frame decode: {0}")]
    FrameEnd(std::io::Error),
    #[error("LZ4 block decode: {0}")]
    Block(lz4_flex::block::DecompressError),
    #[error("LZ4 block decoded to {got} bytes, expected the page size {expected}")]
    BlockSize { got: usize, expected: usize },
    #[error("LZ4 decode: {0}")]
    Stream(std::io::Error),
}

/// Compresses `data` as one LZ4 frame (64 KiB independent blocks, content checksum).
pub fn compress_frame(data: &[u8], out: &mut Vec<u8>) -> Result<(), Lz4Error> {
    let info =
        FrameInfo::new().block_size(BlockSize::Max64KB).block_mode(BlockMode::Independent).content_checksum(true);
    let mut enc = FrameEncoder::with_frame_info(info, out);
    enc.write_all(data).map_err(Lz4Error::Encode)?;
    enc.finish().map_err(Lz4Error::Finish)?;
    Ok(())
}

/// Compresses `data` as one raw LZ4 block, appended to `out`.
pub fn compress_block(data: &[u8], out: &mut Vec<u8>) {
    out.extend_from_slice(&lz4_flex::block::compress(data));
}

/// Length in bytes of the LZ4 frame at the start of `b`, found by walking its block headers.
pub fn frame_len(b: &[u8]) -> Result<usize, Lz4Error> {
    if b.len() < 7 || b[0..4] != FRAME_MAGIC {
        return Err(Lz4Error::BadMagic);
    }
    let flg = b[4];
    if flg >> 6 != 1 {
        return Err(Lz4Error::Version(flg));
    }
    let mut pos = 6usize;
    if flg & FLG_CONTENT_SIZE != 0 {
        pos += 8;
    }
    if flg & FLG_DICT_ID != 0 {
        pos += 4;
    }
    pos += 1; // header checksum
    loop {
        let Some(word) = b.get(pos..pos + 4) else {
            return Err(Lz4Error::Truncated("block header"));
        };
        pos += 4;
        let v = u32::from_le_bytes(word.try_into().expect("4 bytes"));
        if v == 0 {
            break; // EndMark
        }
        pos += (v & 0x7fff_ffff) as usize;
        if flg & FLG_BLOCK_CHECKSUM != 0 {
            pos += 4;
        }
        if pos > b.len() {
            return Err(Lz4Error::Truncated("block data"));
        }
    }
    if flg & FLG_CONTENT_CHECKSUM != 0 {
        pos += 4;
    }
    if pos > b.len() {
        return Err(Lz4Error::Truncated("content checksum"));
    }
    Ok(pos)
}

/// Decodes one complete LZ4 frame into `out`, which must be filled exactly.
/// The frame's header and content checksums are verified by `lz4_flex`.
pub fn decompress_frame(frame: &[u8], out: &mut [u8]) -> Result<(), Lz4Error> {
    let mut dec = FrameDecoder::new(frame);
    dec.read_exact(out).map_err(|source| Lz4Error::FrameDecode { source, expected: out.len() })?;
    // Reading to the end makes the decoder check the content checksum, and proves the
    // frame holds no more than one page.
    let mut extra = [0u8; 1];
    match dec.read(&mut extra) {
        Ok(0) => Ok(()),
        Ok(_) => Err(Lz4Error::FrameTooLong(out.len())),
        Err(e) => Err(Lz4Error::FrameEnd(e)),
    }
}

/// Decodes a raw LZ4 block into `out`, which it must fill exactly.
pub fn decompress_block(block: &[u8], out: &mut [u8]) -> Result<(), Lz4Error> {
    let n = lz4_flex::block::decompress_into(block, out).map_err(Lz4Error::Block)?;
    if n != out.len() {
        return Err(Lz4Error::BlockSize { got: n, expected: out.len() });
    }
    Ok(())
}

/// Decodes a whole LZ4 stream of unknown length (a v0.3 snapshot or WAL segment).
pub fn decompress_stream(data: &[u8]) -> Result<Vec<u8>, Lz4Error> {
    let mut out = Vec::with_capacity(data.len() * 3);
    FrameDecoder::new(data).read_to_end(&mut out).map_err(Lz4Error::Stream)?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frame_header_matches_go_pierrec_bytes() {
        let mut out = Vec::new();
        compress_frame(&[7u8; 4096], &mut out).unwrap();
        assert_eq!(&out[..7], &[0x04, 0x22, 0x4d, 0x18, 0x64, 0x40, 0xa7]);
        assert_eq!(frame_len(&out).unwrap(), out.len());
    }

    #[test]
    fn frame_round_trip_with_trailing_bytes() {
        let data: Vec<u8> = (0..4096u32).map(|i| (i * 7 % 251) as u8).collect();
        let mut out = Vec::new();
        compress_frame(&data, &mut out).unwrap();
        let len = out.len();
        out.extend_from_slice(&[0, 0, 0, 2, 0, 0]); // what follows in an LTX file
        assert_eq!(frame_len(&out).unwrap(), len);
        let mut back = vec![0u8; 4096];
        decompress_frame(&out[..len], &mut back).unwrap();
        assert_eq!(back, data);
    }

    #[test]
    fn incompressible_data_round_trips_both_ways() {
        let mut x: u32 = 0x1234_5678;
        let data: Vec<u8> = (0..4096)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 17;
                x ^= x << 5;
                x as u8
            })
            .collect();
        let mut f = Vec::new();
        compress_frame(&data, &mut f).unwrap();
        let mut back = vec![0u8; 4096];
        decompress_frame(&f[..frame_len(&f).unwrap()], &mut back).unwrap();
        assert_eq!(back, data);
        let mut b = Vec::new();
        compress_block(&data, &mut b);
        decompress_block(&b, &mut back).unwrap();
        assert_eq!(back, data);
    }

    #[test]
    fn corrupt_frame_checksum_is_detected() {
        let data = vec![42u8; 4096];
        let mut f = Vec::new();
        compress_frame(&data, &mut f).unwrap();
        let n = f.len();
        f[n - 1] ^= 0xff; // content checksum
        let mut back = vec![0u8; 4096];
        assert!(decompress_frame(&f, &mut back).is_err());
    }

    #[test]
    fn truncated_frame_is_reported() {
        let mut f = Vec::new();
        compress_frame(&[1u8; 4096], &mut f).unwrap();
        assert!(frame_len(&f[..f.len() - 3]).is_err());
        assert!(frame_len(&[1, 2, 3]).is_err());
    }
}
