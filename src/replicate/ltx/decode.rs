//! Reading and verifying LTX files (see the format in `mod.rs`).

use super::*;

/// Reads one LTX file held in memory, page by page, verifying as it goes.
pub struct Decoder<'a> {
    buf: &'a [u8],
    pos: usize,
    header: Header,
    digest: Digest<'static, u64>,
    prev_pgno: u32,
    pages: Vec<(u32, u64, u64)>,
    pages_done: bool,
}

impl<'a> Decoder<'a> {
    /// Parses and validates the header.
    pub fn new(buf: &'a [u8]) -> Result<Decoder<'a>, LtxError> {
        let header = Header::parse(buf)?;
        header.validate()?;
        let mut digest = CRC64.digest();
        digest.update(&buf[..HEADER_SIZE]);
        Ok(Decoder { buf, pos: HEADER_SIZE, header, digest, prev_pgno: 0, pages: Vec::new(), pages_done: false })
    }

    pub fn header(&self) -> &Header {
        &self.header
    }

    fn take(&mut self, n: usize, what: &'static str) -> Result<&'a [u8], LtxError> {
        let end = self.pos.checked_add(n).filter(|&e| e <= self.buf.len()).ok_or(LtxError::Truncated(what))?;
        let s = &self.buf[self.pos..end];
        self.pos = end;
        Ok(s)
    }

    /// Decodes the next page into `data` (page-size bytes) and returns its number, or `None`
    /// at the end of the page block.
    pub fn next_page(&mut self, data: &mut [u8]) -> Result<Option<u32>, LtxError> {
        if self.pages_done {
            return Ok(None);
        }
        if data.len() != self.header.page_size as usize {
            return Err(LtxError::InvalidPage("buffer is not one page".into()));
        }
        let offset = self.pos as u64;
        let ph = self.take(PAGE_HEADER_SIZE, "page header")?;
        self.digest.update(ph);
        let pgno = u32::from_be_bytes(ph[0..4].try_into().expect("4 bytes"));
        let flags = u16::from_be_bytes(ph[4..6].try_into().expect("2 bytes"));
        if pgno == 0 && flags == 0 {
            self.pages_done = true;
            return Ok(None);
        }
        if flags & !PAGE_FLAG_SIZE != 0 {
            return Err(LtxError::InvalidPage(format!("page {pgno} has unknown flags {flags:#06x}")));
        }
        check_page_order(&self.header, self.prev_pgno, pgno)?;
        if flags & PAGE_FLAG_SIZE != 0 {
            let size_word = self.take(4, "page size word")?;
            self.digest.update(size_word);
            let size = u32::from_be_bytes(size_word.try_into().expect("4 bytes")) as usize;
            let block = self.take(size, "page data")?;
            lz4::decompress_block(block, data).map_err(|e| LtxError::InvalidPage(format!("page {pgno}: {e}")))?;
        } else {
            let len = lz4::frame_len(&self.buf[self.pos..])
                .map_err(|e| LtxError::InvalidPage(format!("page {pgno}: {e}")))?;
            let frame = self.take(len, "page data")?;
            lz4::decompress_frame(frame, data).map_err(|e| LtxError::InvalidPage(format!("page {pgno}: {e}")))?;
        }
        self.digest.update(data);
        self.pages.push((pgno, offset, self.pos as u64 - offset));
        self.prev_pgno = pgno;
        Ok(Some(pgno))
    }

    /// Reads the index and trailer after the last page and verifies the file checksum.
    pub fn finish(mut self) -> Result<Trailer, LtxError> {
        if !self.pages_done {
            let mut scratch = vec![0u8; self.header.page_size as usize];
            while self.next_page(&mut scratch)?.is_some() {}
        }
        if self.header.is_snapshot() && self.header.commit > 0 {
            let lock = lock_pgno(self.header.page_size);
            let last = if self.header.commit == lock { lock - 1 } else { self.header.commit };
            if self.prev_pgno != last {
                return Err(LtxError::InvalidPage(format!(
                    "snapshot ends at page {} but the database has {} pages",
                    self.prev_pgno, self.header.commit
                )));
            }
        }
        if self.buf.len() < self.pos + TRAILER_SIZE + 9 {
            return Err(LtxError::Truncated("page index or trailer"));
        }
        let index_start = self.pos;
        let trailer_start = self.buf.len() - TRAILER_SIZE;
        let mut p = index_start;
        let mut entries = Vec::with_capacity(self.pages.len());
        loop {
            let pgno = read_uvarint(self.buf, &mut p)?;
            if pgno == 0 {
                break;
            }
            let offset = read_uvarint(self.buf, &mut p)?;
            let size = read_uvarint(self.buf, &mut p)?;
            entries.push((pgno as u32, offset, size));
            if p > trailer_start {
                return Err(LtxError::Truncated("page index"));
            }
        }
        let varint_len = (p - index_start) as u64;
        if p + 8 != trailer_start {
            return Err(LtxError::InvalidIndex(format!(
                "{} bytes between the index and the trailer",
                trailer_start as i64 - p as i64 - 8
            )));
        }
        let stored_len = u64::from_be_bytes(self.buf[p..p + 8].try_into().expect("8 bytes"));
        if stored_len != varint_len {
            return Err(LtxError::InvalidIndex(format!(
                "index size field says {stored_len} bytes, index has {varint_len}"
            )));
        }
        if entries != self.pages {
            return Err(LtxError::InvalidIndex("index does not match the pages in the file".into()));
        }
        self.digest.update(&self.buf[index_start..trailer_start + 8]);
        let t = &self.buf[trailer_start..];
        let trailer = Trailer {
            post_apply_checksum: u64::from_be_bytes(t[0..8].try_into().expect("8 bytes")),
            file_checksum: u64::from_be_bytes(t[8..16].try_into().expect("8 bytes")),
        };
        if self.header.no_checksum() && trailer.post_apply_checksum != 0 {
            return Err(LtxError::InvalidTrailer("post-apply checksum set although checksums are off".into()));
        }
        if trailer.file_checksum & CHECKSUM_FLAG == 0 {
            return Err(LtxError::InvalidTrailer("file checksum lacks its flag bit".into()));
        }
        let computed = CHECKSUM_FLAG | self.digest.finalize();
        if computed != trailer.file_checksum {
            return Err(LtxError::ChecksumMismatch { stored: trailer.file_checksum, computed });
        }
        Ok(trailer)
    }
}

/// Decodes and verifies a whole file, calling `page` for every page. Returns the header.
pub fn decode_all(buf: &[u8], mut page: impl FnMut(u32, &[u8]) -> Result<(), LtxError>) -> Result<Header, LtxError> {
    let mut dec = Decoder::new(buf)?;
    let header = *dec.header();
    let mut data = vec![0u8; header.page_size as usize];
    while let Some(pgno) = dec.next_page(&mut data)? {
        page(pgno, &data)?;
    }
    dec.finish()?;
    Ok(header)
}
