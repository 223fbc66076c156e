//! The secret's JSON contract, its validation, and a bounded cache across warm invocations.
//!
//! The secret (a `SecretString` holding a JSON object) carries:
//! - `slack_webhook_url` (required): the Slack incoming webhook, itself a credential;
//! - exactly one of `cluster_identifier` (a provisioned cluster) or `workgroup_name` (Redshift
//!   Serverless), and `database` (required): where to run the statement;
//! - for a cluster, exactly one of `db_user` (temporary credentials through
//!   `redshift:GetClusterCredentials`) or `redshift_secret_arn` (database credentials kept in
//!   another secret); for a workgroup, `redshift_secret_arn` or neither (the caller's IAM
//!   identity) — `db_user` does not exist in Serverless;
//! - optionally the alerting rules of [`crate::rules`]: `mention`, `user_mentions`,
//!   `exclude_users`, `user_thresholds`.
//!
//! Any other key is ignored. No error, log line or `Debug` output of this module ever contains
//! a value read from the secret: parse errors say the line and column, key errors say the key.

use std::collections::HashMap;
use std::fmt;
use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use aws_sdk_secretsmanager::error::ProvideErrorMetadata;
use serde_json::{Map, Value};
use tokio::sync::Mutex;

use crate::rules::AlertRules;

/// How long a warm container trusts its copy of the secret: a scheduled function does not pay
/// a Secrets Manager call on every run, and a rotated webhook is picked up within minutes.
pub const DEFAULT_CACHE_TTL: Duration = Duration::from_secs(5 * 60);

/// Everything the secret tells a run.
#[derive(Clone, PartialEq, Eq)]
pub struct SecretConfig {
    pub webhook: WebhookUrl,
    pub target: Target,
    pub database: String,
    pub auth: DbAuth,
    pub rules: AlertRules,
}

/// Where the statement runs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Target {
    /// A provisioned cluster, by identifier.
    Cluster(String),
    /// A Redshift Serverless workgroup, by name.
    Workgroup(String),
}

impl Target {
    pub fn name(&self) -> &str {
        match self {
            Target::Cluster(name) | Target::Workgroup(name) => name,
        }
    }

    /// "cluster" or "workgroup", for messages.
    pub fn kind(&self) -> &'static str {
        match self {
            Target::Cluster(_) => "cluster",
            Target::Workgroup(_) => "workgroup",
        }
    }
}

impl fmt::Debug for SecretConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SecretConfig")
            .field("webhook", &self.webhook)
            .field("target", &self.target.kind())
            .field("database", &"<redacted>")
            .field("auth", &self.auth)
            .field("rules", &self.rules)
            .finish()
    }
}

/// How the Data API authenticates to the database.
#[derive(Clone, PartialEq, Eq)]
pub enum DbAuth {
    /// Temporary credentials for this database user (`redshift:GetClusterCredentials`).
    DbUser(String),
    /// Database credentials stored in another Secrets Manager secret.
    SecretArn(String),
    /// Neither: the Data API maps the caller's IAM identity to a database user (Serverless).
    IamIdentity,
}

impl fmt::Debug for DbAuth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DbAuth::DbUser(_) => f.write_str("DbUser(<redacted>)"),
            DbAuth::SecretArn(_) => f.write_str("SecretArn(<redacted>)"),
            DbAuth::IamIdentity => f.write_str("IamIdentity"),
        }
    }
}

/// The Slack webhook URL. Whoever has it can post to the channel, so neither `Debug` nor
/// `Display` shows more than its host.
#[derive(Clone, PartialEq, Eq)]
pub struct WebhookUrl(reqwest::Url);

impl WebhookUrl {
    /// Accepts `https` URLs, and plain `http` only on a loopback host (the local test stack):
    /// a webhook over the open internet in clear text would leak the credential.
    pub fn parse(raw: &str) -> Result<Self, WebhookUrlProblem> {
        let url = reqwest::Url::parse(raw.trim()).map_err(|_| WebhookUrlProblem::NotAUrl)?;
        match url.scheme() {
            "https" => {}
            "http" if is_loopback(&url) => {}
            "http" => return Err(WebhookUrlProblem::NotHttps),
            _ => return Err(WebhookUrlProblem::NotAUrl),
        }
        if url.host_str().is_none_or(str::is_empty) {
            return Err(WebhookUrlProblem::NotAUrl);
        }
        Ok(WebhookUrl(url))
    }

