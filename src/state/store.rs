//! The DynamoDB table of thread-mode state. Items: partition key `pk` (target and channel), sort
//! key `sk` (`<pid>#<query id>`), and the attributes of [`Tracked`]; `expires_at` is the TTL
//! attribute. Every change is a conditional write on the phase it expects, and a write that
//! finds another run got there first is not an error: it answers `false`.
//!
//! Calls used (and the only ones the function's IAM policy allows on the table): `Query`,
//! `PutItem`, `UpdateItem`, `DeleteItem`.

use std::collections::HashMap;

use aws_sdk_dynamodb::error::SdkError;
use aws_sdk_dynamodb::types::AttributeValue;
use aws_sdk_dynamodb::Client;
use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;

use super::{Phase, QueryKey, Tracked, ENDED_TTL_SECONDS, ITEM_TTL_SECONDS};
use crate::aws::{AwsFailure, FailureKind};
use crate::deadline::Deadline;
use crate::long_queries::ended::Outcome;

/// The partition of signed Slack requests already handled (replays are refused).
const SEEN_REQUESTS: &str = "slack-requests";

/// A `Query` page holds up to 1 MB; items are a few hundred bytes, so 1,000 followed queries
/// are one page. More pages are read, up to this many.
const MAX_PAGES: usize = 20;

/// The state table could not be read or written.
#[derive(Debug, Clone, thiserror::Error)]
pub enum StateError {
    #[error(
        "the state table `{table}` does not exist (DynamoDB {call}): create it (the template \
         does) and set STATE_TABLE to its name"
    )]
    NoTable { table: String, call: &'static str },
    #[error(
        "not allowed to use the state table `{table}` ({call}: {failure}): the function needs \
         dynamodb:Query, PutItem, UpdateItem and DeleteItem on it"
    )]
    AccessDenied {
        table: String,
        call: &'static str,
        failure: AwsFailure,
    },
    #[error("DynamoDB {call} on the state table `{table}` failed: {failure}{}", hint(.failure))]
    Unavailable {
        table: String,
        call: &'static str,
        failure: AwsFailure,
    },
    #[error("DynamoDB {call} on the state table `{table}` did not answer before the deadline")]
    TimedOut { table: String, call: &'static str },
    #[error("the state table `{table}` holds more than {MAX_PAGES} pages for one target")]
    TooLarge { table: String },
}

fn hint(failure: &AwsFailure) -> &'static str {
    match failure.kind {
        FailureKind::Throttled => {
            ". DynamoDB throttled the call; nothing was posted twice, and the next run picks up \
             where this one stopped"
        }
        FailureKind::Timeout | FailureKind::Unreachable => {
            ". DynamoDB did not answer: check the network path (VPC endpoint or NAT) and \
             AWS_ENDPOINT_URL_DYNAMODB"
        }
        _ => "",
    }
}

impl StateError {
    pub fn is_deadline(&self) -> bool {
        matches!(self, StateError::TimedOut { .. })
    }
}

/// One partition of the table: a target's queries in one channel.
#[derive(Debug, Clone)]
pub struct Store {
    client: Client,
    table: String,
}

/// Reading a partition: its items, and how many calls it took.
#[derive(Debug, Clone, Default)]
pub struct Loaded {
    pub items: Vec<Tracked>,
    /// Items that could not be read (written by something else): left alone.
    pub unreadable: usize,
    pub pages: usize,
}

/// What a claim records about its query.
#[derive(Debug, Clone)]
pub struct NewItem<'a> {
    /// When the claim is written (seconds since the epoch): the item expires from it.
    pub now: i64,
    pub user: Option<&'a str>,
    pub start: i64,
    pub seen_running: i64,
    pub sys_id: bool,
    pub shown_query_id: i64,
}

fn s(value: impl Into<String>) -> AttributeValue {
    AttributeValue::S(value.into())
}

fn n(value: i64) -> AttributeValue {
    AttributeValue::N(value.to_string())
}

