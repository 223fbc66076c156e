//! The Redshift Data API, and nothing about what a statement means: submit a statement, wait
//! for it within the deadline (cancelling it when time runs out), read every page of its result
//! into a [`ResultSet`]. Checks build the SQL and read the rows.
//!
//! Throttling and transient server errors are retried by the SDK's standard retry policy;
//! every call is also bounded by the run's deadline, so a hanging endpoint cannot hold the
//! function past its own timeout.

pub mod poll;
pub mod result;

use std::collections::HashSet;
use std::time::Duration;

use aws_sdk_redshiftdata::types::{SqlParameter, StatusString};
use tokio::time::Instant;

use crate::aws::{AwsFailure, FailureKind};
use crate::deadline::Deadline;
use crate::model::{Connection, DbAuth, Masker, Target};
pub use poll::PollPolicy;
pub use result::{Cell, CellProblem, MissingColumn, Overflow, ResultLimits, ResultSet};

/// Recognisable in `SYS_QUERY_HISTORY`, the Data API's `ListStatements` and the console.
pub const STATEMENT_NAME: &str = "redshift-long-query-alert";

/// The time a `CancelStatement` may take after the deadline itself has passed: without a
/// cancel the statement would run on in the cluster, unseen.
const CANCEL_GRACE: Duration = Duration::from_secs(2);

/// A statement and its named parameters (the Data API takes every value as a string).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Statement {
    pub sql: String,
    pub parameters: Vec<(&'static str, String)>,
}

/// What a finished statement looked like from here.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finished {
    pub statement_id: String,
    pub describe_calls: u32,
    pub waited: Duration,
}

/// The Data API client: a plain SDK client, so tests use `aws-smithy-mocks` or the local
/// stand-in rather than a trait of our own.
#[derive(Clone, Debug)]
pub struct DataApi {
    client: aws_sdk_redshiftdata::Client,
    poll: PollPolicy,
    limits: ResultLimits,
}

/// A Data API failure, with the statement id wherever there is one.
#[derive(Debug, thiserror::Error)]
pub enum RedshiftError {
    #[error("ExecuteStatement failed: {failure}{}", submit_hint(.failure))]
    Submit { failure: AwsFailure },
    #[error("{call} for statement {statement_id} failed: {failure}")]
    Call {
        call: &'static str,
        statement_id: String,
        failure: AwsFailure,
    },
    #[error("{call} did not answer before the deadline{}", for_statement(.statement_id))]
    CallTimedOut {
        call: &'static str,
        statement_id: Option<String>,
    },
    #[error("statement {statement_id} FAILED in Redshift: {message}")]
    StatementFailed {
        statement_id: String,
        message: String,
    },
    #[error(
        "statement {statement_id} was ABORTED (cancelled outside this run, or the cluster \
         restarted)"
    )]
    StatementAborted { statement_id: String },
    #[error(
        "statement {statement_id} did not finish within {waited_ms} ms, the time left before the \
         deadline; {cancel}. Check the cluster's load and WLM queues, or allow the run more time"
    )]
    StatementTimedOut {
        statement_id: String,
        waited_ms: u128,
        cancel: CancelOutcome,
    },
    #[error("statement {statement_id}: {missing}")]
    MissingColumn {
        statement_id: String,
        missing: MissingColumn,
    },
    #[error("the result of statement {statement_id} was not read in full: {overflow}")]
    ResultOverflow {
        statement_id: String,
        overflow: Overflow,
    },
}

fn for_statement(id: &Option<String>) -> String {
    id.as_deref()
        .map(|id| format!(" (statement {id})"))
        .unwrap_or_default()
}

fn submit_hint(failure: &AwsFailure) -> &'static str {
    match failure.kind {
        FailureKind::Throttled => {
            ". The Data API throttled the request even after retries: too many statements in \
             this account and region (or ActiveStatementsExceeded); the next run tries again"
        }
        FailureKind::AccessDenied => {
            ". The caller lacks redshift-data:ExecuteStatement on this cluster or workgroup (and \
             redshift:GetClusterCredentials, redshift-serverless:GetCredentials or \
             secretsmanager:GetSecretValue on the database secret)"
        }
        FailureKind::Timeout | FailureKind::Unreachable => {
            ". The Data API did not answer: check the network path and \
             AWS_ENDPOINT_URL_REDSHIFT_DATA"
        }
        FailureKind::Refused | FailureKind::NotFound => {
            ". Check cluster_identifier or workgroup_name, database and db_user or \
             redshift_secret_arn in the secret"
        }
        _ => "",
    }
}

