//! The backup file: a consistent copy of every stored key, in one file.
//!
//! A backup is written while no commit is being applied (the store holds
//! its writer lock shared for the duration), so it captures the store at one
//! point between commits: each commit is in it entirely or not at all. It is
//! written to a temporary file, synced and renamed into place, so a crash
//! while backing up never leaves a half-written file under the final name.
//!
//! Format, all integers big-endian:
//!
//! ```text
//! magic    "FENGQIAO-BACKUP\n" (16 bytes)
//! version  u32                       (1)
//! record*  0x01 ‖ key len u32 ‖ key ‖ value len u32 ‖ value
//! trailer  0x00 ‖ record count u64 ‖ CRC-32 of every byte before it, u32
//! ```
//!
//! Restoring checks the whole file (magic, version, lengths, count,
//! checksum, nothing after the trailer) before it writes anything.

use std::fs::{self, File};
use std::io::{self, BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};

use super::StorageError;

const MAGIC: &[u8; 16] = b"FENGQIAO-BACKUP\n";
const VERSION: u32 = 1;
const RECORD: u8 = 1;
const TRAILER: u8 = 0;

/// One stored key and its value.
pub type BackupRecord = (Vec<u8>, Vec<u8>);

/// What a backup or a restore copied.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BackupReport {
    /// Stored keys copied.
    pub records: u64,
    /// Size of the backup file.
    pub bytes: u64,
}

fn bad(reason: impl Into<String>) -> StorageError {
    StorageError::BadBackup {
        reason: reason.into(),
    }
}

/// Writes a backup file record by record.
pub struct BackupWriter {
    out: BufWriter<File>,
    crc: crc32fast::Hasher,
    records: u64,
    bytes: u64,
    partial: PathBuf,
    path: PathBuf,
}

impl BackupWriter {
    /// Starts a backup that will be at `path` once [`BackupWriter::finish`]
    /// succeeds.
    pub fn create(path: &Path) -> Result<Self, StorageError> {
        let mut partial = path.as_os_str().to_owned();
        partial.push(".partial");
        let partial = PathBuf::from(partial);
        let file = super::private::create_file(&partial).map_err(StorageError::from_io)?;
        let mut writer = Self {
            out: BufWriter::new(file),
            crc: crc32fast::Hasher::new(),
            records: 0,
            bytes: 0,
            partial,
            path: path.to_owned(),
        };
        writer.put(MAGIC)?;
        writer.put(&VERSION.to_be_bytes())?;
        Ok(writer)
    }

    fn put(&mut self, bytes: &[u8]) -> Result<(), StorageError> {
        self.crc.update(bytes);
        self.bytes += bytes.len() as u64;
        self.out.write_all(bytes).map_err(StorageError::from_io)
    }

    fn put_len(&mut self, bytes: &[u8]) -> Result<(), StorageError> {
        let len =
            u32::try_from(bytes.len()).map_err(|_| bad("a stored value is larger than 4 GiB"))?;
        self.put(&len.to_be_bytes())?;
        self.put(bytes)
    }

    pub fn record(&mut self, key: &[u8], value: &[u8]) -> Result<(), StorageError> {
        self.put(&[RECORD])?;
        self.put_len(key)?;
        self.put_len(value)?;
        self.records += 1;
        Ok(())
    }

    /// Writes the trailer, syncs the file and renames it into place.
    pub fn finish(mut self) -> Result<BackupReport, StorageError> {
        self.put(&[TRAILER])?;
        self.put(&self.records.to_be_bytes())?;
        let crc = self.crc.clone().finalize();
        self.out
            .write_all(&crc.to_be_bytes())
            .map_err(StorageError::from_io)?;
        self.bytes += 4;
        let file = self
            .out
            .into_inner()
            .map_err(|e| StorageError::from_io(e.into_error()))?;
        file.sync_all().map_err(StorageError::from_io)?;
        drop(file);
        fs::rename(&self.partial, &self.path).map_err(StorageError::from_io)?;
        if let Some(dir) = self.path.parent().filter(|dir| !dir.as_os_str().is_empty()) {
            // Make the rename itself durable.
            File::open(dir)
                .and_then(|dir| dir.sync_all())
                .map_err(StorageError::from_io)?;
        }
        Ok(BackupReport {
            records: self.records,
            bytes: self.bytes,
        })
    }
}

/// Reads a backup file record by record, checking it as it goes.
pub struct BackupReader {
    input: BufReader<File>,
    crc: crc32fast::Hasher,
    records: u64,
    bytes: u64,
    finished: bool,
}

impl BackupReader {
    pub fn open(path: &Path) -> Result<Self, StorageError> {
        let file = File::open(path).map_err(StorageError::from_io)?;
        let mut reader = Self {
            input: BufReader::new(file),
            crc: crc32fast::Hasher::new(),
            records: 0,
            bytes: 0,
            finished: false,
        };
        let mut magic = [0; 16];
        reader.take(&mut magic)?;
        if &magic != MAGIC {
            return Err(bad("not a Fengqiao backup file"));
        }
        let mut version = [0; 4];
        reader.take(&mut version)?;
        let version = u32::from_be_bytes(version);
        if version != VERSION {
            return Err(bad(format!("backup format version {version} is not known")));
        }
        Ok(reader)
    }