impl Store {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Store {
            client,
            table: table.into(),
        }
    }

    pub fn table(&self) -> &str {
        &self.table
    }

    fn failed<E>(&self, call: &'static str, err: &SdkError<E, HttpResponse>) -> StateError
    where
        E: ProvideErrorMetadata + std::error::Error + 'static,
    {
        let failure = AwsFailure::from_sdk(err, None);
        let table = self.table.clone();
        match failure.kind {
            FailureKind::NotFound => StateError::NoTable { table, call },
            FailureKind::AccessDenied => StateError::AccessDenied {
                table,
                call,
                failure,
            },
            _ => StateError::Unavailable {
                table,
                call,
                failure,
            },
        }
    }

    fn timed_out(&self, call: &'static str) -> StateError {
        StateError::TimedOut {
            table: self.table.clone(),
            call,
        }
    }

    /// Every item of `partition`, in one `Query` (more only past 1 MB).
    pub async fn load(&self, partition: &str, deadline: Deadline) -> Result<Loaded, StateError> {
        let mut loaded = Loaded::default();
        let mut start: Option<HashMap<String, AttributeValue>> = None;
        loop {
            if loaded.pages >= MAX_PAGES {
                return Err(StateError::TooLarge {
                    table: self.table.clone(),
                });
            }
            let call = self
                .client
                .query()
                .table_name(&self.table)
                .key_condition_expression("pk = :pk")
                .expression_attribute_values(":pk", s(partition))
                .consistent_read(true)
                .set_exclusive_start_key(start.take())
                .send();
            let page = deadline
                .bound("DynamoDB Query", call)
                .await
                .map_err(|_| self.timed_out("Query"))?
                .map_err(|e| self.failed("Query", &e))?;
            loaded.pages += 1;
            for item in page.items() {
                match read_item(item) {
                    Some(t) => loaded.items.push(t),
                    None => loaded.unreadable += 1,
                }
            }
            match page.last_evaluated_key() {
                Some(key) if !key.is_empty() => start = Some(key.clone()),
                _ => return Ok(loaded),
            }
        }
    }

    /// Claims a query nobody follows. `false`: another run has it.
    pub async fn claim(
        &self,
        partition: &str,
        key: QueryKey,
        claim: &str,
        lease_until: i64,
        new: &NewItem<'_>,
        deadline: Deadline,
    ) -> Result<bool, StateError> {
        let now = new.now;
        let mut request = self
            .client
            .put_item()
            .table_name(&self.table)
            .item("pk", s(partition))
            .item("sk", s(key.sort_key()))
            .item("phase", s("claimed"))
            .item("claim", s(claim))
            .item("lease_until", n(lease_until))
            .item("start", n(new.start))
            .item("seen_running", n(new.seen_running))
            .item("sys_id", AttributeValue::Bool(new.sys_id))
            .item("shown_query_id", n(new.shown_query_id))
            .item("expires_at", n(now + ITEM_TTL_SECONDS))
            .condition_expression("attribute_not_exists(sk)");
        if let Some(user) = new.user {
            request = request.item("user", s(user));
        }
        let result = deadline
            .bound("DynamoDB PutItem", request.send())
            .await
            .map_err(|_| self.timed_out("PutItem"))?;
        self.conditional("PutItem", result.map(drop))
    }

    /// Moves an item from what `expected` says to `next` (a phase change, a take-over of a dead
    /// run's claim, or a re-claim of a deleted parent). `false`: the item is no longer as
    /// expected (another run moved it).
    pub async fn move_to(
        &self,
        partition: &str,
        key: QueryKey,
        expected: &Phase,
        next: &Phase,
        now: i64,
        deadline: Deadline,
    ) -> Result<bool, StateError> {
        let (condition, mut values) = expect(expected);
        let mut set = vec!["#phase = :next_phase", "#expires_at = :expires"];
        let mut remove = vec![];
        values.insert(":next_phase".into(), s(next.name()));
        let ttl = match next {
            Phase::Ended { .. } => ENDED_TTL_SECONDS,
            _ => ITEM_TTL_SECONDS,
        };
        values.insert(":expires".into(), n(now + ttl));
        match next {
            Phase::Claimed { claim, lease_until } => {
                set.extend(["#claim = :next_claim", "#lease_until = :lease"]);
                values.insert(":next_claim".into(), s(claim));
                values.insert(":lease".into(), n(*lease_until));
                remove.extend(["#ts", "#outcome"]);
            }
            Phase::Open { ts } | Phase::Critical { ts } => {
                set.push("#ts = :next_ts");
                values.insert(":next_ts".into(), s(ts));
                remove.extend(["#claim", "#lease_until", "#outcome"]);
            }
            Phase::Ended { ts, outcome } => {
                set.extend(["#ts = :next_ts", "#outcome = :outcome"]);
                values.insert(":next_ts".into(), s(ts));
                values.insert(":outcome".into(), s(outcome.name()));
                remove.extend(["#claim", "#lease_until"]);
            }
        }
        let mut expression = format!("SET {}", set.join(", "));
        if !remove.is_empty() {
            expression.push_str(&format!(" REMOVE {}", remove.join(", ")));
        }
        let names = names_in(&[&expression, condition]);
        let call = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("pk", s(partition))
            .key("sk", s(key.sort_key()))
            .update_expression(expression)
            .condition_expression(condition)
            .set_expression_attribute_names(Some(names))
            .set_expression_attribute_values(Some(values))
            .send();
        let result = deadline
            .bound("DynamoDB UpdateItem", call)
            .await
            .map_err(|_| self.timed_out("UpdateItem"))?;
        self.conditional("UpdateItem", result.map(drop))
    }

    /// Deletes a claim (its post failed, or its run died and the query is gone). `false`: it
    /// is no longer that claim.
    pub async fn release(
        &self,
        partition: &str,
        key: QueryKey,
        claim: &str,
        deadline: Deadline,
    ) -> Result<bool, StateError> {
        let call = self
            .client
            .delete_item()
            .table_name(&self.table)
            .key("pk", s(partition))
            .key("sk", s(key.sort_key()))
            .condition_expression(CLAIM_HELD)
            .set_expression_attribute_names(Some(names_in(&[CLAIM_HELD])))
            .expression_attribute_values(":phase", s("claimed"))
            .expression_attribute_values(":claim", s(claim))
            .send();
        let result = deadline
            .bound("DynamoDB DeleteItem", call)
            .await
            .map_err(|_| self.timed_out("DeleteItem"))?;
        self.conditional("DeleteItem", result.map(drop))
    }

    /// Remembers a one-time key (a signed request's signature) until `expires_at`; `false` when
    /// it was seen before. Kept in its own partition, beside the targets'.
    pub async fn remember(
        &self,
        key: &str,
        expires_at: i64,
        deadline: Deadline,
    ) -> Result<bool, StateError> {
        let call = self
            .client
            .put_item()
            .table_name(&self.table)
            .item("pk", s(SEEN_REQUESTS))
            .item("sk", s(key))
            .item("expires_at", n(expires_at))
            .condition_expression("attribute_not_exists(sk)")
            .send();
        let result = deadline
            .bound("DynamoDB PutItem", call)
            .await
            .map_err(|_| self.timed_out("PutItem"))?;
        self.conditional("PutItem", result.map(drop))
    }

    /// A conditional write's result: a failed condition is an answer, not an error.
    fn conditional<E>(
        &self,
        call: &'static str,
        result: Result<(), SdkError<E, HttpResponse>>,
    ) -> Result<bool, StateError>
    where
        E: ProvideErrorMetadata + std::error::Error + 'static,
    {
        match result {
            Ok(()) => Ok(true),
            Err(e) if e.code() == Some("ConditionalCheckFailedException") => Ok(false),
            Err(e) => Err(self.failed(call, &e)),
        }
    }
}

