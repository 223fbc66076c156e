//! Reading a click: the Lambda Function URL's event (an HTTP request in the API Gateway v2
//! shape), then, once its signature is checked, Slack's `block_actions` payload and the button's
//! value. Nothing here is read before the signature is checked except what checking needs: the
//! two headers and the raw body.

use std::collections::BTreeMap;

use base64::Engine;
use serde_json::Value;

use super::verify::Refusal;

/// Slack's interaction payloads carry the whole message; 256 KB is far above the largest one a
/// 50-block message makes, and far below what a flood of requests could use.
pub const MAX_BODY_BYTES: usize = 256 * 1024;

/// The HTTP request the Function URL received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpRequest {
    /// Lower-cased names.
    pub headers: BTreeMap<String, String>,
    pub body: Vec<u8>,
}

/// Whether `event` is a Function URL's HTTP request (as opposed to a scheduled or hand-made
/// check event).
pub fn is_http(event: &Value) -> bool {
    event["requestContext"]["http"].is_object() && event.get("rawPath").is_some()
}

/// The request, with a base64 body decoded. Refused when the body is over the cap (checked on
/// the encoded size first, so an oversized body is never decoded).
pub fn read(event: &Value) -> Result<HttpRequest, Refusal> {
    let headers = event["headers"]
        .as_object()
        .map(|h| {
            h.iter()
                .filter_map(|(k, v)| Some((k.to_ascii_lowercase(), v.as_str()?.to_owned())))
                .collect()
        })
        .unwrap_or_default();
    let raw = event["body"].as_str().unwrap_or_default();
    let encoded = event["isBase64Encoded"].as_bool().unwrap_or(false);
    let limit = if encoded {
        MAX_BODY_BYTES.div_ceil(3) * 4
    } else {
        MAX_BODY_BYTES
    };
    if raw.len() > limit {
        return Err(Refusal::TooLarge);
    }
    let body = if encoded {
        base64::engine::general_purpose::STANDARD
            .decode(raw)
            .map_err(|_| Refusal::BadSignature)?
    } else {
        raw.as_bytes().to_vec()
    };
    if body.len() > MAX_BODY_BYTES {
        return Err(Refusal::TooLarge);
    }
    Ok(HttpRequest { headers, body })
}

impl HttpRequest {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).map(String::as_str)
    }
}

/// The action id of the Cancel button.
pub const CANCEL_ACTION: &str = "cancel_query";

/// What a click on a Cancel button asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CancelClick {
    pub slack_user: String,
    pub button: ButtonValue,
    pub channel: Option<String>,
    /// The message the button is on (the thread's parent in thread mode).
    pub message_ts: Option<String>,
    /// Where to answer the clicker, or replace the message.
    pub response_url: Option<String>,
    /// The message as Slack has it, to replace it with the button gone.
    pub message_blocks: Option<Vec<Value>>,
    /// The block the button is in.
    pub block_id: Option<String>,
}

/// What the button carries, set when the message was built: which secret names the target,
/// the session and query, and the database user (for the owner rule).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ButtonValue {
    #[serde(rename = "s")]
    pub secret_id: String,
    #[serde(rename = "p")]
    pub pid: i64,
    #[serde(rename = "q")]
    pub query_id: i64,
    /// `query_id` is `SYS_QUERY_HISTORY`'s.
    #[serde(rename = "y", default)]
    pub sys_id: bool,
    #[serde(rename = "u", default)]
    pub user: Option<String>,
}

