//! The binary as a Lambda function: a process started the way Lambda starts it, against the
//! stack's Runtime API harness, with the logging variables Lambda sets for the template's
//! `LoggingConfig`.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use serde_json::{json, Value};

use super::stack::{control, Stack, BIN};

/// A running function process. Dropping it kills the process and removes its log.
pub struct Lambda {
    child: Child,
    runtime: u16,
    log_path: PathBuf,
}

impl Drop for Lambda {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_file(&self.log_path);
    }
}

static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

impl Stack {
    /// Starts the binary as a Lambda function under the stack's Runtime API.
    pub fn start_lambda(&self, function_env: &[(&str, &str)]) -> Lambda {
        self.start_lambda_with(self.env(), function_env)
    }

    pub fn start_lambda_with(
        &self,
        env: Vec<(String, String)>,
        function_env: &[(&str, &str)],
    ) -> Lambda {
        let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let log_path = std::env::temp_dir().join(format!(
            "rlqa-lambda-{}-{}-{n}.log",
            std::process::id(),
            self.ports.runtime
        ));
        let log = std::fs::File::create(&log_path).unwrap();
        let child = Command::new(BIN)
            .env_clear()
            .envs(env)
            .envs([
                (
                    "AWS_LAMBDA_RUNTIME_API",
                    format!("127.0.0.1:{}", self.ports.runtime),
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
            child,
            runtime: self.ports.runtime,
            log_path,
        }
    }
}

impl Lambda {
    /// Invokes once and returns the harness's answer: `{"status": "ok", "response": …}` or
    /// `{"status": "error", "error": {"errorType", "errorMessage"}}`.
    pub fn invoke(&self, event: &Value, deadline_ms: u64) -> Value {
        self.invoke_body(json!({"event": event}), deadline_ms)
    }

    /// Invokes with a body that is not JSON at all.
    pub fn invoke_raw(&self, raw_event: &str, deadline_ms: u64) -> Value {
        self.invoke_body(json!({"raw_event": raw_event}), deadline_ms)
    }

    fn invoke_body(&self, mut body: Value, deadline_ms: u64) -> Value {
        body["deadline_ms"] = json!(deadline_ms);
        body["timeout_ms"] = json!(deadline_ms + 30_000);
        control(self.runtime, "POST", "/_control/invoke", Some(&body))
    }

    /// Everything the function wrote to stdout and stderr so far.
    pub fn logs(&self) -> String {
        std::fs::read_to_string(&self.log_path).unwrap_or_default()
    }

    pub fn log_path(&self) -> &Path {
        &self.log_path
    }
}
