//! Slack's request signing (v0): `HMAC-SHA256(signing secret, "v0:" + timestamp + ":" + raw
//! body)`, hex, sent as `X-Slack-Signature: v0=<hex>` beside `X-Slack-Request-Timestamp`. A
//! request is accepted only with a timestamp within five minutes of now (older ones may be
//! replays) and a signature that matches, compared in constant time.

use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

/// How far a request's timestamp may be from now, either way.
pub const MAX_SKEW_SECONDS: i64 = 300;

/// Why a request was refused. The variants are for the log line; the caller answers 401 to all.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error("no X-Slack-Signature or X-Slack-Request-Timestamp header")]
    MissingHeaders,
    #[error("the timestamp is not a number of seconds")]
    BadTimestamp,
    #[error("the timestamp is more than five minutes from now")]
    Stale,
    #[error("the signature is not `v0=` and 64 hex digits")]
    BadSignature,
    #[error("the signature does not match")]
    Forged,
    #[error("the same signed request was seen before")]
    Replayed,
    #[error("the body is larger than the cap")]
    TooLarge,
}

/// Checks one request. `now` is seconds since the epoch.
pub fn verify(
    signing_secret: &[u8],
    timestamp: Option<&str>,
    signature: Option<&str>,
    body: &[u8],
    now: i64,
) -> Result<(), Refusal> {
    let (Some(timestamp), Some(signature)) = (timestamp, signature) else {
        return Err(Refusal::MissingHeaders);
    };
    let seconds: i64 = timestamp
        .trim()
        .parse()
        .map_err(|_| Refusal::BadTimestamp)?;
    if (now - seconds).abs() > MAX_SKEW_SECONDS {
        return Err(Refusal::Stale);
    }
    let tag = signature
        .trim()
        .strip_prefix("v0=")
        .and_then(decode_hex)
        .ok_or(Refusal::BadSignature)?;
    let mut mac = Hmac::<Sha256>::new_from_slice(signing_secret).map_err(|_| Refusal::Forged)?;
    mac.update(b"v0:");
    mac.update(timestamp.trim().as_bytes());
    mac.update(b":");
    mac.update(body);
    mac.verify_slice(&tag).map_err(|_| Refusal::Forged)
}

fn decode_hex(text: &str) -> Option<Vec<u8>> {
    if text.len() != 64 {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(text.get(i..i + 2)?, 16).ok())
        .collect()
}

/// A signature for `body` at `timestamp`, as Slack computes it (for tests and tools).
pub fn sign(signing_secret: &[u8], timestamp: &str, body: &[u8]) -> String {
    let mut mac =
        Hmac::<Sha256>::new_from_slice(signing_secret).expect("HMAC takes any key length");
    mac.update(b"v0:");
    mac.update(timestamp.as_bytes());
    mac.update(b":");
    mac.update(body);
    let tag = mac.finalize().into_bytes();
    let hex: String = tag.iter().map(|b| format!("{b:02x}")).collect();
    format!("v0={hex}")
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &[u8] = b"8f742231b10e8888abcd99yyyzzz85a5";

    #[test]
    fn a_signed_request_within_five_minutes_is_accepted_and_nothing_else() {
        let body = b"payload=%7B%22type%22%3A%22block_actions%22%7D";
        let now = 1_764_324_000;
        let ts = now.to_string();
        let good = sign(SECRET, &ts, body);
        assert_eq!(verify(SECRET, Some(&ts), Some(&good), body, now), Ok(()));
        assert_eq!(
            verify(SECRET, Some(&ts), Some(&good), body, now + 299),
            Ok(())
        );
        assert_eq!(
            verify(SECRET, Some(&ts), Some(&good), body, now + 301),
            Err(Refusal::Stale)
        );
        assert_eq!(
            verify(SECRET, Some(&ts), Some(&good), body, now - 301),
            Err(Refusal::Stale),
            "from the future too"
        );
        assert_eq!(
            verify(SECRET, Some(&ts), Some(&good), b"payload=x", now),
            Err(Refusal::Forged)
        );
        assert_eq!(
            verify(b"another secret", Some(&ts), Some(&good), body, now),
            Err(Refusal::Forged)
        );
        let other_ts = (now + 1).to_string();
        assert_eq!(
            verify(SECRET, Some(&other_ts), Some(&good), body, now),
            Err(Refusal::Forged),
            "the timestamp is signed"
        );
        assert_eq!(
            verify(SECRET, Some(&ts), Some("v1=abc"), body, now),
            Err(Refusal::BadSignature)
        );
        assert_eq!(
            verify(SECRET, Some("soon"), Some(&good), body, now),
            Err(Refusal::BadTimestamp)
        );
        assert_eq!(
            verify(SECRET, None, Some(&good), body, now),
            Err(Refusal::MissingHeaders)
        );
    }
}
