//! Values that are credentials, or may hold one: they never print themselves, and text from
//! outside is masked with them before it is shown.

use std::fmt;

/// A value that must never be printed: `Debug` and `Display` show a fixed placeholder.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret<T>(T);

impl<T> Secret<T> {
    pub fn new(value: T) -> Self {
        Secret(value)
    }

    /// The value, for the one place that needs it (a request header or URL).
    pub fn expose(&self) -> &T {
        &self.0
    }
}

impl<T> fmt::Debug for Secret<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

impl<T> fmt::Display for Secret<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

/// A URL that is itself a credential (a Slack webhook, or an API base a token is sent to):
/// whoever has a webhook URL can post to the channel, so `Debug` and `Display` show the host
/// alone. Only `https` is accepted, and plain `http` on a loopback host (the local stand-ins):
/// a credential must never cross an open network in clear text.
#[derive(Clone, PartialEq, Eq)]
pub struct SecretUrl(url::Url);

/// Why a URL was refused (the value itself is never repeated).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum UrlProblem {
    #[error("it is not an absolute http(s) URL")]
    NotAUrl,
    #[error("it must use https (plain http is only accepted for a loopback test receiver)")]
    NotHttps,
}

impl SecretUrl {
    pub fn parse(raw: &str) -> Result<Self, UrlProblem> {
        let url = url::Url::parse(raw.trim()).map_err(|_| UrlProblem::NotAUrl)?;
        if url.host_str().is_none_or(str::is_empty) {
            return Err(UrlProblem::NotAUrl);
        }
        match url.scheme() {
            "https" => Ok(SecretUrl(url)),
            "http" if is_loopback(&url) => Ok(SecretUrl(url)),
            "http" => Err(UrlProblem::NotHttps),
            _ => Err(UrlProblem::NotAUrl),
        }
    }

    /// The full URL, for the one place that needs it: the request.
    pub fn expose(&self) -> &url::Url {
        &self.0
    }

    /// The host alone, safe to log.
    pub fn host(&self) -> &str {
        self.0.host_str().unwrap_or("")
    }

    /// `self` with `segment` appended to its path (an API method under a base URL).
    pub fn with_segment(&self, segment: &str) -> SecretUrl {
        let mut url = self.0.clone();
        if let Ok(mut path) = url.path_segments_mut() {
            path.pop_if_empty().push(segment);
        }
        SecretUrl(url)
    }
}

fn is_loopback(url: &url::Url) -> bool {
    match url.host() {
        Some(url::Host::Domain(name)) => name.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    }
}

impl fmt::Debug for SecretUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SecretUrl(<redacted> on {})", self.host())
    }
}

impl fmt::Display for SecretUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "<url on {}>", self.host())
    }
}

/// How a run reaches Slack.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SlackAccess {
    /// An incoming webhook: one channel, post only.
    Webhook(SecretUrl),
    /// A Slack app's bot token and the channel it posts to: post, update and reply in threads.
    /// A secret may give a webhook as well, used by the modes that only post.
    WebApi {
        token: Secret<String>,
        channel: ChannelId,
        webhook: Option<SecretUrl>,
    },
}

impl SlackAccess {
    /// The webhook, when the secret gives one.
    pub fn webhook(&self) -> Option<&SecretUrl> {
        match self {
            SlackAccess::Webhook(url) => Some(url),
            SlackAccess::WebApi { webhook, .. } => webhook.as_ref(),
        }
    }
}

/// What the Cancel button needs from the secret: Slack's signing secret (every click is checked
/// against it), who may cancel, and the separate database identity that cancels.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Interactivity {
    pub signing_secret: Secret<String>,
    /// Slack user ids (`U…`, `W…`) allowed to cancel any query.
    pub allowed_users: std::collections::BTreeSet<String>,
    /// A query's owner (the Slack user its database user is mentioned as) may cancel it too.
    pub allow_owner: bool,
    /// `None`: no cancel identity, so no button.
    pub cancel_auth: Option<super::DbAuth>,
}