    /// The full URL, for the one place that needs it: the HTTP request.
    pub fn expose(&self) -> &reqwest::Url {
        &self.0
    }

    /// The host alone, safe to log.
    pub fn host(&self) -> &str {
        self.0.host_str().unwrap_or("")
    }
}

fn is_loopback(url: &reqwest::Url) -> bool {
    match url.host() {
        Some(url::Host::Domain(name)) => name.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    }
}

impl fmt::Debug for WebhookUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "WebhookUrl(<redacted> on {})", self.host())
    }
}

impl fmt::Display for WebhookUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "<webhook on {}>", self.host())
    }
}

/// Why a `slack_webhook_url` value was refused (the value itself is never repeated).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum WebhookUrlProblem {
    #[error("it is not an absolute http(s) URL")]
    NotAUrl,
    #[error("it must use https (plain http is only accepted for a loopback test receiver)")]
    NotHttps,
}

/// A secret that could not be read or does not follow the contract.
#[derive(Debug, thiserror::Error)]
pub enum SecretError {
    #[error("secret `{secret_id}` was not found: check SECRET_ID (name or ARN) and the region")]
    NotFound { secret_id: String },
    #[error(
        "not allowed to read secret `{secret_id}`: the function's role needs \
         secretsmanager:GetSecretValue on it (and kms:Decrypt when it uses a customer-managed key)"
    )]
    AccessDenied { secret_id: String },
    #[error("could not read secret `{secret_id}` from Secrets Manager: {detail}")]
    Unavailable { secret_id: String, detail: String },
    #[error("secret `{secret_id}` has no SecretString: store the settings as JSON text")]
    NoSecretString { secret_id: String },
    #[error(
        "secret `{secret_id}` is not valid JSON ({problem} at line {line}, column {column}): \
         store a JSON object with slack_webhook_url, cluster_identifier, database and \
         db_user or redshift_secret_arn"
    )]
    NotJson {
        secret_id: String,
        problem: &'static str,
        line: usize,
        column: usize,
    },
    #[error("secret `{secret_id}` must hold a JSON object, not {found}")]
    NotObject {
        secret_id: String,
        found: &'static str,
    },
    #[error("secret `{secret_id}` lacks the required key `{key}`")]
    MissingKey {
        secret_id: String,
        key: &'static str,
    },
    #[error("secret `{secret_id}`: key `{key}` must be {expected}")]
    WrongType {
        secret_id: String,
        key: &'static str,
        expected: &'static str,
    },
    #[error(
        "secret `{secret_id}` has both `db_user` and `redshift_secret_arn`: keep exactly one \
         (db_user for temporary credentials, redshift_secret_arn for stored credentials)"
    )]
    BothAuthKeys { secret_id: String },
    #[error(
        "secret `{secret_id}` needs exactly one of `cluster_identifier` (a provisioned cluster) \
         or `workgroup_name` (Redshift Serverless), {found}"
    )]
    Target {
        secret_id: String,
        found: &'static str,
    },
    #[error(
        "secret `{secret_id}`: `db_user` is not valid with `workgroup_name` (Redshift Serverless \
         has no temporary database-user credentials): use `redshift_secret_arn`, or neither to \
         connect as the function's IAM identity"
    )]
    DbUserWithWorkgroup { secret_id: String },
    #[error("secret `{secret_id}`: key `{key}` must be {expected}")]
    BadRule {
        secret_id: String,
        key: &'static str,
        expected: &'static str,
    },
    #[error(
        "secret `{secret_id}` has neither `db_user` nor `redshift_secret_arn`: add exactly one"
    )]
    NoAuthKey { secret_id: String },
    #[error("secret `{secret_id}`: key `slack_webhook_url` is not usable: {problem}")]
    BadWebhook {
        secret_id: String,
        problem: WebhookUrlProblem,
    },
}

