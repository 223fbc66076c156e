//! Thread mode's side of the stack: the Slack Web API stand-in's channel (parents, replies,
//! edits), its fault scripts, and the DynamoDB state table in moto.

use serde_json::{json, Value};

use super::stack::{control, http, with_var, Stack, BOT_TOKEN};

pub const CHANNEL: &str = "C0ALERTS01";
pub const TABLE: &str = "long-query-alert-state";

impl Stack {
    /// A stack with a thread-mode secret under `secret_id`, the state table, and a Slack
    /// workspace that knows the bot token and the channel.
    pub fn for_threads(secret_id: &str) -> Stack {
        let stack = Stack::start();
        stack.put_secret(secret_id, &stack.thread_secret());
        stack.create_state_table(TABLE);
        control(
            stack.ports.slack,
            "POST",
            "/_control/web/setup",
            Some(&json!({"tokens": [BOT_TOKEN], "channels": {CHANNEL: {"member": true}}})),
        );
        stack
    }

    /// A secret with a Slack app (bot token and channel) and no webhook.
    pub fn thread_secret(&self) -> Value {
        let mut secret = self.valid_secret();
        let map = secret.as_object_mut().unwrap();
        map.remove("slack_webhook_url");
        map.insert("slack_bot_token".into(), json!(BOT_TOKEN));
        map.insert("slack_channel".into(), json!(CHANNEL));
        secret
    }

    pub fn slack_api_url(&self) -> String {
        format!("{}/api", Stack::url(self.ports.slack))
    }

    /// The environment of a thread-mode function.
    pub fn thread_env(&self) -> Vec<(String, String)> {
        let mut env = self.env();
        env.extend(
            [
                ("ALERT_MODE", "thread".to_owned()),
                ("STATE_TABLE", TABLE.to_owned()),
                ("SLACK_API_URL", self.slack_api_url()),
            ]
            .map(|(k, v)| (k.to_owned(), v)),
        );
        env
    }

    /// Thread mode's environment with DynamoDB behind the fault front.
    pub fn faulty_dynamodb_env(&self) -> Vec<(String, String)> {
        with_var(
            self.thread_env(),
            "AWS_ENDPOINT_URL_DYNAMODB",
            &Stack::url(self.ports.dynamo),
        )
    }

    /// Faults for the DynamoDB front: `[{"operation", "error", "times", "hang_ms", "after"}]`.
    pub fn script_dynamo_faults(&self, faults: Value) {
        control(
            self.ports.dynamo,
            "POST",
            "/_control/script",
            Some(&json!({ "faults": faults })),
        );
    }

    /// Calls moto's DynamoDB (JSON 1.0; moto routes by the credential scope's service).
    pub fn dynamodb(&self, operation: &str, body: &Value) -> Value {
        let target = format!("DynamoDB_20120810.{operation}");
        let (status, answer) = http(
            "POST",
            self.ports.moto,
            "/",
            &[
                ("X-Amz-Target", &target),
                ("Content-Type", "application/x-amz-json-1.0"),
                (
                    "Authorization",
                    "AWS4-HMAC-SHA256 Credential=testing/20261128/us-east-1/dynamodb/aws4_request, SignedHeaders=host, Signature=0",
                ),
            ],
            Some(&body.to_string()),
        )
        .expect("moto answers");
        assert_eq!(status, 200, "{operation}: {answer}");
        serde_json::from_str(&answer).unwrap_or(Value::Null)
    }

    /// The table as the template creates it: `pk` + `sk`, on demand.
    pub fn create_state_table(&self, name: &str) {
        self.dynamodb(
            "CreateTable",
            &json!({
                "TableName": name,
                "KeySchema": [
                    {"AttributeName": "pk", "KeyType": "HASH"},
                    {"AttributeName": "sk", "KeyType": "RANGE"}
                ],
                "AttributeDefinitions": [
                    {"AttributeName": "pk", "AttributeType": "S"},
                    {"AttributeName": "sk", "AttributeType": "S"}
                ],
                "BillingMode": "PAY_PER_REQUEST"
            }),
        );
    }

    /// Every item of the state table, as DynamoDB JSON.
    pub fn state_items(&self) -> Vec<Value> {
        self.dynamodb("Scan", &json!({"TableName": TABLE}))["Items"]
            .as_array()
            .cloned()
            .unwrap_or_default()
    }

    /// The channel's top-level messages, each with its `replies`, as the stand-in keeps them.
    pub fn channel(&self) -> Vec<Value> {
        control(
            self.ports.slack,
            "GET",
            &format!("/_control/web/channel?id={CHANNEL}"),
            None,
        )["messages"]
            .as_array()
            .cloned()
            .unwrap_or_default()
    }

    /// Every Web API call the stand-in received, in order.
    pub fn web_calls(&self) -> Vec<Value> {
        control(self.ports.slack, "GET", "/_control/web/calls", None)
            .as_array()
            .cloned()
            .unwrap_or_default()
    }

    /// Answers for the next calls of `method` (`chat.postMessage`, `chat.update` or `*`).
    pub fn script_web(&self, method: &str, responses: Value) {
        control(
            self.ports.slack,
            "POST",
            "/_control/web/script",
            Some(&json!({"method": method, "responses": responses})),
        );
    }

    /// Deletes a message by hand, as a person in the channel would.
    pub fn delete_message(&self, ts: &str) {
        control(
            self.ports.slack,
            "POST",
            "/_control/web/delete",
            Some(&json!({"channel": CHANNEL, "ts": ts})),
        );
    }

    /// The channel as a person reads it (for failure messages).
    pub fn rendered_channel(&self) -> String {
        http(
            "GET",
            self.ports.slack,
            &format!("/_control/web/render?channel={CHANNEL}"),
            &[],
            None,
        )
        .map(|(_, text)| text)
        .unwrap_or_default()
    }
}

/// A message's `block_id`s.
pub fn block_ids(message: &Value) -> Vec<String> {
    message["blocks"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|b| b["block_id"].as_str().map(str::to_owned))
        .collect()
}

/// The pid in a parent's `query:1:<pid>:<query id>` block.
pub fn parent_pid(message: &Value) -> Option<i64> {
    block_ids(message)
        .iter()
        .find_map(|id| id.strip_prefix("query:1:")?.split(':').next()?.parse().ok())
}

/// The header text of a message.
pub fn header(message: &Value) -> String {
    message["blocks"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|b| b["type"] == "header")
        .and_then(|b| b["text"]["text"].as_str())
        .unwrap_or_default()
        .to_owned()
}

/// The `ended:<outcome>` or `critical` block ids of a thread's replies, in order.
pub fn reply_kinds(message: &Value) -> Vec<String> {
    message["replies"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|r| r["deleted"] != true)
        .flat_map(block_ids)
        .collect()
}

/// The texts of a thread's replies, in order.
pub fn reply_texts(message: &Value) -> Vec<String> {
    message["replies"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|r| r["text"].as_str().map(str::to_owned))
        .collect()
}