    fn take(&mut self, buf: &mut [u8]) -> Result<(), StorageError> {
        self.input.read_exact(buf).map_err(|e| {
            if e.kind() == io::ErrorKind::UnexpectedEof {
                bad("the file ends early (truncated)")
            } else {
                StorageError::from_io(e)
            }
        })?;
        self.crc.update(buf);
        self.bytes += buf.len() as u64;
        Ok(())
    }

    fn take_len(&mut self) -> Result<Vec<u8>, StorageError> {
        let mut len = [0; 4];
        self.take(&mut len)?;
        let len = u64::from(u32::from_be_bytes(len));
        // Grow with what is actually there, not with what a damaged length
        // claims.
        let mut bytes = Vec::new();
        (&mut self.input)
            .take(len)
            .read_to_end(&mut bytes)
            .map_err(StorageError::from_io)?;
        if bytes.len() as u64 != len {
            return Err(bad("the file ends early (truncated)"));
        }
        self.crc.update(&bytes);
        self.bytes += len;
        Ok(bytes)
    }

    /// The next record, or `None` after a trailer that checks out.
    pub fn next_record(&mut self) -> Result<Option<BackupRecord>, StorageError> {
        if self.finished {
            return Ok(None);
        }
        let mut tag = [0; 1];
        self.take(&mut tag)?;
        match tag[0] {
            RECORD => {
                let key = self.take_len()?;
                let value = self.take_len()?;
                self.records += 1;
                Ok(Some((key, value)))
            }
            TRAILER => {
                let mut count = [0; 8];
                self.take(&mut count)?;
                let expected = self.crc.clone().finalize();
                let mut crc = [0; 4];
                self.input
                    .read_exact(&mut crc)
                    .map_err(|_| bad("the file ends early (truncated)"))?;
                self.bytes += 4;
                if u32::from_be_bytes(crc) != expected {
                    return Err(bad("checksum mismatch: the file is damaged"));
                }
                if u64::from_be_bytes(count) != self.records {
                    return Err(bad("record count does not match"));
                }
                let mut rest = [0; 1];
                if self.input.read(&mut rest).map_err(StorageError::from_io)? != 0 {
                    return Err(bad("unexpected bytes after the end of the backup"));
                }
                self.finished = true;
                Ok(None)
            }
            other => Err(bad(format!("unknown record tag {other}"))),
        }
    }

    pub fn report(&self) -> BackupReport {
        BackupReport {
            records: self.records,
            bytes: self.bytes,
        }
    }
}

/// Reads the whole file and checks it, writing nothing.
pub fn verify(path: &Path) -> Result<BackupReport, StorageError> {
    let mut reader = BackupReader::open(path)?;
    while reader.next_record()?.is_some() {}
    Ok(reader.report())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write_sample(path: &Path) -> BackupReport {
        let mut writer = BackupWriter::create(path).unwrap();
        writer.record(b"a", b"first").unwrap();
        writer.record(b"b", b"").unwrap();
        writer.finish().unwrap()
    }

    #[test]
    fn records_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("store.backup");
        let written = write_sample(&path);
        assert_eq!(written.records, 2);
        assert_eq!(written.bytes, fs::metadata(&path).unwrap().len());
        assert!(!dir.path().join("store.backup.partial").exists());
        let mut reader = BackupReader::open(&path).unwrap();
        assert_eq!(
            reader.next_record().unwrap(),
            Some((b"a".to_vec(), b"first".to_vec()))
        );
        assert_eq!(
            reader.next_record().unwrap(),
            Some((b"b".to_vec(), Vec::new()))
        );
        assert_eq!(reader.next_record().unwrap(), None);
        assert_eq!(reader.report(), written);
    }

    #[test]
    fn every_truncation_and_any_flipped_bit_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("store.backup");
        write_sample(&path);
        let bytes = fs::read(&path).unwrap();
        let damaged = dir.path().join("damaged");
        for len in 0..bytes.len() {
            fs::write(&damaged, &bytes[..len]).unwrap();
            assert!(
                matches!(verify(&damaged), Err(StorageError::BadBackup { .. })),
                "truncated to {len} bytes"
            );
        }
        for i in 0..bytes.len() {
            let mut flipped = bytes.clone();
            flipped[i] ^= 0x10;
            fs::write(&damaged, &flipped).unwrap();
            assert!(verify(&damaged).is_err(), "bit flipped in byte {i}");
        }
        let mut longer = bytes.clone();
        longer.push(0);
        fs::write(&damaged, &longer).unwrap();
        assert!(verify(&damaged).is_err());
    }
}
