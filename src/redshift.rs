//! The Redshift Data API side of a run: submit the statement, wait for it within the deadline
//! (cancelling it when time runs out), read every page of its result and map the rows.
//!
//! Throttling and transient server errors are retried by the SDK's standard retry policy;
//! every call is also bounded by the run's deadline, so a hanging endpoint cannot hold the
//! function past its own timeout.

use std::time::Duration;

use aws_sdk_redshiftdata::error::{DisplayErrorContext, ProvideErrorMetadata};
use aws_sdk_redshiftdata::types::{ColumnMetadata, Field, SqlParameter, StatusString};
use tokio::time::Instant;

use crate::secret::{DbAuth, SecretConfig, Target};
use crate::sql;

/// The statement's client: a plain SDK client, so tests use `aws-smithy-mocks` or the local
/// Data API stand-in rather than a trait of our own.
#[derive(Clone, Debug)]
pub struct DataApi {
    client: aws_sdk_redshiftdata::Client,
    poll: PollPolicy,
}

/// How often `DescribeStatement` is asked. A statement on the system views usually finishes
/// within a few hundred milliseconds, so the first `fast_for` is polled every `first` (the run
/// notices the end within that interval); after that the pause starts at three times `first`
/// and doubles up to `max`, so a slow statement costs few calls (11 in the first 2.4 s).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PollPolicy {
    pub first: Duration,
    pub fast_for: Duration,
    pub max: Duration,
}

impl Default for PollPolicy {
    fn default() -> Self {
        PollPolicy {
            first: Duration::from_millis(50),
            fast_for: Duration::from_millis(350),
            max: Duration::from_secs(1),
        }
    }
}

impl PollPolicy {
    /// The pause before the next poll, given the previous pause and the time waited so far.
    fn next(&self, previous: Duration, waited: Duration) -> Duration {
        if waited < self.fast_for {
            self.first
        } else if previous <= self.first {
            (self.first * 3).min(self.max)
        } else {
            (previous * 2).min(self.max)
        }
    }
}

/// A long-running query, as one result row describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LongQuery {
    /// `None` when the user was dropped while the query ran.
    pub user: Option<String>,
    pub pid: i64,
    pub query_id: i64,
    pub start_time: jiff::Timestamp,
    pub elapsed_minutes: i64,
    /// Stitched, with line breaks restored.
    pub text: String,
    /// Only the first chunks were aggregated: the text stops early.
    pub text_truncated: bool,
}

/// Every row of a finished statement.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ResultRows {
    pub queries: Vec<LongQuery>,
    /// How many queries run past the base threshold in all (window or not), when the result
    /// says so: it is the same on every row.
    pub past_threshold_total: Option<i64>,
}

/// What a finished statement looked like from here.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finished {
    pub describe_calls: u32,
    pub waited: Duration,
}

/// A Data API failure, with the statement id wherever there is one.
#[derive(Debug, thiserror::Error)]
pub enum RedshiftError {
    #[error(
        "ExecuteStatement was refused: {detail}. Check cluster_identifier or workgroup_name, \
         database and db_user/redshift_secret_arn in the secret, and the role's \
         redshift-data:ExecuteStatement (and redshift:GetClusterCredentials or \
         redshift-serverless:GetCredentials) permissions"
    )]
    Submit { detail: String },
    #[error("DescribeStatement for statement {statement_id} failed: {detail}")]
    Describe {
        statement_id: String,
        detail: String,
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
         deadline; {cancel}. Raise the function timeout, or check the cluster's load and queues"
    )]
    DeadlineExceeded {
        statement_id: String,
        waited_ms: u128,
        cancel: CancelOutcome,
    },
    #[error("GetStatementResult for statement {statement_id} failed: {detail}")]
    Result {
        statement_id: String,
        detail: String,
    },
    #[error("the result of statement {statement_id} has no column `{column}`")]
    MissingColumn {
        statement_id: String,
        column: &'static str,
    },
    #[error(
        "the result of statement {statement_id}, row {row}: column `{column}` is {found}, \
         expected {expected}"
    )]
    BadCell {
        statement_id: String,
        row: usize,
        column: &'static str,
        expected: &'static str,
        found: String,
    },
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
            RedshiftError::DeadlineExceeded { .. } => "DeadlineExceeded",
            _ => "RedshiftError",
        }
    }
}

/// The time a `CancelStatement` may take after the deadline itself has passed: without a
/// cancel the statement would run on in the cluster, unseen.
const CANCEL_GRACE: Duration = Duration::from_secs(2);

