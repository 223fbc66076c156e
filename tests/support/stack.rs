//! The local stack, started by its one launcher (`devstack/stack.py`) as a child process owned by
//! one test: moto (Secrets Manager, DynamoDB), the Data API stand-in over the cluster model, the
//! Slack receiver, the Lambda Runtime API harness and a Secrets Manager that misbehaves on
//! request. The binary under test reaches them only through the standard AWS endpoint variables
//! and the webhook URL in the secret.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, ChildStdin, Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

pub const BIN: &str = env!("CARGO_BIN_EXE_redshift-long-query-alert");
/// Recognisable, so that a test can prove it never leaks into any output.
pub const WEBHOOK_TOKEN: &str = "XOXTOKEN7f3a9c1e";
pub const DB_USER: &str = "monitor_u8q2";
/// The Slack app's bot token in thread-mode secrets: as recognisable, and as secret.
pub const BOT_TOKEN: &str = "xoxb-7f3a-BOTSECRET-91c2";

pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The Python that runs the stack: from the environment `scripts/test` sets, else from the
/// `.venv` it creates. A missing one fails loudly with the way to install it.
fn python() -> PathBuf {
    if let Some(path) = std::env::var_os("DEVSTACK_PYTHON") {
        return PathBuf::from(path);
    }
    let candidate = root().join(".venv/bin/python");
    assert!(
        candidate.exists(),
        "DEVSTACK_PYTHON is not set and {} does not exist: run the suite with `scripts/test`, \
         which installs the local stack into .venv (python3 -m venv .venv && .venv/bin/pip \
         install -r devstack/requirements.txt)",
        candidate.display()
    );
    candidate
}

/// The ports the launcher announced.
#[derive(Debug, Clone, Copy)]
pub struct Ports {
    pub moto: u16,
    pub dataapi: u16,
    pub slack: u16,
    pub runtime: u16,
    pub secrets: u16,
    /// DynamoDB behind the fault front (`devstack/dynamo_faults.py`).
    pub dynamo: u16,
}

/// A running stack; dropping it closes the launcher's stdin, which stops it (and kills it if it
/// lingers), even when the test panics.
pub struct Stack {
    pub ports: Ports,
    child: Child,
    stdin: Option<ChildStdin>,
}