/// What became of the `CancelStatement` sent when the deadline ran out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CancelOutcome {
    Cancelled,
    Failed(String),
}

impl std::fmt::Display for CancelOutcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CancelOutcome::Cancelled => f.write_str("it was cancelled"),
            CancelOutcome::Failed(why) => write!(f, "cancelling it failed too ({why})"),
        }
    }
}

impl RedshiftError {
    pub fn error_type(&self) -> &'static str {
        match self {
            RedshiftError::StatementFailed { .. } => "StatementFailed",
            RedshiftError::StatementAborted { .. } => "StatementAborted",
            RedshiftError::StatementTimedOut { .. } | RedshiftError::CallTimedOut { .. } => {
                "DeadlineExceeded"
            }
            _ => "RedshiftError",
        }
    }
}

impl DataApi {
    pub fn new(client: aws_sdk_redshiftdata::Client) -> Self {
        DataApi {
            client,
            poll: PollPolicy::default(),
            limits: ResultLimits::default(),
        }
    }

    pub fn with_poll_policy(mut self, poll: PollPolicy) -> Self {
        self.poll = poll;
        self
    }

    pub fn with_limits(mut self, limits: ResultLimits) -> Self {
        self.limits = limits;
        self
    }

    /// Submits, waits for and reads one statement. `masker` hides the connection's values in
    /// any message the service sends back.
    pub async fn run(
        &self,
        connection: &Connection,
        statement: &Statement,
        deadline: Deadline,
        masker: &Masker,
    ) -> Result<(Finished, ResultSet), RedshiftError> {
        let statement_id = self.submit(connection, statement, deadline, masker).await?;
        tracing::info!(%statement_id, "statement submitted");
        let finished = self.wait(&statement_id, deadline, masker).await?;
        let rows = self.fetch(&statement_id, deadline, masker).await?;
        Ok((finished, rows))
    }

    pub async fn submit(
        &self,
        connection: &Connection,
        statement: &Statement,
        deadline: Deadline,
        masker: &Masker,
    ) -> Result<String, RedshiftError> {
        let mut request = self
            .client
            .execute_statement()
            .sql(&statement.sql)
            .statement_name(STATEMENT_NAME)
            .database(&connection.database);
        request = match &connection.target {
            Target::Cluster(name) => request.cluster_identifier(name),
            Target::Workgroup(name) => request.workgroup_name(name),
        };
        request = match &connection.auth {
            DbAuth::DbUser(user) => request.db_user(user),
            DbAuth::SecretArn(arn) => request.secret_arn(arn),
            DbAuth::IamIdentity => request,
        };
        for (name, value) in &statement.parameters {
            // Both fields are set, so the builder cannot fail; skip rather than panic if a
            // future SDK adds a required field.
            if let Ok(parameter) = SqlParameter::builder().name(*name).value(value).build() {
                request = request.parameters(parameter);
            }
        }
        let mask = |m: &str| masker.mask(m);
        let output = deadline
            .bound("ExecuteStatement", request.send())
            .await
            .map_err(|t| RedshiftError::CallTimedOut {
                call: t.call,
                statement_id: None,
            })?
            .map_err(|err| RedshiftError::Submit {
                failure: AwsFailure::from_sdk(&err, Some(&mask)),
            })?;
        output.id.ok_or_else(|| RedshiftError::Submit {
            failure: AwsFailure {
                kind: FailureKind::Unreadable,
                code: None,
                status: None,
                request_id: None,
                message: Some("the answer carried no statement id".into()),
            },
        })
    }

    /// Polls until the statement is FINISHED. FAILED and ABORTED become errors; running out of
    /// time cancels the statement and fails.
    pub async fn wait(
        &self,
        statement_id: &str,
        deadline: Deadline,
        masker: &Masker,
    ) -> Result<Finished, RedshiftError> {
        let started = Instant::now();
        match self.poll_until(statement_id, deadline, masker).await? {
            Some(finished) => Ok(finished),
            None => Err(self.give_up(statement_id, started).await),
        }
    }