fn sdk_detail<E>(err: &aws_sdk_redshiftdata::error::SdkError<E>) -> String
where
    E: std::error::Error + ProvideErrorMetadata + 'static,
{
    match (err.code(), err.message()) {
        (Some(code), Some(message)) => format!("{code}: {message}"),
        _ => DisplayErrorContext(err).to_string(),
    }
}

fn timed_out(what: &str) -> String {
    format!("{what} did not answer before the deadline")
}

impl DataApi {
    pub fn new(client: aws_sdk_redshiftdata::Client) -> Self {
        DataApi {
            client,
            poll: PollPolicy::default(),
        }
    }

    pub fn with_poll_policy(mut self, poll: PollPolicy) -> Self {
        self.poll = poll;
        self
    }

    /// Submits a statement with its named parameters and returns its id.
    pub async fn submit(
        &self,
        secret: &SecretConfig,
        sql: &str,
        parameters: Vec<(&'static str, String)>,
        deadline: Instant,
    ) -> Result<String, RedshiftError> {
        let mut request = self
            .client
            .execute_statement()
            .sql(sql)
            .statement_name(sql::STATEMENT_NAME)
            .database(&secret.database);
        request = match &secret.target {
            Target::Cluster(name) => request.cluster_identifier(name),
            Target::Workgroup(name) => request.workgroup_name(name),
        };
        request = match &secret.auth {
            DbAuth::DbUser(user) => request.db_user(user),
            DbAuth::SecretArn(arn) => request.secret_arn(arn),
            DbAuth::IamIdentity => request,
        };
        for (name, value) in parameters {
            let parameter = SqlParameter::builder()
                .name(name)
                .value(value)
                .build()
                .expect("name and value are both set");
            request = request.parameters(parameter);
        }
        let output = tokio::time::timeout_at(deadline, request.send())
            .await
            .map_err(|_| RedshiftError::Submit {
                detail: timed_out("ExecuteStatement"),
            })?
            .map_err(|err| RedshiftError::Submit {
                detail: sdk_detail(&err),
            })?;
        output.id.ok_or_else(|| RedshiftError::Submit {
            detail: "the answer carried no statement id".into(),
        })
    }

    /// Polls until the statement is FINISHED. FAILED and ABORTED become errors; running out of
    /// time cancels the statement and fails.
    pub async fn wait_until_finished(
        &self,
        statement_id: &str,
        deadline: Instant,
    ) -> Result<Finished, RedshiftError> {
        let started = Instant::now();
        let mut pause = self.poll.first;
        let mut describe_calls = 0;
        loop {
            // Never sleep past the deadline: wake at it, and give up below.
            let wake = (Instant::now() + pause).min(deadline);
            tokio::time::sleep_until(wake).await;
            if Instant::now() >= deadline {
                return Err(self.give_up(statement_id, started).await);
            }
            describe_calls += 1;
            let described = tokio::time::timeout_at(
                deadline,
                self.client.describe_statement().id(statement_id).send(),
            )
            .await;
            let output = match described {
                Err(_) => return Err(self.give_up(statement_id, started).await),
                Ok(Err(err)) => {
                    return Err(RedshiftError::Describe {
                        statement_id: statement_id.to_owned(),
                        detail: sdk_detail(&err),
                    })
                }
                Ok(Ok(output)) => output,
            };
            match output.status() {
                Some(StatusString::Finished) => {
                    return Ok(Finished {
                        describe_calls,
                        waited: started.elapsed(),
                    })
                }
                Some(StatusString::Failed) => {
                    return Err(RedshiftError::StatementFailed {
                        statement_id: statement_id.to_owned(),
                        message: output
                            .error()
                            .unwrap_or("no error message was given")
                            .to_owned(),
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
            Ok(Err(err)) => CancelOutcome::Failed(sdk_detail(&err)),
            Err(_) => CancelOutcome::Failed(timed_out("CancelStatement")),
        };
        tracing::warn!(statement_id, waited_ms, %cancel, "statement ran out of time");
        RedshiftError::DeadlineExceeded {
            statement_id: statement_id.to_owned(),
            waited_ms,
            cancel,
        }
    }

    /// Reads every page of the result, mapping each page's rows as it arrives.
    pub async fn fetch_rows(
        &self,
        statement_id: &str,
        deadline: Instant,
    ) -> Result<ResultRows, RedshiftError> {
        let mut rows = ResultRows::default();
        let mut columns: Option<Columns> = None;
        let mut next_token: Option<String> = None;
        loop {
            let request = self
                .client
                .get_statement_result()
                .id(statement_id)
                .set_next_token(next_token.take());
            let page = tokio::time::timeout_at(deadline, request.send())
                .await
                .map_err(|_| RedshiftError::Result {
                    statement_id: statement_id.to_owned(),
                    detail: timed_out("GetStatementResult"),
                })?
                .map_err(|err| RedshiftError::Result {
                    statement_id: statement_id.to_owned(),
                    detail: sdk_detail(&err),
                })?;
            // Column metadata comes with the first page; later pages may omit it.
            if columns.is_none() || !page.column_metadata().is_empty() {
                columns = Some(Columns::locate(statement_id, page.column_metadata())?);
            }
            let columns = columns.as_ref().expect("set above");
            for record in page.records() {
                let row = rows.queries.len() + 1;
                rows.queries
                    .push(columns.map_row(statement_id, row, record)?);
                if rows.past_threshold_total.is_none() {
                    rows.past_threshold_total = columns.total(statement_id, row, record)?;
                }
            }
            match page.next_token() {
                Some(token) if !token.is_empty() => next_token = Some(token.to_owned()),
                _ => return Ok(rows),
            }
        }
    }
}

/// Maps rows described by `metadata` into queries: what [`DataApi::fetch_rows`] does with each
/// page, as a plain function for tests that feed it arbitrary cells.
pub fn map_rows(
    statement_id: &str,
    metadata: &[ColumnMetadata],
    records: &[Vec<Field>],
) -> Result<Vec<LongQuery>, RedshiftError> {
    let columns = Columns::locate(statement_id, metadata)?;
    records
        .iter()
        .enumerate()
        .map(|(i, record)| columns.map_row(statement_id, i + 1, record))
        .collect()
}

/// Where each needed column sits in a row: rows are mapped by column name, not position.
#[derive(Debug, Clone, Copy)]
struct Columns {
    user_name: usize,
    pid: usize,
    query_id: usize,
    start_time: usize,
    elapsed_minutes: usize,
    query_text: usize,
    text_truncated: usize,
    /// Optional: results of older statements or other tools may lack it.
    past_threshold_total: Option<usize>,
}

impl Columns {
    fn locate(statement_id: &str, metadata: &[ColumnMetadata]) -> Result<Self, RedshiftError> {
        let find = |column: &'static str| {
            metadata
                .iter()
                .position(|m| {
                    [m.label(), m.name()]
                        .into_iter()
                        .flatten()
                        .any(|n| n.eq_ignore_ascii_case(column))
                })
                .ok_or_else(|| RedshiftError::MissingColumn {
                    statement_id: statement_id.to_owned(),
                    column,
                })
        };
        Ok(Columns {
            user_name: find("user_name")?,
            pid: find("pid")?,
            query_id: find("query_id")?,
            start_time: find("start_time")?,
            elapsed_minutes: find("elapsed_minutes")?,
            query_text: find("query_text")?,
            text_truncated: find("text_truncated")?,
            past_threshold_total: find("past_threshold_total").ok(),
        })
    }

    fn total(
        &self,
        statement_id: &str,
        row: usize,
        record: &[Field],
    ) -> Result<Option<i64>, RedshiftError> {
        let Some(index) = self.past_threshold_total else {
            return Ok(None);
        };
        let cell = Cell {
            statement_id,
            row,
            record,
        };
        cell.long(index, "past_threshold_total").map(Some)
    }

    fn map_row(
        &self,
        statement_id: &str,
        row: usize,
        record: &[Field],
    ) -> Result<LongQuery, RedshiftError> {
        let cell = Cell {
            statement_id,
            row,
            record,
        };
        let start_text = cell.string(self.start_time, "start_time")?;
        let start_time = parse_redshift_timestamp(&start_text).ok_or_else(|| {
            cell.bad(
                "start_time",
                "a timestamp like 2026-11-28 09:15:00",
                format!("{start_text:?}"),
            )
        })?;
        let raw = cell
            .optional_string(self.query_text, "query_text")?
            .unwrap_or_default();
        let (kept, cut) = sql::keep_prefix(&raw, sql::MAX_TEXT_BYTES);
        Ok(LongQuery {
            user: cell
                .optional_string(self.user_name, "user_name")?
                .map(|u| u.trim_end().to_owned()),
            pid: cell.long(self.pid, "pid")?,
            query_id: cell.long(self.query_id, "query_id")?,
            start_time,
            elapsed_minutes: cell.long(self.elapsed_minutes, "elapsed_minutes")?,
            text: sql::stitch(kept),
            text_truncated: cell.flag(self.text_truncated, "text_truncated")? || cut,
        })
    }
}

/// One row's cells, read with errors that name the column and the row.
struct Cell<'a> {
    statement_id: &'a str,
    row: usize,
    record: &'a [Field],
}

impl Cell<'_> {
    fn bad(&self, column: &'static str, expected: &'static str, found: String) -> RedshiftError {
        RedshiftError::BadCell {
            statement_id: self.statement_id.to_owned(),
            row: self.row,
            column,
            expected,
            found,
        }
    }

    fn get(&self, index: usize, column: &'static str) -> Result<&Field, RedshiftError> {
        self.record
            .get(index)
            .ok_or_else(|| self.bad(column, "a value", "missing (the row is too short)".into()))
    }

    fn optional_string(
        &self,
        index: usize,
        column: &'static str,
    ) -> Result<Option<String>, RedshiftError> {
        match self.get(index, column)? {
            Field::StringValue(s) => Ok(Some(s.clone())),
            Field::IsNull(true) => Ok(None),
            other => Err(self.bad(column, "a string or NULL", describe(other))),
        }
    }

    fn string(&self, index: usize, column: &'static str) -> Result<String, RedshiftError> {
        self.optional_string(index, column)?
            .ok_or_else(|| self.bad(column, "a string", "NULL".into()))
    }

    fn long(&self, index: usize, column: &'static str) -> Result<i64, RedshiftError> {
        match self.get(index, column)? {
            Field::LongValue(v) => Ok(*v),
            // Some drivers hand integers over as text; accept it when it is one.
            Field::StringValue(s) if s.trim().parse::<i64>().is_ok() => {
                Ok(s.trim().parse().expect("checked"))
            }
            other => Err(self.bad(column, "an integer", describe(other))),
        }
    }

    fn flag(&self, index: usize, column: &'static str) -> Result<bool, RedshiftError> {
        match self.get(index, column)? {
            Field::BooleanValue(b) => Ok(*b),
            Field::IsNull(true) => Ok(false),
            Field::LongValue(v) => Ok(*v != 0),
            Field::StringValue(s) => match s.trim().to_ascii_lowercase().as_str() {
                "t" | "true" | "1" => Ok(true),
                "f" | "false" | "0" => Ok(false),
                _ => Err(self.bad(
                    column,
                    "a boolean",
                    describe(&Field::StringValue(s.clone())),
                )),
            },
            other => Err(self.bad(column, "a boolean", describe(other))),
        }
    }
}

fn describe(field: &Field) -> String {
    match field {
        Field::StringValue(s) => {
            let short: String = s.chars().take(40).collect();
            format!("the string {short:?}")
        }
        Field::LongValue(v) => format!("the integer {v}"),
        Field::DoubleValue(v) => format!("the number {v}"),
        Field::BooleanValue(v) => format!("the boolean {v}"),
        Field::IsNull(_) => "NULL".into(),
        Field::BlobValue(_) => "a blob".into(),
        _ => "a value of an unknown type".into(),
    }
}

/// Redshift's `timestamp` (without time zone) is UTC for system views; the Data API renders it
/// as `2026-11-28 09:15:00.123456` (a `T` separator is accepted too).
pub fn parse_redshift_timestamp(text: &str) -> Option<jiff::Timestamp> {
    let civil: jiff::civil::DateTime = text.trim().replacen(' ', "T", 1).parse().ok()?;
    jiff::tz::TimeZone::UTC.to_timestamp(civil).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_redshiftdata::operation::cancel_statement::CancelStatementOutput;
    use aws_sdk_redshiftdata::operation::describe_statement::DescribeStatementOutput;
    use aws_sdk_redshiftdata::operation::execute_statement::ExecuteStatementOutput;
    use aws_sdk_redshiftdata::operation::get_statement_result::GetStatementResultOutput;
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

    /// The statement's columns but the optional total, as the Data API describes them.
    fn columns() -> Vec<ColumnMetadata> {
        sql::COLUMNS[..7]
            .iter()
            .map(|n| ColumnMetadata::builder().name(*n).label(*n).build())
            .collect()
    }

    fn row(user: Option<&str>, pid: i64) -> Vec<Field> {
        vec![
            user.map_or(Field::IsNull(true), |u| Field::StringValue(u.into())),
            Field::LongValue(pid),
            Field::LongValue(pid * 10),
            Field::StringValue("2026-11-28 09:15:00.123456".into()),
            Field::LongValue(42),
            Field::StringValue(format!("{}select 1", sql::CHUNK_MARK)),
            Field::BooleanValue(false),
        ]
    }

    fn page(
        rows: Vec<Vec<Field>>,
        next: Option<&str>,
        with_columns: bool,
    ) -> GetStatementResultOutput {
        let mut b = GetStatementResultOutput::builder().total_num_rows(3);
        if with_columns {
            b = b.set_column_metadata(Some(columns()));
        }
        for r in rows {
            b = b.records(r);
        }
        if let Some(t) = next {
            b = b.next_token(t);
        }
        b.build().unwrap()
    }

    fn secret() -> SecretConfig {
        crate::secret::parse_secret(
            "s",
            r#"{"slack_webhook_url":"https://hooks.slack.com/x","cluster_identifier":"c",
                "database":"dev","db_user":"monitor"}"#,
        )
        .unwrap()
    }

    fn far() -> Instant {
        Instant::now() + Duration::from_secs(600)
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
        let finished = api.wait_until_finished(ID, far()).await.unwrap();
        assert_eq!(finished.describe_calls, 6);
        assert_eq!(rule.num_calls(), 6);
        // Six polls 50 ms apart, on tokio's paused clock.
        assert_eq!(finished.waited, Duration::from_millis(300));
    }

    /// The pauses a statement that never finishes would see, as offsets from the start.
    fn poll_times(policy: PollPolicy, count: usize) -> Vec<u64> {
        let (mut pause, mut waited, mut times) = (policy.first, Duration::ZERO, vec![]);
        for _ in 0..count {
            waited += pause;
            times.push(waited.as_millis() as u64);
            pause = policy.next(pause, waited);
        }
        times
    }

    #[test]
    fn polling_is_dense_first_then_backs_off_to_its_cap() {
        let times = poll_times(PollPolicy::default(), 14);
        assert_eq!(
            times,
            [50, 100, 150, 200, 250, 300, 350, 500, 800, 1400, 2400, 3400, 4400, 5400]
        );
        // A statement of 300 ms is seen within 50 ms; one of 3 s within 12 calls.
        assert!(times.iter().any(|t| (300..=350).contains(t)));
        assert!(times.iter().position(|t| *t >= 3000).unwrap() < 12);
    }

    #[tokio::test(start_paused = true)]
    async fn failed_statement_carries_redshifts_message() {
        let rule = mock!(Client::describe_statement).then_output(|| {
            DescribeStatementOutput::builder()
                .id(ID)
                .status(StatusString::Failed)
                .error("ERROR: permission denied for relation stv_inflight")
                .build()
                .unwrap()
        });
        let api = DataApi::new(mock_client!(aws_sdk_redshiftdata, [&rule]));
        let err = api.wait_until_finished(ID, far()).await.unwrap_err();
        assert_eq!(err.error_type(), "StatementFailed");
        let text = err.to_string();
        assert!(
            text.contains("permission denied for relation stv_inflight"),
            "{text}"
        );
        assert!(text.contains(ID), "{text}");
    }

    #[tokio::test(start_paused = true)]
    async fn aborted_statement_is_an_error() {
        let rule =
            mock!(Client::describe_statement).then_output(|| describe(StatusString::Aborted));
        let api = DataApi::new(mock_client!(aws_sdk_redshiftdata, [&rule]));
        let err = api.wait_until_finished(ID, far()).await.unwrap_err();
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
        let deadline = Instant::now() + Duration::from_secs(5);
        let err = api.wait_until_finished(ID, deadline).await.unwrap_err();
        assert_eq!(cancel_rule.num_calls(), 1);
        assert!(Instant::now() <= deadline + Duration::from_millis(1));
        match &err {
            RedshiftError::DeadlineExceeded {
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
    async fn every_page_is_read_and_rows_are_mapped_by_name() {
        let rule = mock!(Client::get_statement_result)
            .sequence()
            .output(|| page(vec![row(Some("alice"), 1)], Some("t1"), true))
            .output(|| page(vec![row(None, 2)], Some("t2"), false))
            .output(|| page(vec![row(Some("carol   "), 3)], None, false))
            .build();
        let api = DataApi::new(mock_client!(aws_sdk_redshiftdata, [&rule]));
        let rows = api.fetch_rows(ID, far()).await.unwrap().queries;
        assert_eq!(rule.num_calls(), 3);
        let users: Vec<_> = rows.iter().map(|q| q.user.clone()).collect();
        assert_eq!(users, [Some("alice".into()), None, Some("carol".into())]);
        assert_eq!(rows[1].pid, 2);
        assert_eq!(rows[1].query_id, 20);
        assert_eq!(rows[0].text, "select 1");
        assert_eq!(
            rows[0].start_time.to_string(),
            "2026-11-28T09:15:00.123456Z"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn column_order_does_not_matter() {
        let rule = mock!(Client::get_statement_result).then_output(|| {
            let mut cols = columns();
            cols.reverse();
            let mut r = row(Some("bob"), 7);
            r.reverse();
            GetStatementResultOutput::builder()
                .set_column_metadata(Some(cols))
                .records(r)
                .build()
                .unwrap()
        });
        let api = DataApi::new(mock_client!(aws_sdk_redshiftdata, [&rule]));
        let rows = api.fetch_rows(ID, far()).await.unwrap().queries;
        assert_eq!(rows[0].user.as_deref(), Some("bob"));
        assert_eq!(rows[0].pid, 7);
        assert_eq!(rows[0].elapsed_minutes, 42);
    }

    #[tokio::test(start_paused = true)]
    async fn a_missing_column_is_named() {
        let rule = mock!(Client::get_statement_result).then_output(|| {
            let cols: Vec<_> = columns()
                .into_iter()
                .filter(|c| c.name() != Some("pid"))
                .collect();
            GetStatementResultOutput::builder()
                .set_column_metadata(Some(cols))
                .set_records(Some(vec![]))
                .build()
                .unwrap()
        });
        let api = DataApi::new(mock_client!(aws_sdk_redshiftdata, [&rule]));
        let err = api.fetch_rows(ID, far()).await.unwrap_err();
        assert!(
            matches!(err, RedshiftError::MissingColumn { column: "pid", .. }),
            "{err}"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_wrongly_typed_cell_names_column_and_row() {
        let rule = mock!(Client::get_statement_result).then_output(|| {
            let mut r = row(Some("a"), 1);
            r[1] = Field::StringValue("not a pid".into());
            page(vec![row(Some("a"), 1), r], None, true)
        });
        let api = DataApi::new(mock_client!(aws_sdk_redshiftdata, [&rule]));
        let err = api.fetch_rows(ID, far()).await.unwrap_err();
        let text = err.to_string();
        assert!(text.contains("row 2") && text.contains("`pid`"), "{text}");
    }

    #[tokio::test(start_paused = true)]
    async fn null_text_and_null_flag_are_not_a_crash() {
        let rule = mock!(Client::get_statement_result).then_output(|| {
            let mut r = row(Some("a"), 1);
            r[5] = Field::IsNull(true);
            r[6] = Field::IsNull(true);
            page(vec![r], None, true)
        });
        let api = DataApi::new(mock_client!(aws_sdk_redshiftdata, [&rule]));
        let rows = api.fetch_rows(ID, far()).await.unwrap().queries;
        assert_eq!(rows[0].text, "");
        assert!(!rows[0].text_truncated);
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
                    && r.statement_name() == Some(sql::STATEMENT_NAME)
                    && r.cluster_identifier() == Some("c")
                    && r.database() == Some("dev")
                    && r.db_user() == Some("monitor")
                    && r.secret_arn().is_none()
                    && params
                        == [
                            ("min_minutes".to_owned(), "30".to_owned()),
                            ("max_minutes".to_owned(), "60".to_owned()),
                        ]
            })
            .then_output(|| ExecuteStatementOutput::builder().id(ID).build());
        let api = DataApi::new(mock_client!(aws_sdk_redshiftdata, [&rule]));
        let params = vec![("min_minutes", "30".into()), ("max_minutes", "60".into())];
        let id = api
            .submit(&secret(), "select 1", params, far())
            .await
            .unwrap();
        assert_eq!(id, ID);
        assert_eq!(rule.num_calls(), 1);
    }

    #[test]
    fn redshift_timestamps_parse_with_or_without_fraction() {
        for (text, expect) in [
            ("2026-11-28 09:15:00", "2026-11-28T09:15:00Z"),
            ("2026-11-28 09:15:00.5", "2026-11-28T09:15:00.5Z"),
            ("2026-11-28T09:15:00", "2026-11-28T09:15:00Z"),
        ] {
            assert_eq!(parse_redshift_timestamp(text).unwrap().to_string(), expect);
        }
        assert!(parse_redshift_timestamp("yesterday").is_none());
    }
}
