//! Bounded CBOR decoding.
//!
//! Every decoder in this crate first walks the item structure with
//! [`check_structure`]: a single pass over the headers that never allocates
//! in proportion to what the input *claims*. It rejects an input that is
//! larger than [`DecodeLimits::max_bytes`], nests deeper than
//! [`DecodeLimits::max_depth`], declares a collection longer than
//! [`DecodeLimits::max_collection_len`], declares a string or collection
//! longer than the bytes that remain, is truncated, is malformed, or has
//! bytes after its one top-level item. Only then does ciborium deserialize
//! it, so every allocation it makes is bounded by the input size.

use serde::de::DeserializeOwned;
use thiserror::Error;

use crate::error::ErrorCode;

/// Bounds applied to every decode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DecodeLimits {
    /// Largest encoded input accepted, in bytes.
    pub max_bytes: usize,
    /// Deepest nesting of arrays, maps and tags accepted.
    pub max_depth: usize,
    /// Largest declared number of entries in one array or map.
    pub max_collection_len: u64,
}

impl DecodeLimits {
    /// Defaults for one WebSocket frame or one batch body: 64 MiB (a first
    /// sync carries a whole document in one frame), depth 32, 1,000,000
    /// entries per collection.
    pub const DEFAULT: DecodeLimits = DecodeLimits {
        max_bytes: 64 * 1024 * 1024,
        max_depth: 32,
        max_collection_len: 1_000_000,
    };
}

impl Default for DecodeLimits {
    fn default() -> Self {
        Self::DEFAULT
    }
}