/// Parses and validates the secret's JSON text.
pub fn parse_secret(secret_id: &str, text: &str) -> Result<SecretConfig, SecretError> {
    let id = || secret_id.to_owned();
    // Parse to an untyped value first: serde's typed errors quote the offending value, syntax
    // errors only say where they are.
    let value: Value = serde_json::from_str(text).map_err(|e| SecretError::NotJson {
        secret_id: id(),
        problem: match e.classify() {
            serde_json::error::Category::Eof => "it ends too early",
            _ => "syntax error",
        },
        line: e.line(),
        column: e.column(),
    })?;
    let map = match value {
        Value::Object(map) => map,
        other => {
            return Err(SecretError::NotObject {
                secret_id: id(),
                found: match other {
                    Value::Array(_) => "an array",
                    Value::String(_) => "a string",
                    Value::Number(_) => "a number",
                    Value::Bool(_) => "a boolean",
                    _ => "null",
                },
            })
        }
    };

    let webhook_text = required_string(&map, secret_id, "slack_webhook_url")?;
    let webhook = WebhookUrl::parse(&webhook_text).map_err(|problem| SecretError::BadWebhook {
        secret_id: id(),
        problem,
    })?;
    let cluster = optional_string(&map, secret_id, "cluster_identifier")?;
    let workgroup = optional_string(&map, secret_id, "workgroup_name")?;
    let target = match (cluster, workgroup) {
        (Some(cluster), None) => Target::Cluster(cluster),
        (None, Some(workgroup)) => Target::Workgroup(workgroup),
        (Some(_), Some(_)) => {
            return Err(SecretError::Target {
                secret_id: id(),
                found: "not both",
            })
        }
        (None, None) => {
            return Err(SecretError::Target {
                secret_id: id(),
                found: "and has neither",
            })
        }
    };
    let database = required_string(&map, secret_id, "database")?;
    let db_user = optional_string(&map, secret_id, "db_user")?;
    let secret_arn = optional_string(&map, secret_id, "redshift_secret_arn")?;
    let auth = match (&target, db_user, secret_arn) {
        (_, Some(_), Some(_)) => return Err(SecretError::BothAuthKeys { secret_id: id() }),
        (Target::Workgroup(_), Some(_), None) => {
            return Err(SecretError::DbUserWithWorkgroup { secret_id: id() })
        }
        (_, None, Some(arn)) => DbAuth::SecretArn(arn),
        (Target::Cluster(_), Some(user), None) => DbAuth::DbUser(user),
        (Target::Cluster(_), None, None) => return Err(SecretError::NoAuthKey { secret_id: id() }),
        (Target::Workgroup(_), None, None) => DbAuth::IamIdentity,
    };
    let rules = AlertRules::default()
        .overlay(&map)
        .map_err(|p| SecretError::BadRule {
            secret_id: id(),
            key: p.key,
            expected: p.expected,
        })?;
    Ok(SecretConfig {
        webhook,
        target,
        database,
        auth,
        rules,
    })
}

fn required_string(
    map: &Map<String, Value>,
    secret_id: &str,
    key: &'static str,
) -> Result<String, SecretError> {
    optional_string(map, secret_id, key)?.ok_or_else(|| SecretError::MissingKey {
        secret_id: secret_id.to_owned(),
        key,
    })
}

/// A key that is absent or `null` is "not given"; an empty string or another type is an error.
fn optional_string(
    map: &Map<String, Value>,
    secret_id: &str,
    key: &'static str,
) -> Result<Option<String>, SecretError> {
    match map.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if !s.trim().is_empty() => Ok(Some(s.trim().to_owned())),
        Some(_) => Err(SecretError::WrongType {
            secret_id: secret_id.to_owned(),
            key,
            expected: "a non-empty string",
        }),
    }
}

/// Reads and validates the secret from Secrets Manager.
pub async fn fetch_secret(
    client: &aws_sdk_secretsmanager::Client,
    secret_id: &str,
) -> Result<SecretConfig, SecretError> {
    let output = client
        .get_secret_value()
        .secret_id(secret_id)
        .send()
        .await
        .map_err(|err| {
            let secret_id = secret_id.to_owned();
            let not_found = err
                .as_service_error()
                .is_some_and(|e| e.is_resource_not_found_exception());
            match err.code() {
                _ if not_found => SecretError::NotFound { secret_id },
                Some("ResourceNotFoundException") => SecretError::NotFound { secret_id },
                Some("AccessDeniedException") => SecretError::AccessDenied { secret_id },
                _ => SecretError::Unavailable {
                    secret_id,
                    detail: aws_sdk_secretsmanager::error::DisplayErrorContext(&err).to_string(),
                },
            }
        })?;
    let text = output
        .secret_string()
        .ok_or_else(|| SecretError::NoSecretString {
            secret_id: secret_id.to_owned(),
        })?;
    parse_secret(secret_id, text)
}