impl Drop for Stack {
    fn drop(&mut self) {
        drop(self.stdin.take());
        let started = Instant::now();
        while started.elapsed() < Duration::from_secs(5) {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A tiny HTTP/1.1 client (one request per connection), enough for the control APIs and moto;
/// keeps the tests free of another HTTP stack.
pub fn http(
    method: &str,
    port: u16,
    path: &str,
    headers: &[(&str, &str)],
    body: Option<&str>,
) -> Option<(u16, String)> {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).ok()?;
    stream
        .set_read_timeout(Some(Duration::from_secs(120)))
        .ok()?;
    let body = body.unwrap_or("");
    let mut request = format!(
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (name, value) in headers {
        request.push_str(&format!("{name}: {value}\r\n"));
    }
    request.push_str("\r\n");
    request.push_str(body);
    stream.write_all(request.as_bytes()).ok()?;
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).ok()?;
    let text = String::from_utf8_lossy(&raw);
    let (head, rest) = text.split_once("\r\n\r\n")?;
    let status = head.split_whitespace().nth(1)?.parse().ok()?;
    Some((status, rest.to_owned()))
}

/// A control call that must succeed; answers its JSON.
pub fn control(port: u16, method: &str, path: &str, body: Option<&Value>) -> Value {
    let body = body.map(Value::to_string);
    let (status, text) = http(method, port, path, &[], body.as_deref())
        .unwrap_or_else(|| panic!("port {port} did not answer {method} {path}"));
    assert!(status < 300, "{method} {path}: HTTP {status} {text}");
    if text.trim().is_empty() {
        Value::Null
    } else {
        serde_json::from_str(&text).unwrap_or(Value::String(text))
    }
}

impl Stack {
    pub fn start() -> Stack {
        let mut child = Command::new(python())
            .arg(root().join("devstack/stack.py"))
            .args(["--quiet", "--exit-on-stdin-eof"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start devstack/stack.py: {e}"));
        let stdin = child.stdin.take();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let ports: Value = line
            .trim()
            .strip_prefix("READY ")
            .and_then(|p| serde_json::from_str(p).ok())
            .unwrap_or_else(|| panic!("devstack/stack.py did not announce READY: {line:?}"));
        let port = |name: &str| ports[name].as_u64().unwrap() as u16;
        Stack {
            ports: Ports {
                moto: port("moto"),
                dataapi: port("dataapi"),
                slack: port("slack"),
                runtime: port("runtime"),
                secrets: port("secrets"),
                dynamo: port("dynamo"),
            },
            child,
            stdin,
        }
    }

    /// A fresh stack with a valid secret stored under `secret_id`.
    pub fn with_secret(secret_id: &str) -> Stack {
        let stack = Stack::start();
        stack.put_secret(secret_id, &stack.valid_secret());
        stack
    }

    pub fn url(port: u16) -> String {
        format!("http://127.0.0.1:{port}")
    }

    pub fn webhook_url(&self) -> String {
        format!(
            "{}/services/T0001/B0001/{WEBHOOK_TOKEN}",
            Stack::url(self.ports.slack)
        )
    }

    /// A secret following the contract, pointing at this stack's Slack receiver.
    pub fn valid_secret(&self) -> Value {
        json!({
            "slack_webhook_url": self.webhook_url(),
            "cluster_identifier": "analytics-test",
            "database": "dev",
            "db_user": DB_USER,
        })
    }

    /// Calls moto's Secrets Manager. moto routes by the service named in the credential scope,
    /// so the request carries an (unchecked) SigV4 header.
    pub fn secrets_manager(&self, operation: &str, body: &Value) -> Value {
        let target = format!("secretsmanager.{operation}");
        let (status, answer) = http(
            "POST",
            self.ports.moto,
            "/",
            &[
                ("X-Amz-Target", &target),
                ("Content-Type", "application/x-amz-json-1.1"),
                (
                    "Authorization",
                    "AWS4-HMAC-SHA256 Credential=testing/20261128/us-east-1/secretsmanager/aws4_request, SignedHeaders=host, Signature=0",
                ),
            ],
            Some(&body.to_string()),
        )
        .expect("moto answers");
        assert_eq!(status, 200, "{operation}: {answer}");
        serde_json::from_str(&answer).unwrap_or(Value::Null)
    }

    /// Creates a secret in moto with any text.
    pub fn put_secret_text(&self, name: &str, text: &str) {
        self.secrets_manager("CreateSecret", &json!({"Name": name, "SecretString": text}));
    }

    pub fn put_secret(&self, name: &str, secret: &Value) {
        self.put_secret_text(name, &secret.to_string());
    }

    /// Faults per secret id on the misbehaving Secrets Manager (`devstack/secrets.py`); reach it
    /// through [`Stack::faulty_secrets_env`].
    pub fn script_secret_faults(&self, faults: Value) {
        control(
            self.ports.secrets,
            "POST",
            "/_control/script",
            Some(&json!({ "faults": faults })),
        );
    }

    /// The environment with Secrets Manager behind the fault stand-in.
    pub fn faulty_secrets_env(&self) -> Vec<(String, String)> {
        with_var(
            self.env(),
            "AWS_ENDPOINT_URL_SECRETS_MANAGER",
            &Stack::url(self.ports.secrets),
        )
    }

    /// Loads a cluster scenario into the local Redshift (see [`super::cluster`]).
    pub fn load_cluster(&self, scenario: Value) -> Value {
        control(
            self.ports.dataapi,
            "POST",
            "/_control/cluster",
            Some(&scenario),
        )
    }

    /// The cluster model as it stands (queries in flight, history, sessions).
    pub fn load_cluster_state(&self) -> Value {
        control(self.ports.dataapi, "GET", "/_control/cluster", None)
    }

    pub fn advance_clock(&self, seconds: f64) -> Value {
        control(
            self.ports.dataapi,
            "POST",
            "/_control/clock",
            Some(&json!({ "advance_seconds": seconds })),
        )
    }

    pub fn end_query(&self, pid: i64, outcome: &str) -> Value {
        control(
            self.ports.dataapi,
            "POST",
            "/_control/queries/end",
            Some(&json!({"pid": pid, "outcome": outcome})),
        )
    }

    /// Scripts the Data API stand-in for the next statements (faults, delays, pages; see
    /// devstack/README.md). Without `columns`/`rows` the statements still run on the cluster.
    pub fn script_data_api(&self, script: Value) {
        control(
            self.ports.dataapi,
            "POST",
            "/_control/script",
            Some(&script),
        );
    }

    /// Rows no SQL could produce (malformed cells), in the statement's columns: the one use of
    /// the stand-in's replay mode. `rows` is JSON text, so a test can write escapes (a lone
    /// surrogate) that no Rust string can hold.
    pub fn script_result_rows(&self, rows_json: &str) {
        let columns = r#"[{"name":"user_name","type":"name"},{"name":"pid","type":"int4"},
            {"name":"query_id","type":"int4"},{"name":"start_time","type":"timestamp"},
            {"name":"elapsed_minutes","type":"int8"},{"name":"query_text","type":"varchar"},
            {"name":"text_truncated","type":"bool"},{"name":"past_threshold_total","type":"int8"}]"#;
        let body = format!(r#"{{"columns": {columns}, "rows": {rows_json}}}"#);
        let (status, answer) = http(
            "POST",
            self.ports.dataapi,
            "/_control/script",
            &[],
            Some(&body),
        )
        .expect("the Data API stand-in answers");
        assert!(status < 300, "script: HTTP {status} {answer}");
    }

    pub fn data_api_calls(&self) -> Vec<Value> {
        control(self.ports.dataapi, "GET", "/_control/calls", None)
            .as_array()
            .cloned()
            .unwrap_or_default()
    }

    pub fn calls_of(&self, operation: &str) -> Vec<Value> {
        self.data_api_calls()
            .into_iter()
            .filter(|c| c["operation"] == operation)
            .collect()
    }

    pub fn script_slack(&self, responses: Value) {
        control(
            self.ports.slack,
            "POST",
            "/_control/script",
            Some(&json!({ "responses": responses })),
        );
    }

    /// Payloads Slack accepted (answered 200), in order.
    pub fn slack_received(&self) -> Vec<Value> {
        control(self.ports.slack, "GET", "/_control/received", None)
            .as_array()
            .cloned()
            .unwrap_or_default()
            .into_iter()
            .map(|r| r["payload"].clone())
            .collect()
    }

    pub fn slack_attempts(&self) -> Vec<Value> {
        control(self.ports.slack, "GET", "/_control/attempts", None)
            .as_array()
            .cloned()
            .unwrap_or_default()
    }

    /// The environment the function gets: fake credentials, a region, and the endpoints.
    pub fn env(&self) -> Vec<(String, String)> {
        [
            ("AWS_ACCESS_KEY_ID", "testing".to_owned()),
            ("AWS_SECRET_ACCESS_KEY", "testing".to_owned()),
            ("AWS_REGION", "us-east-1".to_owned()),
            ("AWS_EC2_METADATA_DISABLED", "true".to_owned()),
            (
                "AWS_ENDPOINT_URL_SECRETS_MANAGER",
                Stack::url(self.ports.moto),
            ),
            (
                "AWS_ENDPOINT_URL_REDSHIFT_DATA",
                Stack::url(self.ports.dataapi),
            ),
            ("AWS_ENDPOINT_URL_DYNAMODB", Stack::url(self.ports.moto)),
            ("RUST_LOG", "info".to_owned()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect()
    }

    /// Runs `redshift-long-query-alert <args>` with the stack's environment.
    pub fn run_cli(&self, args: &[&str], extra_env: &[(&str, &str)]) -> CliRun {
        self.run_cli_with(self.env(), args, extra_env)
    }

    /// Runs the CLI with the given base environment.
    pub fn run_cli_with(
        &self,
        env: Vec<(String, String)>,
        args: &[&str],
        extra_env: &[(&str, &str)],
    ) -> CliRun {
        let started = Instant::now();
        let output = Command::new(BIN)
            .args(args)
            .env_clear()
            .envs(env)
            .envs(extra_env.iter().copied())
            .stdin(Stdio::null())
            .output()
            .expect("the binary runs");
        CliRun {
            output,
            elapsed: started.elapsed(),
        }
    }
}

pub struct CliRun {
    pub output: Output,
    pub elapsed: Duration,
}

impl CliRun {
    pub fn stdout(&self) -> String {
        String::from_utf8_lossy(&self.output.stdout).into_owned()
    }
    pub fn stderr(&self) -> String {
        String::from_utf8_lossy(&self.output.stderr).into_owned()
    }
    pub fn summary(&self) -> Value {
        assert!(
            self.output.status.success(),
            "the check failed: {}\n{}",
            self.stderr(),
            self.stdout()
        );
        serde_json::from_str(&self.stdout()).expect("stdout is the JSON summary")
    }
    pub fn all_output(&self) -> String {
        format!("{}{}", self.stdout(), self.stderr())
    }
}

/// The events in `events/`, so the samples are exercised by the tests.
pub fn event_file(name: &str) -> Value {
    let path = root().join("events").join(name);
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    serde_json::from_str(&text).unwrap()
}

/// The entry of `pid` in a summary's `queries`; fails the test when it is not there.
pub fn summary_query(summary: &Value, pid: i64) -> &Value {
    summary["queries"]
        .as_array()
        .unwrap()
        .iter()
        .find(|q| q["pid"] == pid)
        .unwrap_or_else(|| panic!("pid {pid} not reported: {summary}"))
}

/// `env` with `key` set to `value` (in place, so the order stays).
pub fn with_var(mut env: Vec<(String, String)>, key: &str, value: &str) -> Vec<(String, String)> {
    match env.iter_mut().find(|(k, _)| k == key) {
        Some((_, v)) => *v = value.to_owned(),
        None => env.push((key.to_owned(), value.to_owned())),
    }
    env
}

/// Asserts that no secret value reached `text`.
pub fn assert_no_secret(text: &str) {
    for needle in [
        WEBHOOK_TOKEN,
        "/services/T0001",
        DB_USER,
        BOT_TOKEN,
        "BOTSECRET",
    ] {
        assert!(
            !text.contains(needle),
            "secret value {needle:?} leaked into:\n{text}"
        );
    }
}
