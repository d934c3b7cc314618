//! Ranged GETs that continue an interrupted download: `Range: bytes=N-`, with `If-Range`
//! carrying the validator (ETag, else Last-Modified) of the copy the first N bytes came
//! from.
//!
//! A partial answer is appended only when it is exactly the rest of the same file: `206`
//! with `Content-Range: bytes N-(L-1)/L` for the expected total length L, and no
//! validator different from the one sent (a server that ignores `If-Range` still shows a
//! changed file that way). Anything else — `200`, `416`, a `206` for another range,
//! length or copy — means the download starts again from byte 0, from a `200` answer.

use reqwest::StatusCode;
use reqwest::Url;
use reqwest::header::{
    CONTENT_LENGTH, CONTENT_RANGE, ETAG, HeaderMap, HeaderValue, IF_RANGE, LAST_MODIFIED, RANGE,
};
use tracing::{debug, info};

use super::{HttpClient, LimitedBody, check_status, transport};
use crate::error::{Error, Result};

/// Longest validator kept (it is stored in the journal and sent back).
const MAX_VALIDATOR: usize = 256;

/// Where a download stands: bytes already held, and the validator of their copy.
#[derive(Clone, Copy, Debug, Default)]
pub struct Resume<'a> {
    pub offset: u64,
    pub validator: Option<&'a str>,
}

/// The answer to a ranged GET.
pub struct RangedBody {
    /// Position in the file of the body's first byte: the offset asked for, or 0.
    pub start: u64,
    /// The validator of the server's copy, to send as `If-Range` next time.
    pub validator: Option<String>,
    pub body: LimitedBody,
}

impl HttpClient {
    /// GETs the rest of the `total`-byte file at `url` after `resume.offset` bytes, or
    /// the whole file when the server cannot continue that copy (see the module doc).
    /// The body is cut off at `total` bytes from its start.
    pub async fn get_from(&self, url: &Url, total: u64, resume: Resume<'_>) -> Result<RangedBody> {
        if resume.offset == 0 || resume.offset >= total {
            return self.get_whole(url, total).await;
        }
        let mut request = self
            .client
            .get(url.clone())
            .header(RANGE, format!("bytes={}-", resume.offset));
        if let Some(validator) = resume.validator {
            request = request.header(IF_RANGE, validator);
        }
        let response = request.send().await.map_err(transport(url))?;
        match response.status() {
            StatusCode::PARTIAL_CONTENT => {
                match check_partial(response.headers(), resume.offset, total, resume.validator) {
                    Ok(validator) => {
                        debug!(%url, offset = resume.offset, "resuming the download");
                        let body = LimitedBody::new(url, response, total - resume.offset)?;
                        return Ok(RangedBody {
                            start: resume.offset,
                            validator,
                            body,
                        });
                    }
                    Err(reason) => info!(%url, "cannot resume ({reason}): starting again"),
                }
            }
            StatusCode::OK => {
                info!(%url, "the server sent the whole file: starting again");
                return whole(url, response, total);
            }
            StatusCode::RANGE_NOT_SATISFIABLE => {
                info!(%url, "the server refused the range: starting again");
            }
            _ => {
                check_status(url, response).await?;
                return Err(unexpected(url, "a success status other than 200 or 206"));
            }
        }
        self.get_whole(url, total).await
    }

    async fn get_whole(&self, url: &Url, total: u64) -> Result<RangedBody> {
        let response = self
            .client
            .get(url.clone())
            .send()
            .await
            .map_err(transport(url))?;
        let response = check_status(url, response).await?;
        if response.status() != StatusCode::OK {
            return Err(unexpected(
                url,
                "a partial answer to a request for the whole file",
            ));
        }
        whole(url, response, total)
    }
}

fn whole(url: &Url, response: reqwest::Response, total: u64) -> Result<RangedBody> {
    let validator = validator_of(response.headers());
    Ok(RangedBody {
        start: 0,
        validator,
        body: LimitedBody::new(url, response, total)?,
    })
}

fn unexpected(url: &Url, what: &str) -> Error {
    Error::BadResponse {
        url: url.to_string(),
        reason: format!("the server sent {what}"),
    }
}

/// The strong validator of a response: its ETag unless weak, else its Last-Modified.
pub fn validator_of(headers: &HeaderMap) -> Option<String> {
    let usable = |value: &HeaderValue| {
        value
            .to_str()
            .ok()
            .filter(|v| !v.is_empty() && v.len() <= MAX_VALIDATOR)
            .filter(|v| v.bytes().all(|b| (0x20..0x7f).contains(&b)))
            .map(str::to_string)
    };
    headers
        .get(ETAG)
        .and_then(usable)
        .filter(|etag| !etag.starts_with("W/"))
        .or_else(|| headers.get(LAST_MODIFIED).and_then(usable))
}