    /// Polls until the statement is FINISHED, or the deadline: then `None`, and the statement
    /// is left to run (a statement that must not be undone, such as a cancel, keeps going).
    pub async fn poll_until(
        &self,
        statement_id: &str,
        deadline: Deadline,
        masker: &Masker,
    ) -> Result<Option<Finished>, RedshiftError> {
        let started = Instant::now();
        let mut pause = self.poll.first;
        let mut describe_calls = 0;
        loop {
            // Never sleep past the deadline: wake at it, and give up below.
            let wake = Instant::now()
                .checked_add(pause)
                .map_or(deadline.instant(), |t| t.min(deadline.instant()));
            tokio::time::sleep_until(wake).await;
            if deadline.is_past() {
                return Ok(None);
            }
            describe_calls += 1;
            let call = self.client.describe_statement().id(statement_id).send();
            let output = match deadline.bound("DescribeStatement", call).await {
                Err(_) => return Ok(None),
                Ok(Err(err)) => {
                    return Err(RedshiftError::Call {
                        call: "DescribeStatement",
                        statement_id: statement_id.to_owned(),
                        failure: AwsFailure::from_sdk(&err, Some(&|m: &str| masker.mask(m))),
                    })
                }
                Ok(Ok(output)) => output,
            };
            match output.status() {
                Some(StatusString::Finished) => {
                    return Ok(Some(Finished {
                        statement_id: statement_id.to_owned(),
                        describe_calls,
                        waited: started.elapsed(),
                    }))
                }
                Some(StatusString::Failed) => {
                    return Err(RedshiftError::StatementFailed {
                        statement_id: statement_id.to_owned(),
                        message: masker
                            .mask(output.error().unwrap_or("no error message was given")),
                    })
                }
                Some(StatusString::Aborted) => {
                    return Err(RedshiftError::StatementAborted {
                        statement_id: statement_id.to_owned(),
                    })
                }
                _ => {}
            }
            pause = self.poll.next(pause, started.elapsed());
        }
    }

    async fn give_up(&self, statement_id: &str, started: Instant) -> RedshiftError {
        let waited_ms = started.elapsed().as_millis();
        let cancel = match tokio::time::timeout(
            CANCEL_GRACE,
            self.client.cancel_statement().id(statement_id).send(),
        )
        .await
        {
            Ok(Ok(_)) => CancelOutcome::Cancelled,
            Ok(Err(err)) => CancelOutcome::Failed(AwsFailure::from_sdk(&err, None).to_string()),
            Err(_) => CancelOutcome::Failed("CancelStatement did not answer either".into()),
        };
        tracing::warn!(statement_id, waited_ms, %cancel, "statement ran out of time");
        RedshiftError::StatementTimedOut {
            statement_id: statement_id.to_owned(),
            waited_ms,
            cancel,
        }
    }

