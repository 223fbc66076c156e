//! The local stack for integration tests: moto (Secrets Manager), the Data API stand-in, the
//! Slack receiver and the Lambda Runtime API harness from `devstack/`, each a child process on
//! 127.0.0.1 owned by one test and stopped when it is dropped. The binary under test reaches
//! them only through the standard AWS endpoint variables and the webhook URL in the secret.
#![allow(dead_code)] // each test file uses a different part of this module

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

pub const BIN: &str = env!("CARGO_BIN_EXE_redshift-long-query-alert");
/// Recognisable, so that a test can prove it never leaks into any output.
pub const WEBHOOK_TOKEN: &str = "XOXTOKEN7f3a9c1e";
pub const DB_USER: &str = "monitor_u8q2";

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The Python that runs the stand-ins, and moto's server: from the environment that
/// `scripts/test` sets, else from the `.venv` it creates. Missing tools fail loudly.
fn tool(var: &str, venv_name: &str) -> PathBuf {
    if let Some(path) = std::env::var_os(var) {
        return PathBuf::from(path);
    }
    let candidate = root().join(".venv/bin").join(venv_name);
    if candidate.exists() {
        return candidate;
    }
    panic!(
        "{var} is not set and {} does not exist: run the suite with `scripts/test`, which \
         installs the local stack into .venv (python3 -m venv .venv && .venv/bin/pip install -r \
         devstack/requirements.txt), or set {var}",
        candidate.display()
    );
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A child process killed when dropped, even when the test panics.
pub struct Service {
    pub name: &'static str,
    pub port: u16,
    child: Child,
}

impl Drop for Service {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Service {
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Starts `devstack/<script>` and reads the `READY <port>` line it prints.
    fn devstack(name: &'static str, script: &str, extra: &[&str]) -> Service {
        let mut child = Command::new(tool("DEVSTACK_PYTHON", "python"))
            .arg(root().join("devstack").join(script))
            .args(["--port", "0", "--quiet"])
            .args(extra)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start devstack/{script}: {e}"));
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let port = line
            .trim()
            .strip_prefix("READY ")
            .and_then(|p| p.parse().ok())
            .unwrap_or_else(|| panic!("devstack/{script} did not announce READY: {line:?}"));
        Service { name, port, child }
    }

    fn moto() -> Service {
        let port = free_port();
        let child = Command::new(tool("MOTO_SERVER", "moto_server"))
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start moto_server: {e}"));
        let service = Service {
            name: "moto",
            port,
            child,
        };
        let started = Instant::now();
        while http("GET", port, "/moto-api/data.json", &[], None).map(|r| r.0) != Some(200) {
            assert!(
                started.elapsed() < Duration::from_secs(60),
                "moto_server did not come up on port {port}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        service
    }
}

/// A tiny HTTP/1.1 client (one request per connection), enough for the stand-ins' control
/// APIs and moto; keeps the tests free of another HTTP stack.
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

fn control(service: &Service, method: &str, path: &str, body: Option<&Value>) -> Value {
    let body = body.map(Value::to_string);
    let (status, text) = http(method, service.port, path, &[], body.as_deref())
        .unwrap_or_else(|| panic!("{} did not answer {method} {path}", service.name));
    assert!(
        status < 300,
        "{} {method} {path}: HTTP {status} {text}",
        service.name
    );
    if text.trim().is_empty() {
        Value::Null
    } else {
        serde_json::from_str(&text).unwrap_or(Value::String(text))
    }
}

/// moto + Data API stand-in + Slack receiver, fresh for one test.
pub struct Stack {
    pub moto: Service,
    pub data_api: Service,
    pub slack: Service,
}

/// The columns the statement returns, as the Data API would describe them.
pub fn result_columns() -> Value {
    json!([
        {"name": "user_name", "type": "name"},
        {"name": "pid", "type": "int4"},
        {"name": "query_id", "type": "int4"},
        {"name": "start_time", "type": "timestamp"},
        {"name": "elapsed_minutes", "type": "int8"},
        {"name": "query_text", "type": "varchar"},
        {"name": "text_truncated", "type": "bool"}
    ])
}

/// One result row. `text` is split into 200-byte chunks marked as the SQL aggregates them.
pub fn row(user: Option<&str>, pid: i64, elapsed: i64, text: &str) -> Value {
    let stored = text.replace('\n', "\\n");
    let mut aggregated = String::new();
    let mut rest = stored.as_str();
    while !rest.is_empty() {
        let mut end = rest.len().min(200);
        while !rest.is_char_boundary(end) {
            end -= 1;
        }
        aggregated.push('\u{1e}');
        aggregated.push_str(rest[..end].trim_end());
        rest = &rest[end..];
    }
    json!([
        user,
        pid,
        pid * 10,
        "2026-11-28 09:15:00.250000",
        elapsed,
        aggregated,
        false
    ])
}

impl Stack {
    pub fn start() -> Stack {
        // Start the slow one first; the others come up while it imports.
        let moto = Service::moto();
        Stack {
            moto,
            data_api: Service::devstack("dataapi", "dataapi.py", &[]),
            slack: Service::devstack("slack", "slack.py", &[]),
        }
    }

    /// A fresh stack with a valid secret stored under `secret_id`.
    pub fn with_secret(secret_id: &str) -> Stack {
        let stack = Stack::start();
        stack.put_secret(secret_id, &stack.valid_secret());
        stack
    }

    pub fn webhook_url(&self) -> String {
        format!("{}/services/T0001/B0001/{WEBHOOK_TOKEN}", self.slack.url())
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

    /// Creates a secret in moto with any text.
    pub fn put_secret_text(&self, name: &str, text: &str) {
        self.secrets_manager("CreateSecret", &json!({"Name": name, "SecretString": text}));
    }

    /// Calls moto's Secrets Manager. moto routes by the service named in the credential scope,
    /// so the request carries an (unchecked) SigV4 header.
    pub fn secrets_manager(&self, operation: &str, body: &Value) -> Value {
        let target = format!("secretsmanager.{operation}");
        let (status, answer) = http(
            "POST",
            self.moto.port,
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

    pub fn put_secret(&self, name: &str, secret: &Value) {
        self.put_secret_text(name, &secret.to_string());
    }

    /// Scripts the Data API stand-in for the next statements (see devstack/README.md).
    pub fn script_data_api(&self, script: Value) {
        control(&self.data_api, "POST", "/_control/script", Some(&script));
    }

    /// Rows found by the statement, finishing after `delay_ms`.
    pub fn script_rows(&self, rows: Vec<Value>, delay_ms: u64, page_size: usize) {
        self.script_data_api(json!({
            "delay_ms": delay_ms,
            "outcome": "finished",
            "columns": result_columns(),
            "rows": rows,
            "page_size": page_size,
        }));
    }

    pub fn data_api_calls(&self) -> Vec<Value> {
        control(&self.data_api, "GET", "/_control/calls", None)
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
            &self.slack,
            "POST",
            "/_control/script",
            Some(&json!({ "responses": responses })),
        );
    }

    /// Payloads Slack accepted (answered 200), in order.
    pub fn slack_received(&self) -> Vec<Value> {
        control(&self.slack, "GET", "/_control/received", None)
            .as_array()
            .cloned()
            .unwrap_or_default()
            .into_iter()
            .map(|r| r["payload"].clone())
            .collect()
    }

    pub fn slack_attempts(&self) -> Vec<Value> {
        control(&self.slack, "GET", "/_control/attempts", None)
            .as_array()
            .cloned()
            .unwrap_or_default()
    }

    /// The environment the function gets: fake credentials, a region, and the endpoints.
    pub fn env(&self) -> Vec<(String, String)> {
        [
            ("AWS_ACCESS_KEY_ID", "testing"),
            ("AWS_SECRET_ACCESS_KEY", "testing"),
            ("AWS_REGION", "us-east-1"),
            ("AWS_EC2_METADATA_DISABLED", "true"),
            ("AWS_ENDPOINT_URL_SECRETS_MANAGER", &self.moto.url()),
            ("AWS_ENDPOINT_URL_REDSHIFT_DATA", &self.data_api.url()),
            ("RUST_LOG", "info"),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
    }

    /// Runs `redshift-long-query-alert <args>` with the stack's environment.
    pub fn run_cli(&self, args: &[&str], extra_env: &[(&str, &str)]) -> CliRun {
        let started = Instant::now();
        let output = Command::new(BIN)
            .args(args)
            .env_clear()
            .envs(self.env())
            .envs(extra_env.iter().copied())
            .stdin(Stdio::null())
            .output()
            .expect("the binary runs");
        CliRun {
            output,
            elapsed: started.elapsed(),
        }
    }

    /// Starts the binary as a Lambda function under the local Runtime API.
    pub fn start_lambda(&self, function_env: &[(&str, &str)]) -> Lambda {
        let runtime = Service::devstack("runtime_api", "runtime_api.py", &[]);
        let log_path = std::env::temp_dir().join(format!(
            "rlqa-lambda-{}-{}.log",
            std::process::id(),
            runtime.port
        ));
        let log = std::fs::File::create(&log_path).unwrap();
        let child = Command::new(BIN)
            .env_clear()
            .envs(self.env())
            .envs([
                (
                    "AWS_LAMBDA_RUNTIME_API",
                    format!("127.0.0.1:{}", runtime.port),
                ),
                (
                    "AWS_LAMBDA_FUNCTION_NAME",
                    "redshift-long-query-alert".into(),
                ),
                ("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST".into()),
                ("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128".into()),
                ("AWS_LAMBDA_LOG_GROUP_NAME", "/aws/lambda/test".into()),
                ("AWS_LAMBDA_LOG_STREAM_NAME", "test".into()),
                // As Lambda sets them for the template's LoggingConfig (JSON, INFO).
                ("AWS_LAMBDA_LOG_FORMAT", "JSON".into()),
                ("AWS_LAMBDA_LOG_LEVEL", "INFO".into()),
            ])
            .envs(function_env.iter().copied())
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("the binary starts");
        Lambda {
            function: Service {
                name: "function",
                port: 0,
                child,
            },
            runtime,
            log_path,
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

/// A running function process and its Runtime API.
pub struct Lambda {
    // Field order matters: the function stops before its Runtime API does.
    pub function: Service,
    pub runtime: Service,
    log_path: PathBuf,
}

impl Lambda {
    /// Invokes once and returns the harness's answer: `{"status": "ok", "response": …}` or
    /// `{"status": "error", "error": {"errorType", "errorMessage"}}`.
    pub fn invoke(&self, event: &Value, deadline_ms: u64) -> Value {
        control(
            &self.runtime,
            "POST",
            "/_control/invoke",
            Some(
                &json!({"event": event, "deadline_ms": deadline_ms, "timeout_ms": deadline_ms + 30_000}),
            ),
        )
    }

    /// Everything the function wrote to stdout and stderr so far.
    pub fn logs(&self) -> String {
        std::fs::read_to_string(&self.log_path).unwrap_or_default()
    }

    pub fn log_path(&self) -> &Path {
        &self.log_path
    }
}

impl Drop for Lambda {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.log_path);
    }
}

/// The events in `events/`, so the samples are exercised by the tests.
pub fn event_file(name: &str) -> Value {
    let path = root().join("events").join(name);
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    serde_json::from_str(&text).unwrap()
}

/// Asserts that no secret value reached `text`.
pub fn assert_no_secret(text: &str) {
    for needle in [WEBHOOK_TOKEN, "/services/T0001", DB_USER] {
        assert!(
            !text.contains(needle),
            "secret value {needle:?} leaked into:\n{text}"
        );
    }
}

/// The pids of the queries in Slack messages, in order, one entry per appearance: read from each
/// details section's stable `block_id` (`query:<n>:<pid>:<query id>`), never from its prose.
pub fn pids_in(payloads: &[Value]) -> Vec<i64> {
    payloads
        .iter()
        .flat_map(|payload| payload["blocks"].as_array().into_iter().flatten())
        .filter_map(|block| block["block_id"].as_str()?.strip_prefix("query:"))
        .filter_map(|id| id.split(':').nth(1)?.parse().ok())
        .collect()
}

/// The text of the blocks whose `block_id` starts with `prefix`, over all payloads.
pub fn block_texts(payloads: &[Value], prefix: &str) -> Vec<String> {
    payloads
        .iter()
        .flat_map(|payload| payload["blocks"].as_array().into_iter().flatten())
        .filter(|b| {
            b["block_id"]
                .as_str()
                .is_some_and(|id| id.starts_with(prefix))
        })
        .filter_map(|b| b["text"]["text"].as_str().map(str::to_owned))
        .collect()
}
