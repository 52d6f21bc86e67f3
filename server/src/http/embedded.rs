//! Files compiled into the binary (the dashboard's and the field app's),
//! answered with a validator: each carries an `ETag` (a hash of its bytes,
//! computed once; weak, since the answer may be gzipped on the way), and a browser that already holds the same bytes
//! (`If-None-Match`) gets `304 Not Modified` with no body. Pages keep
//! `Cache-Control: no-cache`, so a new version is seen at once, but an
//! official's phone on a weak signal does not download the chart library
//! again on every visit.

use std::collections::HashMap;
use std::sync::{Mutex, OnceLock};

use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};

/// The entity tag of `bytes`: the first 16 bytes of their SHA-256, in hex,
/// quoted, weak (`W/"…"`). Computed once per file (the files never change while the
/// binary runs).
fn etag(bytes: &'static [u8]) -> HeaderValue {
    // Keyed by where the file lies in the binary: each embedded file is
    // its own static slice.
    static TAGS: OnceLock<Mutex<HashMap<(usize, usize), HeaderValue>>> = OnceLock::new();
    let key = (bytes.as_ptr() as usize, bytes.len());
    let tags = TAGS.get_or_init(|| Mutex::new(HashMap::new()));
    let mut tags = tags.lock().unwrap_or_else(|e| e.into_inner());
    tags.entry(key)
        .or_insert_with(|| {
            let digest = Sha256::digest(bytes);
            let hex: String = digest[..16].iter().map(|b| format!("{b:02x}")).collect();
            HeaderValue::from_str(&format!("W/\"{hex}\""))
                .unwrap_or(HeaderValue::from_static("\"\""))
        })
        .clone()
}

/// Whether the request's `If-None-Match` names `tag` (or `*`).
fn fresh(request: &HeaderMap, tag: &HeaderValue) -> bool {
    request
        .get_all(header::IF_NONE_MATCH)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .map(|candidate| candidate.trim().trim_start_matches("W/"))
        .any(|candidate| {
            // Weak comparison: the opaque parts, either one weak.
            let ours = tag.to_str().unwrap_or("").trim_start_matches("W/");
            candidate == "*" || candidate == ours
        })
}

/// `bytes` as the answer to a request with `request` headers: `200` with
/// the body, or `304` without it when the browser holds the same bytes.
/// `headers` (content type, caching, security) go on both.
pub fn answer<const N: usize>(
    request: &HeaderMap,
    headers: [(header::HeaderName, &'static str); N],
    bytes: &'static [u8],
) -> Response {
    let tag = etag(bytes);
    let mut response = if fresh(request, &tag) {
        (StatusCode::NOT_MODIFIED, headers).into_response()
    } else {
        (headers, bytes).into_response()
    };
    response.headers_mut().insert(header::ETAG, tag);
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    static FILE: &[u8] = b"console.log('\xe6\x9e\xab\xe6\xa1\xa5');";
    static OTHER: &[u8] = b"body { color: red }";

    fn request(if_none_match: Option<&str>) -> HeaderMap {
        let mut headers = HeaderMap::new();
        if let Some(value) = if_none_match {
            headers.insert(header::IF_NONE_MATCH, HeaderValue::from_str(value).unwrap());
        }
        headers
    }

    fn get(if_none_match: Option<&str>, bytes: &'static [u8]) -> Response {
        answer(
            &request(if_none_match),
            [(header::CONTENT_TYPE, "text/javascript")],
            bytes,
        )
    }

    #[test]
    fn a_browser_holding_the_same_bytes_gets_not_modified_without_a_body() {
        let first = get(None, FILE);
        assert_eq!(first.status(), StatusCode::OK);
        let tag = first.headers()[header::ETAG].to_str().unwrap().to_owned();
        assert!(tag.starts_with("W/\"") && tag.len() == 36, "{tag}");
        let again = get(Some(&tag), FILE);
        assert_eq!(again.status(), StatusCode::NOT_MODIFIED);
        assert_eq!(again.headers()[header::ETAG], tag.as_str());
        assert_eq!(again.headers()[header::CONTENT_TYPE], "text/javascript");
        // A list, the strong form and `*` match too.
        let strong = tag.trim_start_matches("W/").to_owned();
        for value in [format!("\"x\", {tag}"), strong, "*".to_owned()] {
            assert_eq!(get(Some(&value), FILE).status(), StatusCode::NOT_MODIFIED);
        }
        // Another file's tag, or another version's, does not.
        let other = get(None, OTHER).headers()[header::ETAG].clone();
        assert_ne!(other, tag.as_str());
        assert_eq!(
            get(Some(other.to_str().unwrap()), FILE).status(),
            StatusCode::OK
        );
        assert_eq!(get(Some("\"stale\""), FILE).status(), StatusCode::OK);
    }
}