/// Secrets read by this process, each kept for a bounded time.
///
/// Held by the long-lived application state, so a warm Lambda container reuses it; failures are
/// never cached, so a fixed secret takes effect on the next run.
pub struct SecretCache {
    ttl: Duration,
    entries: Mutex<HashMap<String, (Instant, Arc<SecretConfig>)>>,
}

impl SecretCache {
    pub fn new(ttl: Duration) -> Self {
        SecretCache {
            ttl,
            entries: Mutex::new(HashMap::new()),
        }
    }

    /// The cached secret when it is fresh, otherwise what `fetch` returns (then cached).
    pub async fn get_or_fetch<F, Fut>(
        &self,
        secret_id: &str,
        fetch: F,
    ) -> Result<Arc<SecretConfig>, SecretError>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<SecretConfig, SecretError>>,
    {
        let mut entries = self.entries.lock().await;
        if let Some((read_at, config)) = entries.get(secret_id) {
            if read_at.elapsed() < self.ttl {
                return Ok(Arc::clone(config));
            }
        }
        let config = match fetch().await {
            Ok(config) => Arc::new(config),
            Err(err) => {
                entries.remove(secret_id);
                return Err(err);
            }
        };
        entries.insert(secret_id.to_owned(), (Instant::now(), Arc::clone(&config)));
        Ok(config)
    }

