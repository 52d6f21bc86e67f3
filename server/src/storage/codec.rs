//! CBOR encoding of stored values.
//!
//! Every structured value (document metadata, summaries, quarantined
//! changes) is stored as CBOR. Decoding never panics: bytes that do not
//! decode become [`StorageError::Corrupt`] naming what was being read.

use serde::Serialize;
use serde::de::DeserializeOwned;

use super::StorageError;

/// Encodes `value` as CBOR.
pub fn encode<T: Serialize>(value: &T, what: &'static str) -> Result<Vec<u8>, StorageError> {
    let mut bytes = Vec::new();
    ciborium::into_writer(value, &mut bytes).map_err(|_| StorageError::Encode { what })?;
    Ok(bytes)
}

/// Decodes CBOR written by [`encode`].
pub fn decode<T: DeserializeOwned>(bytes: &[u8], what: &'static str) -> Result<T, StorageError> {
    ciborium::from_reader(bytes).map_err(|_| StorageError::Corrupt { what })
}

/// A big-endian `u64` value.
pub fn decode_u64(bytes: &[u8], what: &'static str) -> Result<u64, StorageError> {
    <[u8; 8]>::try_from(bytes)
        .map(u64::from_be_bytes)
        .map_err(|_| StorageError::Corrupt { what })
}

/// Change hashes stored back to back, 32 bytes each.
pub fn encode_heads(heads: &[[u8; 32]]) -> Vec<u8> {
    heads.concat()
}

/// Splits back-to-back change hashes.
pub fn decode_heads(bytes: &[u8], what: &'static str) -> Result<Vec<[u8; 32]>, StorageError> {
    if !bytes.len().is_multiple_of(32) {
        return Err(StorageError::Corrupt { what });
    }
    bytes
        .chunks_exact(32)
        .map(|hash| <[u8; 32]>::try_from(hash).map_err(|_| StorageError::Corrupt { what }))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn heads_round_trip_and_ragged_bytes_are_corrupt() {
        let heads = vec![[1u8; 32], [2u8; 32]];
        assert_eq!(decode_heads(&encode_heads(&heads), "heads").unwrap(), heads);
        assert!(decode_heads(&[], "heads").unwrap().is_empty());
        assert!(matches!(
            decode_heads(&[0; 33], "heads"),
            Err(StorageError::Corrupt { what: "heads" })
        ));
    }

    #[test]
    fn garbage_cbor_is_corrupt_not_a_panic() {
        let result: Result<String, _> = decode(&[0xff, 0x00, 0x13], "name");
        assert!(matches!(
            result,
            Err(StorageError::Corrupt { what: "name" })
        ));
        assert!(decode_u64(&[1, 2, 3], "seq").is_err());
        assert_eq!(decode_u64(&7u64.to_be_bytes(), "seq").unwrap(), 7);
    }
}