impl Interactivity {
    /// Whether a button can be offered at all.
    pub fn can_cancel(&self) -> bool {
        self.cancel_auth.is_some()
    }
}

/// A Slack channel id (`C…`, `G…` for a private channel): the Web API posts by id, and an id is
/// checked to be one so that a channel *name* in the secret is refused with a hint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChannelId(String);

impl ChannelId {
    pub const EXPECTED: &'static str =
        "a Slack channel id such as \"C0123ABCDEF\" (in Slack: channel details, at the bottom)";

    pub fn parse(text: &str) -> Option<ChannelId> {
        let text = text.trim();
        let valid = (2..=32).contains(&text.len())
            && text.starts_with(['C', 'G', 'D'])
            && text
                .chars()
                .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit());
        valid.then(|| ChannelId(text.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Masks known credential values in text that came from outside (an error message, a response
/// body) before it reaches a message, a log or a Lambda response: services sometimes echo what
/// they were sent.
#[derive(Debug, Clone, Default)]
pub struct Masker {
    needles: Vec<Secret<String>>,
}

impl Masker {
    /// Values shorter than this are not masked: masking "a" would garble every message, and a
    /// value that short is no secret anyway.
    const MIN_LEN: usize = 4;

    pub fn new(values: impl IntoIterator<Item = String>) -> Self {
        let mut needles: Vec<String> = values
            .into_iter()
            .filter(|v| v.chars().count() >= Self::MIN_LEN)
            .collect();
        // Longest first, so a URL is masked whole before its path or token would be.
        needles.sort_by_key(|n| std::cmp::Reverse(n.len()));
        needles.dedup();
        Masker {
            needles: needles.into_iter().map(Secret::new).collect(),
        }
    }

    pub fn mask(&self, text: &str) -> String {
        let mut out = text.to_owned();
        for needle in &self.needles {
            if out.contains(needle.expose().as_str()) {
                out = out.replace(needle.expose().as_str(), "<redacted>");
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_must_be_https_except_on_loopback_and_never_print_their_path() {
        for bad in [
            "http://hooks.slack.com/services/SECRETTOKEN123",
            "ftp://hooks.slack.com/SECRETTOKEN123",
            "hooks.slack.com/services/SECRETTOKEN123",
            "not a url SECRETTOKEN123",
            "http://10.0.0.1/SECRETTOKEN123",
        ] {
            assert!(SecretUrl::parse(bad).is_err(), "{bad}");
        }
        for good in [
            "http://127.0.0.1:8080/services/x",
            "http://localhost:1/x",
            "http://[::1]:9/x",
            "https://hooks.slack.com/services/a/b/c",
        ] {
            assert!(SecretUrl::parse(good).is_ok(), "{good}");
        }
        let url = SecretUrl::parse("https://hooks.slack.com/services/T/B/SECRETTOKEN123").unwrap();
        let shown = format!("{url} {url:?}");
        assert!(
            !shown.contains("SECRETTOKEN123") && !shown.contains("/services"),
            "{shown}"
        );
        assert!(shown.contains("hooks.slack.com"));
        let api = SecretUrl::parse("https://slack.com/api").unwrap();
        assert_eq!(
            api.with_segment("chat.postMessage").expose().as_str(),
            "https://slack.com/api/chat.postMessage"
        );
    }

    #[test]
    fn the_masker_hides_every_known_value() {
        let m = Masker::new([
            "https://hooks.slack.com/services/T/B/TOKEN1234".to_owned(),
            "TOKEN1234".to_owned(),
            "ab".to_owned(),
        ]);
        let text = m.mask("got https://hooks.slack.com/services/T/B/TOKEN1234 and TOKEN1234, ab");
        assert_eq!(text, "got <redacted> and <redacted>, ab");
    }
}