/// Why a signed request is not a click this function handles (answered 400, nothing done).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not a Cancel click: {0}")]
pub struct Malformed(pub &'static str);

/// Reads a signed body: `payload=<url-encoded JSON>`.
pub fn parse_click(body: &[u8]) -> Result<CancelClick, Malformed> {
    let payload = url::form_urlencoded::parse(body)
        .find(|(k, _)| k == "payload")
        .map(|(_, v)| v.into_owned())
        .ok_or(Malformed("no payload field"))?;
    let payload: Value =
        serde_json::from_str(&payload).map_err(|_| Malformed("the payload is not JSON"))?;
    if payload["type"] != "block_actions" {
        return Err(Malformed("not a block action"));
    }
    let action = payload["actions"]
        .as_array()
        .and_then(|a| a.iter().find(|a| a["action_id"] == CANCEL_ACTION))
        .ok_or(Malformed("no Cancel action"))?;
    let button: ButtonValue = action["value"]
        .as_str()
        .and_then(|v| serde_json::from_str(v).ok())
        .ok_or(Malformed("the button's value is not ours"))?;
    let slack_user = payload["user"]["id"]
        .as_str()
        .filter(|u| !u.is_empty())
        .ok_or(Malformed("no user"))?
        .to_owned();
    let text = |v: &Value| v.as_str().map(str::to_owned);
    Ok(CancelClick {
        slack_user,
        button,
        channel: text(&payload["channel"]["id"])
            .or_else(|| text(&payload["container"]["channel_id"])),
        message_ts: text(&payload["container"]["message_ts"])
            .or_else(|| text(&payload["message"]["ts"])),
        response_url: text(&payload["response_url"]),
        message_blocks: payload["message"]["blocks"].as_array().cloned(),
        block_id: text(&action["block_id"]),
    })
}

/// The click's `response_url`, only when it is Slack's (`https://hooks.slack.com/...`) or a
/// loopback test receiver: the URL comes from the request, and the function must not be made to
/// POST anywhere else.
pub fn response_url(raw: &str) -> Option<crate::model::SecretUrl> {
    let url = crate::model::SecretUrl::parse(raw).ok()?;
    let slack = url.expose().scheme() == "https" && url.host() == "hooks.slack.com";
    (slack || url.expose().scheme() == "http").then_some(url)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn event(body: &str, base64: bool) -> Value {
        json!({
            "version": "2.0",
            "rawPath": "/",
            "headers": {"X-Slack-Signature": "v0=ab", "content-type": "application/x-www-form-urlencoded"},
            "requestContext": {"http": {"method": "POST"}},
            "body": body,
            "isBase64Encoded": base64
        })
    }

    #[test]
    fn the_envelope_is_read_and_a_base64_body_decoded() {
        assert!(is_http(&event("x", false)));
        assert!(!is_http(&json!({"threshold_minutes": 30})));
        let plain = read(&event("payload=1", false)).unwrap();
        assert_eq!(plain.body, b"payload=1");
        assert_eq!(plain.header("x-slack-signature"), Some("v0=ab"));
        let encoded = base64::engine::general_purpose::STANDARD.encode("payload=2");
        assert_eq!(read(&event(&encoded, true)).unwrap().body, b"payload=2");
        let huge = "x".repeat(MAX_BODY_BYTES + 1);
        assert_eq!(read(&event(&huge, false)), Err(Refusal::TooLarge));
        let huge64 = "A".repeat(MAX_BODY_BYTES.div_ceil(3) * 4 + 4);
        assert_eq!(read(&event(&huge64, true)), Err(Refusal::TooLarge));
    }

    #[test]
    fn a_click_is_read_from_the_payload() {
        let value =
            json!({"s": "prod/alert", "p": 42, "q": 4200, "y": true, "u": "alice"}).to_string();
        let payload = json!({
            "type": "block_actions",
            "user": {"id": "U0ALLOWED"},
            "channel": {"id": "C0ALERTS01"},
            "container": {"message_ts": "1764324000.000100"},
            "response_url": "https://hooks.slack.com/actions/T/1/abc",
            "message": {"ts": "1764324000.000100", "blocks": [{"type": "section"}]},
            "actions": [{"action_id": "cancel_query", "block_id": "query:1:42:4200", "value": value}]
        });
        let body: String = url::form_urlencoded::Serializer::new(String::new())
            .append_pair("payload", &payload.to_string())
            .finish();
        let click = parse_click(body.as_bytes()).unwrap();
        assert_eq!(click.slack_user, "U0ALLOWED");
        assert_eq!(
            click.button,
            ButtonValue {
                secret_id: "prod/alert".into(),
                pid: 42,
                query_id: 4200,
                sys_id: true,
                user: Some("alice".into())
            }
        );
        assert_eq!(click.message_ts.as_deref(), Some("1764324000.000100"));
        assert_eq!(click.block_id.as_deref(), Some("query:1:42:4200"));
        for bad in [
            &b"nothing"[..],
            b"payload=not-json",
            b"payload=%7B%22type%22%3A%22view_submission%22%7D",
        ] {
            assert!(parse_click(bad).is_err());
        }
    }
}
