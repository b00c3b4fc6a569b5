//! Writing LTX files (see the format in `mod.rs`).

use super::*;

/// Writes one LTX file into memory.
pub struct Encoder {
    out: Vec<u8>,
    digest: Digest<'static, u64>,
    header: Header,
    encoding: PageEncoding,
    prev_pgno: u32,
    index: Vec<(u32, u64, u64)>,
    scratch: Vec<u8>,
}

impl Encoder {
    pub fn new(header: Header, encoding: PageEncoding) -> Result<Encoder, LtxError> {
        header.validate()?;
        let mut enc = Encoder {
            out: Vec::with_capacity(HEADER_SIZE + 4096),
            digest: CRC64.digest(),
            header,
            encoding,
            prev_pgno: 0,
            index: Vec::new(),
            scratch: Vec::new(),
        };
        enc.write_hashed(&header.to_bytes());
        Ok(enc)
    }

    fn write_hashed(&mut self, b: &[u8]) {
        self.digest.update(b);
        self.out.extend_from_slice(b);
    }

    /// Appends one page; pages must come in ascending order (all of 1..=commit for snapshots).
    pub fn encode_page(&mut self, pgno: u32, data: &[u8]) -> Result<(), LtxError> {
        if data.len() != self.header.page_size as usize {
            return Err(LtxError::InvalidPage(format!(
                "page {pgno} has {} bytes, expected {}",
                data.len(),
                self.header.page_size
            )));
        }
        check_page_order(&self.header, self.prev_pgno, pgno)?;
        let offset = self.out.len() as u64;
        self.scratch.clear();
        match self.encoding {
            PageEncoding::Frame => {
                let mut ph = [0u8; PAGE_HEADER_SIZE];
                ph[0..4].copy_from_slice(&pgno.to_be_bytes());
                self.write_hashed(&ph);
                lz4::compress_frame(data, &mut self.scratch).map_err(|e| LtxError::InvalidPage(e.to_string()))?;
            }
            PageEncoding::Block => {
                lz4::compress_block(data, &mut self.scratch);
                let mut ph = [0u8; PAGE_HEADER_SIZE + 4];
                ph[0..4].copy_from_slice(&pgno.to_be_bytes());
                ph[4..6].copy_from_slice(&PAGE_FLAG_SIZE.to_be_bytes());
                ph[6..10].copy_from_slice(&(self.scratch.len() as u32).to_be_bytes());
                self.write_hashed(&ph);
            }
        }
        // The checksum covers the uncompressed page; the file holds the compressed one.
        self.digest.update(data);
        self.out.extend_from_slice(&self.scratch);
        self.index.push((pgno, offset, self.out.len() as u64 - offset));
        self.prev_pgno = pgno;
        Ok(())
    }

    /// Writes the end marker, page index and trailer and returns the file.
    pub fn finish(mut self) -> Result<Vec<u8>, LtxError> {
        if self.header.is_snapshot() {
            let lock = lock_pgno(self.header.page_size);
            let last_expected = if self.header.commit == lock { lock - 1 } else { self.header.commit };
            if self.prev_pgno != last_expected {
                return Err(LtxError::InvalidPage(format!(
                    "snapshot ends at page {} but the database has {} pages",
                    self.prev_pgno, self.header.commit
                )));
            }
        }
        self.write_hashed(&[0u8; PAGE_HEADER_SIZE]);
        let mut idx = Vec::with_capacity(self.index.len() * 8 + 9);
        for &(pgno, offset, size) in &self.index {
            put_uvarint(&mut idx, u64::from(pgno));
            put_uvarint(&mut idx, offset);
            put_uvarint(&mut idx, size);
        }
        put_uvarint(&mut idx, 0);
        let idx_len = idx.len() as u64;
        idx.extend_from_slice(&idx_len.to_be_bytes());
        self.write_hashed(&idx);
        let post_apply = 0u64;
        self.write_hashed(&post_apply.to_be_bytes());
        let file_checksum = CHECKSUM_FLAG | self.digest.finalize();
        self.out.extend_from_slice(&file_checksum.to_be_bytes());
        Ok(self.out)
    }
}