    /// Forgets a secret, e.g. after Slack said its webhook no longer exists: the next run reads
    /// the (perhaps rotated) value again instead of failing for the rest of the TTL.
    pub async fn invalidate(&self, secret_id: &str) {
        self.entries.lock().await.remove(secret_id);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use std::sync::atomic::{AtomicUsize, Ordering};

    const HOOK: &str = "https://hooks.slack.com/services/T000/B000/SECRETTOKEN123";

    fn valid() -> Value {
        json!({
            "slack_webhook_url": HOOK,
            "cluster_identifier": "analytics",
            "database": "dev",
            "db_user": "monitor",
            "something_else": 42
        })
    }

    fn parse(value: &Value) -> Result<SecretConfig, SecretError> {
        parse_secret("prod/alert", &value.to_string())
    }

    #[test]
    fn a_valid_secret_is_read_and_extra_keys_are_ignored() {
        let config = parse(&valid()).unwrap();
        assert_eq!(config.target, Target::Cluster("analytics".into()));
        assert_eq!(config.database, "dev");
        assert_eq!(config.auth, DbAuth::DbUser("monitor".into()));
        assert_eq!(config.webhook.expose().as_str(), HOOK);
    }

    #[test]
    fn redshift_secret_arn_is_the_alternative_to_db_user() {
        let mut v = valid();
        v.as_object_mut().unwrap().remove("db_user");
        v["redshift_secret_arn"] = json!("arn:aws:secretsmanager:us-east-1:1:secret:db");
        let config = parse(&v).unwrap();
        assert!(matches!(config.auth, DbAuth::SecretArn(_)));
    }

    #[test]
    fn each_missing_required_key_is_named() {
        for key in ["slack_webhook_url", "database"] {
            let mut v = valid();
            v.as_object_mut().unwrap().remove(key);
            let err = parse(&v).unwrap_err();
            assert!(matches!(err, SecretError::MissingKey { key: k, .. } if k == key));
            assert!(err.to_string().contains(key));
            assert!(err.to_string().contains("prod/alert"));
        }
    }

    #[test]
    fn exactly_one_of_cluster_and_workgroup_is_required() {
        let mut neither = valid();
        neither
            .as_object_mut()
            .unwrap()
            .remove("cluster_identifier");
        let err = parse(&neither).unwrap_err();
        assert!(matches!(err, SecretError::Target { .. }));
        assert!(err.to_string().contains("cluster_identifier"));

        let mut both = valid();
        both["workgroup_name"] = json!("wg");
        assert!(matches!(
            parse(&both).unwrap_err(),
            SecretError::Target { .. }
        ));
    }

    #[test]
    fn a_serverless_workgroup_takes_a_secret_arn_or_the_iam_identity_but_no_db_user() {
        let mut wg = valid();
        wg.as_object_mut().unwrap().remove("cluster_identifier");
        wg["workgroup_name"] = json!("analytics-wg");
        let err = parse(&wg).unwrap_err();
        assert!(
            matches!(err, SecretError::DbUserWithWorkgroup { .. }),
            "{err}"
        );

        wg.as_object_mut().unwrap().remove("db_user");
        let config = parse(&wg).unwrap();
        assert_eq!(config.target, Target::Workgroup("analytics-wg".into()));
        assert_eq!(config.auth, DbAuth::IamIdentity);

        wg["redshift_secret_arn"] = json!("arn:aws:secretsmanager:us-east-1:1:secret:db");
        assert!(matches!(parse(&wg).unwrap().auth, DbAuth::SecretArn(_)));
    }

    #[test]
    fn alerting_rules_are_read_from_the_secret() {
        let mut v = valid();
        v["mention"] = json!("<!subteam^S0DATA>");
        v["exclude_users"] = json!(["etl"]);
        let config = parse(&v).unwrap();
        assert_eq!(config.rules.mention.unwrap().as_str(), "<!subteam^S0DATA>");
        assert!(config.rules.exclude_users.contains("etl"));

        v["mention"] = json!("@channel");
        assert!(matches!(
            parse(&v).unwrap_err(),
            SecretError::BadRule { key: "mention", .. }
        ));
    }

    #[test]
    fn wrong_types_name_the_key_without_the_value() {
        let mut v = valid();
        v["database"] = json!(["SECRETTOKEN123"]);
        let err = parse(&v).unwrap_err();
        assert!(matches!(
            err,
            SecretError::WrongType {
                key: "database",
                ..
            }
        ));
        assert!(!err.to_string().contains("SECRETTOKEN123"));

        let mut v = valid();
        v["db_user"] = json!("");
        assert!(matches!(
            parse(&v).unwrap_err(),
            SecretError::WrongType { key: "db_user", .. }
        ));
    }

    #[test]
    fn exactly_one_auth_key_is_required() {
        let mut both = valid();
        both["redshift_secret_arn"] = json!("arn:x");
        assert!(matches!(
            parse(&both).unwrap_err(),
            SecretError::BothAuthKeys { .. }
        ));
        let mut neither = valid();
        neither.as_object_mut().unwrap().remove("db_user");
        assert!(matches!(
            parse(&neither).unwrap_err(),
            SecretError::NoAuthKey { .. }
        ));
    }

    #[test]
    fn invalid_json_says_where_but_never_what() {
        let text = r#"{"slack_webhook_url": "https://hooks.slack.com/SECRETTOKEN123" "#;
        let err = parse_secret("s", text).unwrap_err();
        assert!(matches!(err, SecretError::NotJson { .. }));
        let msg = err.to_string();
        assert!(msg.contains("line 1"), "{msg}");
        assert!(
            !msg.contains("SECRETTOKEN123") && !msg.contains("hooks.slack"),
            "{msg}"
        );

        let err = parse_secret("s", "'SECRETTOKEN123'").unwrap_err();
        assert!(!err.to_string().contains("SECRETTOKEN123"));
    }

    #[test]
    fn a_json_non_object_is_refused() {
        let err = parse_secret("s", r#""SECRETTOKEN123""#).unwrap_err();
        assert!(matches!(
            err,
            SecretError::NotObject {
                found: "a string",
                ..
            }
        ));
        assert!(!err.to_string().contains("SECRETTOKEN123"));
    }

    #[test]
    fn webhook_must_be_https_except_on_loopback() {
        for bad in [
            "http://hooks.slack.com/services/SECRETTOKEN123",
            "ftp://hooks.slack.com/SECRETTOKEN123",
            "hooks.slack.com/services/SECRETTOKEN123",
            "not a url SECRETTOKEN123",
            "http://10.0.0.1/SECRETTOKEN123",
        ] {
            let mut v = valid();
            v["slack_webhook_url"] = json!(bad);
            let err = parse(&v).unwrap_err();
            assert!(matches!(err, SecretError::BadWebhook { .. }), "{bad}");
            assert!(!err.to_string().contains("SECRETTOKEN123"), "{err}");
        }
        for good in [
            "http://127.0.0.1:8080/services/x",
            "http://localhost:1/x",
            "http://[::1]:9/x",
            "https://hooks.slack.com/services/a/b/c",
        ] {
            assert!(WebhookUrl::parse(good).is_ok(), "{good}");
        }
    }

    #[test]
    fn debug_and_display_never_show_secret_values() {
        let mut v = valid();
        v["db_user"] = json!("SECRETUSER");
        let config = parse(&v).unwrap();
        let shown = format!("{config:?} {} {:?}", config.webhook, config.webhook);
        assert!(!shown.contains("SECRETTOKEN123"), "{shown}");
        assert!(!shown.contains("SECRETUSER"), "{shown}");
        assert!(!shown.contains("/services"), "{shown}");
        assert!(shown.contains("hooks.slack.com"), "{shown}");
    }

    #[tokio::test(start_paused = true)]
    async fn cache_reuses_a_fresh_secret_and_rereads_after_the_ttl() {
        let cache = SecretCache::new(Duration::from_secs(300));
        let reads = AtomicUsize::new(0);
        let fetch = || async {
            reads.fetch_add(1, Ordering::SeqCst);
            parse(&valid())
        };
        cache.get_or_fetch("prod/alert", fetch).await.unwrap();
        cache.get_or_fetch("prod/alert", fetch).await.unwrap();
        assert_eq!(reads.load(Ordering::SeqCst), 1);

        // std Instant does not follow tokio's paused clock, so expire by invalidation here and
        // by a zero TTL below.
        cache.invalidate("prod/alert").await;
        cache.get_or_fetch("prod/alert", fetch).await.unwrap();
        assert_eq!(reads.load(Ordering::SeqCst), 2);

        let no_reuse = SecretCache::new(Duration::ZERO);
        no_reuse.get_or_fetch("prod/alert", fetch).await.unwrap();
        no_reuse.get_or_fetch("prod/alert", fetch).await.unwrap();
        assert_eq!(reads.load(Ordering::SeqCst), 4);
    }

    #[tokio::test]
    async fn secrets_manager_refusals_become_named_errors() {
        use aws_sdk_secretsmanager::error::ErrorMetadata;
        use aws_sdk_secretsmanager::operation::get_secret_value::GetSecretValueError;
        use aws_sdk_secretsmanager::types::error::ResourceNotFoundException;
        use aws_sdk_secretsmanager::Client;
        use aws_smithy_mocks::{mock, mock_client};

        let denied = mock!(Client::get_secret_value).then_error(|| {
            GetSecretValueError::generic(
                ErrorMetadata::builder()
                    .code("AccessDeniedException")
                    .message("User: arn:aws:sts::1:assumed-role/r is not authorized")
                    .build(),
            )
        });
        let client = mock_client!(aws_sdk_secretsmanager, [&denied]);
        let err = fetch_secret(&client, "prod/alert").await.unwrap_err();
        assert!(matches!(err, SecretError::AccessDenied { .. }), "{err}");
        assert!(err.to_string().contains("secretsmanager:GetSecretValue"));

        let missing = mock!(Client::get_secret_value).then_error(|| {
            GetSecretValueError::ResourceNotFoundException(
                ResourceNotFoundException::builder().build(),
            )
        });
        let client = mock_client!(aws_sdk_secretsmanager, [&missing]);
        let err = fetch_secret(&client, "prod/alert").await.unwrap_err();
        assert!(matches!(err, SecretError::NotFound { .. }), "{err}");

        let binary = mock!(Client::get_secret_value).then_output(|| {
            aws_sdk_secretsmanager::operation::get_secret_value::GetSecretValueOutput::builder()
                .name("prod/alert")
                .build()
        });
        let client = mock_client!(aws_sdk_secretsmanager, [&binary]);
        let err = fetch_secret(&client, "prod/alert").await.unwrap_err();
        assert!(matches!(err, SecretError::NoSecretString { .. }), "{err}");
    }

    #[tokio::test]
    async fn cache_never_keeps_a_failure() {
        let cache = SecretCache::new(Duration::from_secs(300));
        let err = cache
            .get_or_fetch("prod/alert", || async {
                Err(SecretError::NotFound {
                    secret_id: "prod/alert".into(),
                })
            })
            .await
            .unwrap_err();
        assert!(matches!(err, SecretError::NotFound { .. }));
        let ok = cache
            .get_or_fetch("prod/alert", || async { parse(&valid()) })
            .await;
        assert!(ok.is_ok());
    }
}