const CLAIM_HELD: &str = "#phase = :phase AND #claim = :claim";
const PARENT_IS: &str = "#phase = :phase AND #ts = :ts";

/// The condition that an item is still in `phase`, and its values.
fn expect(phase: &Phase) -> (&'static str, HashMap<String, AttributeValue>) {
    let mut values = HashMap::from([(":phase".to_owned(), s(phase.name()))]);
    let condition = match phase {
        Phase::Claimed { claim, .. } => {
            values.insert(":claim".into(), s(claim));
            CLAIM_HELD
        }
        Phase::Open { ts } | Phase::Critical { ts } | Phase::Ended { ts, .. } => {
            values.insert(":ts".into(), s(ts));
            PARENT_IS
        }
    };
    (condition, values)
}

/// Every attribute is named through a `#placeholder`: several (`user`, `start`…) are DynamoDB
/// reserved words, and one rule for all is simpler than knowing which.
fn names_in(expressions: &[&str]) -> HashMap<String, String> {
    expressions
        .iter()
        .flat_map(|e| e.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == '#')))
        .filter_map(|token| {
            let name = token.strip_prefix('#')?;
            Some((token.to_owned(), name.to_owned()))
        })
        .collect()
}

fn read_item(item: &HashMap<String, AttributeValue>) -> Option<Tracked> {
    let text = |name: &str| item.get(name).and_then(|v| v.as_s().ok()).cloned();
    let number = |name: &str| {
        item.get(name)
            .and_then(|v| v.as_n().ok())
            .and_then(|v| v.parse::<i64>().ok())
    };
    let ts = || text("ts");
    let phase = match text("phase")?.as_str() {
        "claimed" => Phase::Claimed {
            claim: text("claim")?,
            lease_until: number("lease_until")?,
        },
        "open" => Phase::Open { ts: ts()? },
        "critical" => Phase::Critical { ts: ts()? },
        "ended" => Phase::Ended {
            ts: ts()?,
            outcome: Outcome::parse(&text("outcome")?)?,
        },
        _ => return None,
    };
    let key = QueryKey::parse(&text("sk")?)?;
    Some(Tracked {
        key,
        shown_query_id: number("shown_query_id").unwrap_or(key.query_id),
        phase,
        user: text("user"),
        start: number("start")?,
        seen_running: number("seen_running")?,
        sys_id: item
            .get("sys_id")
            .and_then(|v| v.as_bool().ok())
            .copied()
            .unwrap_or(false),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_dynamodb::operation::put_item::{PutItemError, PutItemOutput};
    use aws_sdk_dynamodb::operation::query::QueryOutput;
    use aws_sdk_dynamodb::types::error::ConditionalCheckFailedException;
    use aws_smithy_mocks::{mock, mock_client, RuleMode};
    use std::time::Duration;

    fn stored(
        sk: &str,
        phase: &str,
        extra: &[(&str, AttributeValue)],
    ) -> HashMap<String, AttributeValue> {
        let mut item = HashMap::from([
            ("pk".to_owned(), s("cluster:a/dev#C1")),
            ("sk".to_owned(), s(sk)),
            ("phase".to_owned(), s(phase)),
            ("start".to_owned(), n(100)),
            ("seen_running".to_owned(), n(2000)),
        ]);
        for (k, v) in extra {
            item.insert((*k).to_owned(), v.clone());
        }
        item
    }

    fn deadline() -> Deadline {
        Deadline::after(Duration::from_secs(30))
    }

    #[test]
    fn every_attribute_in_an_expression_is_named_by_a_placeholder() {
        let names = names_in(&["SET #phase = :p, #ts = :t REMOVE #claim", CLAIM_HELD]);
        assert_eq!(names.len(), 3);
        assert_eq!(names["#ts"], "ts");
        assert_eq!(names["#claim"], "claim");
    }

    #[tokio::test]
    async fn a_partition_is_read_in_pages_and_odd_items_are_counted() {
        let first = mock!(Client::query)
            .match_requests(|r| {
                r.exclusive_start_key().is_none() && r.consistent_read() == Some(true)
            })
            .then_output(|| {
                QueryOutput::builder()
                    .items(stored("1#10", "open", &[("ts", s("1.0"))]))
                    .items(stored("2#20", "mystery", &[]))
                    .last_evaluated_key("sk", s("2#20"))
                    .build()
            });
        let second = mock!(Client::query)
            .match_requests(|r| r.exclusive_start_key().is_some())
            .then_output(|| {
                QueryOutput::builder()
                    .items(stored(
                        "3#30",
                        "ended",
                        &[("ts", s("3.0")), ("outcome", s("cancelled"))],
                    ))
                    .build()
            });
        let client = mock_client!(aws_sdk_dynamodb, RuleMode::MatchAny, [&first, &second]);
        let loaded = Store::new(client, "t")
            .load("cluster:a/dev#C1", deadline())
            .await
            .unwrap();
        assert_eq!(loaded.pages, 2);
        assert_eq!(loaded.unreadable, 1);
        assert_eq!(loaded.items.len(), 2);
        assert_eq!(
            loaded.items[1].phase,
            Phase::Ended {
                ts: "3.0".into(),
                outcome: Outcome::Cancelled
            }
        );
    }

    #[tokio::test]
    async fn a_claim_that_another_run_holds_is_an_answer_not_an_error() {
        let taken = mock!(Client::put_item)
            .match_requests(|r| r.condition_expression() == Some("attribute_not_exists(sk)"))
            .then_error(|| {
                PutItemError::ConditionalCheckFailedException(
                    ConditionalCheckFailedException::builder()
                        .message("The conditional request failed")
                        // As the SDK fills it from DynamoDB's answer.
                        .meta(
                            aws_smithy_types::error::ErrorMetadata::builder()
                                .code("ConditionalCheckFailedException")
                                .build(),
                        )
                        .build(),
                )
            });
        let free = mock!(Client::put_item).then_output(|| PutItemOutput::builder().build());
        let client = mock_client!(aws_sdk_dynamodb, RuleMode::Sequential, [&taken, &free]);
        let store = Store::new(client, "t");
        let new = NewItem {
            now: 5,
            user: Some("alice"),
            start: 1,
            seen_running: 2,
            sys_id: false,
            shown_query_id: 10,
        };
        let key = QueryKey {
            pid: 1,
            query_id: 10,
        };
        let claim = |store: &Store| {
            let store = store.clone();
            let new = new.clone();
            async move { store.claim("p", key, "run", 99, &new, deadline()).await }
        };
        assert!(!claim(&store).await.unwrap());
        assert!(claim(&store).await.unwrap());
    }
}