/// Why an input was refused. Each variant maps to a stable [`ErrorCode`].
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum DecodeError {
    #[error("input is {size} bytes; the limit is {limit}")]
    TooLarge { size: usize, limit: usize },
    #[error("input nests deeper than {limit} levels")]
    TooDeep { limit: usize },
    #[error("a collection declares {len} entries; the limit is {limit}")]
    CollectionTooLong { len: u64, limit: u64 },
    #[error("input ends in the middle of a CBOR item (truncated)")]
    Truncated,
    #[error("{0} bytes follow the message; one message per frame is expected")]
    TrailingBytes(usize),
    #[error("malformed CBOR at byte {offset}: {reason}")]
    Malformed { offset: usize, reason: &'static str },
    #[error("CBOR does not have the expected shape: {0}")]
    Shape(String),
    #[error("{message_type} message lacks the required field {field:?}")]
    MissingField {
        message_type: &'static str,
        field: &'static str,
    },
    #[error("field {field:?} is not valid: {reason}")]
    InvalidField { field: &'static str, reason: String },
    #[error("envelope version {0} is not supported; this server speaks version 1")]
    UnsupportedVersion(u64),
}

impl DecodeError {
    /// The stable code a server answers with.
    pub fn code(&self) -> ErrorCode {
        match self {
            DecodeError::TooLarge { .. } | DecodeError::CollectionTooLong { .. } => {
                ErrorCode::TooLarge
            }
            DecodeError::UnsupportedVersion(_) => ErrorCode::UnsupportedVersion,
            _ => ErrorCode::BadRequest,
        }
    }
}

/// What the walker expects next inside an open container.
#[derive(Clone, Copy)]
enum Open {
    /// A definite array, map (2 items per entry) or tag (1 item) with this
    /// many items left.
    Items(u64),
    /// An indefinite array or map, closed by a break byte.
    Indefinite,
    /// An indefinite byte (major 2) or text (major 3) string: definite
    /// chunks of the same major type until a break byte.
    Chunks(u8),
}

fn malformed(offset: usize, reason: &'static str) -> DecodeError {
    DecodeError::Malformed { offset, reason }
}

/// Checks that `input` is exactly one well-formed CBOR item within `limits`.
pub fn check_structure(input: &[u8], limits: &DecodeLimits) -> Result<(), DecodeError> {
    if input.len() > limits.max_bytes {
        return Err(DecodeError::TooLarge {
            size: input.len(),
            limit: limits.max_bytes,
        });
    }
    let mut pos = 0usize;
    let mut stack: Vec<Open> = Vec::new();
    loop {
        let start = pos;
        let initial = *input.get(pos).ok_or(DecodeError::Truncated)?;
        pos += 1;
        let major = initial >> 5;
        let info = initial & 0x1f;

        if initial == 0xff {
            match stack.pop() {
                Some(Open::Indefinite | Open::Chunks(_)) => {}
                _ => return Err(malformed(start, "unexpected break")),
            }
            if close_item(&mut stack) {
                break;
            }
            continue;
        }
        if let Some(Open::Chunks(expected)) = stack.last()
            && (major != *expected || info == 31)
        {
            return Err(malformed(start, "bad chunk in an indefinite-length string"));
        }

        let argument: Option<u64> = match info {
            0..=23 => Some(u64::from(info)),
            24..=27 => {
                let width = 1usize << (info - 24);
                let bytes = input.get(pos..pos + width).ok_or(DecodeError::Truncated)?;
                pos += width;
                Some(bytes.iter().fold(0u64, |acc, b| (acc << 8) | u64::from(*b)))
            }
            28..=30 => return Err(malformed(start, "reserved additional information")),
            _ => None, // 31: indefinite length
        };
        let remaining = (input.len() - pos) as u64;

        match (major, argument) {
            (0 | 1 | 7, Some(_)) => {
                // Integers, simple values and floats: the argument bytes were the payload.
            }
            (0 | 1 | 6 | 7, None) => {
                return Err(malformed(start, "indefinite length on a scalar"));
            }
            (2 | 3, Some(len)) => {
                if len > remaining {
                    return Err(DecodeError::Truncated);
                }
                pos += len as usize;
            }
            (2 | 3, None) => {
                push(&mut stack, Open::Chunks(major), limits)?;
                continue;
            }
            (4 | 5, Some(len)) => {
                if len > limits.max_collection_len {
                    return Err(DecodeError::CollectionTooLong {
                        len,
                        limit: limits.max_collection_len,
                    });
                }
                let items = if major == 5 {
                    len.saturating_mul(2)
                } else {
                    len
                };
                // Every item takes at least one byte.
                if items > remaining {
                    return Err(DecodeError::Truncated);
                }
                if items > 0 {
                    push(&mut stack, Open::Items(items), limits)?;
                    continue;
                }
            }
            (4 | 5, None) => {
                push(&mut stack, Open::Indefinite, limits)?;
                continue;
            }
            (6, Some(_)) => {
                push(&mut stack, Open::Items(1), limits)?;
                continue;
            }
            _ => return Err(malformed(start, "unknown major type")),
        }
        if close_item(&mut stack) {
            break;
        }
    }
    if pos != input.len() {
        return Err(DecodeError::TrailingBytes(input.len() - pos));
    }
    Ok(())
}

fn push(stack: &mut Vec<Open>, open: Open, limits: &DecodeLimits) -> Result<(), DecodeError> {
    if stack.len() >= limits.max_depth {
        return Err(DecodeError::TooDeep {
            limit: limits.max_depth,
        });
    }
    stack.push(open);
    Ok(())
}

/// Records that one item finished; returns true when the top-level item is
/// complete.
fn close_item(stack: &mut Vec<Open>) -> bool {
    loop {
        match stack.last_mut() {
            None => return true,
            Some(Open::Items(left)) => {
                *left -= 1;
                if *left > 0 {
                    return false;
                }
                stack.pop();
            }
            Some(Open::Indefinite | Open::Chunks(_)) => return false,
        }
    }
}

/// Checks `input` against `limits`, then deserializes it.
pub fn decode<T: DeserializeOwned>(input: &[u8], limits: &DecodeLimits) -> Result<T, DecodeError> {
    check_structure(input, limits)?;
    ciborium::de::from_reader(input).map_err(|e| DecodeError::Shape(describe(e)))
}

fn describe(error: ciborium::de::Error<std::io::Error>) -> String {
    match error {
        ciborium::de::Error::Io(e) => e.to_string(),
        ciborium::de::Error::Syntax(offset) => format!("syntax error at byte {offset}"),
        ciborium::de::Error::Semantic(_, msg) => msg,
        ciborium::de::Error::RecursionLimitExceeded => "nested too deeply".to_owned(),
    }
}

/// Serializes a value the crate's own types produce; these contain only
/// maps, strings, byte strings, booleans and numbers, so writing into memory
/// cannot fail.
pub(crate) fn encode<T: serde::Serialize>(value: &T) -> Vec<u8> {
    let mut out = Vec::with_capacity(64);
    ciborium::ser::into_writer(value, &mut out)
        .expect("encoding this crate's message types into memory cannot fail");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(hex_input: &str) -> Result<(), DecodeError> {
        check_structure(&hex::decode(hex_input).unwrap(), &DecodeLimits::DEFAULT)
    }

    #[test]
    fn accepts_well_formed_items() {
        check("00").unwrap();
        check("b900016161f7").unwrap(); // {_1 "a": undefined} with a 16-bit map header
        check("9f0102ff").unwrap(); // indefinite array
        check("5f42010243030405ff").unwrap(); // chunked byte string
        check("d8404401020304").unwrap(); // tag 64 around bytes
        check("fb42797eb585240000").unwrap(); // float64
    }

    #[test]
    fn rejects_hostile_structures() {
        assert_eq!(check(""), Err(DecodeError::Truncated));
        assert_eq!(check("a2616100"), Err(DecodeError::Truncated));
        assert_eq!(check("5bffffffffffffffff"), Err(DecodeError::Truncated));
        assert!(matches!(
            check("9bffffffffffffffff"),
            Err(DecodeError::CollectionTooLong { .. })
        ));
        assert_eq!(check("0000"), Err(DecodeError::TrailingBytes(1)));
        assert!(matches!(check("ff"), Err(DecodeError::Malformed { .. })));
        assert!(matches!(check("1c"), Err(DecodeError::Malformed { .. })));
        assert!(matches!(
            check("5f01ff"),
            Err(DecodeError::Malformed { .. })
        ));
        let deep = "81".repeat(100) + "00";
        assert_eq!(check(&deep), Err(DecodeError::TooDeep { limit: 32 }));
        let limits = DecodeLimits {
            max_bytes: 4,
            ..DecodeLimits::DEFAULT
        };
        assert!(matches!(
            check_structure(&[0x45, 1, 2, 3, 4, 5], &limits),
            Err(DecodeError::TooLarge { size: 6, limit: 4 })
        ));
    }
}