    /// Reads every page of the result, within the deadline and the limits.
    pub async fn fetch(
        &self,
        statement_id: &str,
        deadline: Deadline,
        masker: &Masker,
    ) -> Result<ResultSet, RedshiftError> {
        let mut result = ResultSet::default();
        let mut seen_tokens = HashSet::new();
        let mut next_token: Option<String> = None;
        let overflow = |overflow| RedshiftError::ResultOverflow {
            statement_id: statement_id.to_owned(),
            overflow,
        };
        for _ in 0..self.limits.max_pages {
            let request = self
                .client
                .get_statement_result()
                .id(statement_id)
                .set_next_token(next_token.take());
            let page = deadline
                .bound("GetStatementResult", request.send())
                .await
                .map_err(|t| RedshiftError::CallTimedOut {
                    call: t.call,
                    statement_id: Some(statement_id.to_owned()),
                })?
                .map_err(|err| RedshiftError::Call {
                    call: "GetStatementResult",
                    statement_id: statement_id.to_owned(),
                    failure: AwsFailure::from_sdk(&err, Some(&|m: &str| masker.mask(m))),
                })?;
            let token = page
                .next_token()
                .filter(|t| !t.is_empty())
                .map(str::to_owned);
            let metadata = page.column_metadata.unwrap_or_default();
            result
                .add_page(&metadata, page.records, &self.limits)
                .map_err(overflow)?;
            match token {
                None => return Ok(result),
                Some(token) if !seen_tokens.insert(token.clone()) => {
                    return Err(overflow(Overflow::RepeatedToken))
                }
                Some(token) => next_token = Some(token),
            }
        }
        Err(overflow(Overflow::Pages(self.limits.max_pages)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_redshiftdata::operation::cancel_statement::CancelStatementOutput;
    use aws_sdk_redshiftdata::operation::describe_statement::DescribeStatementOutput;
    use aws_sdk_redshiftdata::operation::execute_statement::ExecuteStatementOutput;
    use aws_sdk_redshiftdata::operation::get_statement_result::GetStatementResultOutput;
    use aws_sdk_redshiftdata::types::{ColumnMetadata, Field};
    use aws_sdk_redshiftdata::Client;
    use aws_smithy_mocks::{mock, mock_client, RuleMode};

    const ID: &str = "d9b6c0f1-0000-4000-8000-000000000001";

    fn describe(status: StatusString) -> DescribeStatementOutput {
        DescribeStatementOutput::builder()
            .id(ID)
            .status(status)
            .build()
            .unwrap()
    }

    fn page(rows: Vec<Vec<Field>>, next: Option<&str>) -> GetStatementResultOutput {
        let mut b = GetStatementResultOutput::builder()
            .column_metadata(ColumnMetadata::builder().name("pid").label("pid").build());
        for r in rows {
            b = b.records(r);
        }
        if let Some(t) = next {
            b = b.next_token(t);
        }
        b.build().unwrap()
    }

    fn connection() -> Connection {
        Connection {
            target: Target::Cluster("c".into()),
            database: "dev".into(),
            auth: DbAuth::DbUser("monitor".into()),
        }
    }

    fn far() -> Deadline {
        Deadline::after(Duration::from_secs(600))
    }

    #[tokio::test(start_paused = true)]
    async fn polling_walks_submitted_started_finished() {
        let rule = mock!(Client::describe_statement)
            .sequence()
            .output(|| describe(StatusString::Submitted))
            .output(|| describe(StatusString::Picked))
            .output(|| describe(StatusString::Started))
            .times(3)
            .output(|| describe(StatusString::Finished))
            .build();
        let api = DataApi::new(mock_client!(aws_sdk_redshiftdata, [&rule]));
        let finished = api.wait(ID, far(), &Masker::default()).await.unwrap();
        assert_eq!(finished.describe_calls, 6);
        assert_eq!(rule.num_calls(), 6);
        assert_eq!(finished.waited, Duration::from_millis(300));
    }

    #[tokio::test(start_paused = true)]
    async fn a_failed_statement_carries_redshifts_message_masked() {
        let rule = mock!(Client::describe_statement).then_output(|| {
            DescribeStatementOutput::builder()
                .id(ID)
                .status(StatusString::Failed)
                .error("ERROR: permission denied for relation stv_inflight (user monitor_x)")
                .build()
                .unwrap()
        });
        let api = DataApi::new(mock_client!(aws_sdk_redshiftdata, [&rule]));
        let masker = Masker::new(["monitor_x".to_owned()]);
        let err = api.wait(ID, far(), &masker).await.unwrap_err();
        assert_eq!(err.error_type(), "StatementFailed");
        let text = err.to_string();
        assert!(text.contains("permission denied for relation stv_inflight") && text.contains(ID));
        assert!(!text.contains("monitor_x"), "{text}");
    }

    #[tokio::test(start_paused = true)]
    async fn an_aborted_statement_is_an_error() {
        let rule =
            mock!(Client::describe_statement).then_output(|| describe(StatusString::Aborted));
        let api = DataApi::new(mock_client!(aws_sdk_redshiftdata, [&rule]));
        let err = api.wait(ID, far(), &Masker::default()).await.unwrap_err();
        assert!(matches!(err, RedshiftError::StatementAborted { .. }));
    }

    #[tokio::test(start_paused = true)]
    async fn running_out_of_time_cancels_the_statement() {
        let describe_rule = mock!(Client::describe_statement)
            .sequence()
            .output(|| describe(StatusString::Started))
            .repeatedly()
            .build();
        let cancel_rule = mock!(Client::cancel_statement)
            .match_requests(|r| r.id() == Some(ID))
            .then_output(|| CancelStatementOutput::builder().status(true).build());
        let api = DataApi::new(mock_client!(
            aws_sdk_redshiftdata,
            RuleMode::MatchAny,
            [&describe_rule, &cancel_rule]
        ));
        let deadline = Deadline::after(Duration::from_secs(5));
        let err = api
            .wait(ID, deadline, &Masker::default())
            .await
            .unwrap_err();
        assert_eq!(cancel_rule.num_calls(), 1);
        assert_eq!(err.error_type(), "DeadlineExceeded");
        match &err {
            RedshiftError::StatementTimedOut {
                cancel, waited_ms, ..
            } => {
                assert_eq!(*cancel, CancelOutcome::Cancelled);
                assert!((4900..=5000).contains(waited_ms), "{waited_ms}");
            }
            other => panic!("unexpected {other:?}"),
        }
        assert!(err.to_string().contains("was cancelled"));
        // 50, 100, … 350, 500, 800, 1400, 2400, 3400, 4400 ms: 13 polls, then the deadline.
        assert_eq!(describe_rule.num_calls(), 13);
    }

    #[tokio::test(start_paused = true)]
    async fn every_page_is_read_by_column_name() {
        let rule = mock!(Client::get_statement_result)
            .sequence()
            .output(|| page(vec![vec![Field::LongValue(1)]], Some("t1")))
            .output(|| {
                GetStatementResultOutput::builder()
                    .records(vec![Field::LongValue(2)])
                    .next_token("t2")
                    .build()
                    .unwrap()
            })
            .output(|| page(vec![vec![Field::LongValue(3)]], None))
            .build();
        let api = DataApi::new(mock_client!(aws_sdk_redshiftdata, [&rule]));
        let set = api.fetch(ID, far(), &Masker::default()).await.unwrap();
        assert_eq!(rule.num_calls(), 3);
        assert_eq!(set.columns, ["pid"]);
        assert_eq!(
            set.rows,
            [[Cell::Long(1)], [Cell::Long(2)], [Cell::Long(3)]]
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_repeated_next_token_or_too_many_pages_ends_the_loop() {
        let rule = mock!(Client::get_statement_result)
            .sequence()
            .output(|| page(vec![vec![Field::LongValue(1)]], Some("same")))
            .repeatedly()
            .build();
        let api = DataApi::new(mock_client!(aws_sdk_redshiftdata, [&rule]));
        let err = api.fetch(ID, far(), &Masker::default()).await.unwrap_err();
        assert!(matches!(
            err,
            RedshiftError::ResultOverflow {
                overflow: Overflow::RepeatedToken,
                ..
            }
        ));
        assert_eq!(rule.num_calls(), 2);

        let counter = std::sync::atomic::AtomicUsize::new(0);
        let fresh = mock!(Client::get_statement_result)
            .sequence()
            .output(move || {
                let n = counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                page(vec![vec![Field::LongValue(1)]], Some(&format!("t{n}")))
            })
            .repeatedly()
            .build();
        let limits = ResultLimits {
            max_pages: 5,
            ..ResultLimits::default()
        };
        let api = DataApi::new(mock_client!(aws_sdk_redshiftdata, [&fresh])).with_limits(limits);
        let err = api.fetch(ID, far(), &Masker::default()).await.unwrap_err();
        assert!(err.to_string().contains("more than 5 pages"), "{err}");
        assert_eq!(fresh.num_calls(), 5);
    }

    #[tokio::test]
    async fn submit_sends_parameters_name_and_auth() {
        let rule = mock!(Client::execute_statement)
            .match_requests(|r| {
                let params: Vec<_> = r
                    .parameters()
                    .iter()
                    .map(|p| (p.name().to_owned(), p.value().to_owned()))
                    .collect();
                r.sql() == Some("select 1")
                    && r.statement_name() == Some(STATEMENT_NAME)
                    && r.cluster_identifier() == Some("c")
                    && r.database() == Some("dev")
                    && r.db_user() == Some("monitor")
                    && r.secret_arn().is_none()
                    && params == [("min_minutes".to_owned(), "30".to_owned())]
            })
            .then_output(|| ExecuteStatementOutput::builder().id(ID).build());
        let api = DataApi::new(mock_client!(aws_sdk_redshiftdata, [&rule]));
        let statement = Statement {
            sql: "select 1".into(),
            parameters: vec![("min_minutes", "30".into())],
        };
        let id = api
            .submit(&connection(), &statement, far(), &Masker::default())
            .await
            .unwrap();
        assert_eq!(id, ID);
    }
}