/// Checks that a `206` is the rest of the same `total`-byte file from `offset`; returns
/// the validator to keep.
fn check_partial(
    headers: &HeaderMap,
    offset: u64,
    total: u64,
    sent: Option<&str>,
) -> std::result::Result<Option<String>, String> {
    let range = headers
        .get(CONTENT_RANGE)
        .and_then(|v| v.to_str().ok())
        .ok_or("no Content-Range")?;
    let (first, last, length) =
        parse_content_range(range).ok_or_else(|| format!("Content-Range {range:?} unreadable"))?;
    if (first, last, length) != (offset, total - 1, total) {
        return Err(format!(
            "Content-Range {range:?}, expected bytes {offset}-{}/{total}",
            total - 1
        ));
    }
    let announced = headers
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .map(|v| v.parse::<u64>());
    if let Some(announced) = announced {
        if announced != Ok(total - offset) {
            return Err("Content-Length does not match Content-Range".into());
        }
    }
    let validator = validator_of(headers);
    match (sent, validator) {
        (Some(sent), Some(now)) if sent != now => Err("the server's copy changed".into()),
        (sent, now) => Ok(now.or_else(|| sent.map(str::to_string))),
    }
}

/// `bytes FIRST-LAST/LENGTH` (a known length; `*` is not accepted).
fn parse_content_range(value: &str) -> Option<(u64, u64, u64)> {
    let spec = value.trim().strip_prefix("bytes ")?;
    let (range, length) = spec.split_once('/')?;
    let (first, last) = range.split_once('-')?;
    let number = |s: &str| {
        let s = s.trim();
        (!s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()))
            .then(|| s.parse().ok())
            .flatten()
    };
    let (first, last, length) = (number(first)?, number(last)?, number(length)?);
    (first <= last && last < length).then_some((first, last, length))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.insert(*name, HeaderValue::from_str(value).unwrap());
        }
        map
    }

    #[test]
    fn content_range_must_be_complete_and_ordered() {
        assert_eq!(parse_content_range("bytes 10-99/100"), Some((10, 99, 100)));
        for bad in [
            "bytes 10-99/*",
            "bytes 10-100/100",
            "bytes 50-10/100",
            "bytes -5-99/100",
            "items 10-99/100",
            "bytes 10-99",
            "bytes 1 0-99/100",
        ] {
            assert_eq!(parse_content_range(bad), None, "{bad}");
        }
    }

    #[test]
    fn a_partial_answer_must_be_the_rest_of_the_same_copy() {
        let ok = headers(&[
            ("content-range", "bytes 10-99/100"),
            ("content-length", "90"),
            ("etag", "\"abc\""),
        ]);
        assert_eq!(
            check_partial(&ok, 10, 100, Some("\"abc\"")),
            Ok(Some("\"abc\"".into()))
        );
        assert!(check_partial(&ok, 11, 100, None).is_err(), "other start");
        assert!(check_partial(&ok, 10, 101, None).is_err(), "other length");
        assert!(
            check_partial(&ok, 10, 100, Some("\"xyz\"")).is_err(),
            "changed"
        );
        let no_validator = headers(&[("content-range", "bytes 10-99/100")]);
        assert_eq!(
            check_partial(&no_validator, 10, 100, Some("v")),
            Ok(Some("v".into()))
        );
        let wrong_length = headers(&[
            ("content-range", "bytes 10-99/100"),
            ("content-length", "91"),
        ]);
        assert!(check_partial(&wrong_length, 10, 100, None).is_err());
    }

    #[test]
    fn weak_etags_give_way_to_last_modified() {
        let date = "Wed, 21 Oct 2015 07:28:00 GMT";
        let weak = headers(&[("etag", "W/\"abc\""), ("last-modified", date)]);
        assert_eq!(validator_of(&weak), Some(date.to_string()));
        let strong = headers(&[("etag", "\"abc\""), ("last-modified", date)]);
        assert_eq!(validator_of(&strong), Some("\"abc\"".to_string()));
        let long = "x".repeat(MAX_VALIDATOR + 1);
        assert_eq!(validator_of(&headers(&[("etag", &long)])), None);
        assert_eq!(validator_of(&HeaderMap::new()), None);
    }
}
