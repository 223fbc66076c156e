//! The vocabulary every other module speaks: minutes, windows, time zones, where a statement
//! runs, how alerts are announced. It imports nothing from the crate, so arrows point inward:
//! adapters and checks depend on it, never the other way round.
//!
//! Each type checks its invariant once, in its constructor; code that holds one never checks
//! again.

mod secret;

use std::fmt;
use std::num::NonZeroU32;

pub use secret::{ChannelId, Interactivity, Masker, Secret, SecretUrl, SlackAccess, UrlProblem};

/// A whole number of minutes from 1 to [`Minutes::MAX`] (a week). Zero is refused because a
/// window `[0, 0)` reports nothing; past a week a typo (seconds for minutes) is far likelier
/// than a real wish.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Minutes(NonZeroU32);

impl Minutes {
    pub const MAX: u32 = 7 * 24 * 60;
    /// What error messages say is accepted.
    pub const EXPECTED: &'static str = "a whole number of minutes from 1 to 10080 (7 days)";

    pub const fn new(minutes: u32) -> Option<Minutes> {
        match NonZeroU32::new(minutes) {
            Some(m) if minutes <= Self::MAX => Some(Minutes(m)),
            _ => None,
        }
    }

    /// Reads `" 45 "` as 45; anything else (signs, fractions, out of range) is `None`.
    pub fn parse(text: &str) -> Option<Minutes> {
        text.trim().parse::<u32>().ok().and_then(Minutes::new)
    }

    pub const fn get(self) -> u32 {
        self.0.get()
    }
}

// The docs and the template spell the range out; keep them honest.
const _: () = assert!(Minutes::MAX == 10_080);

impl fmt::Display for Minutes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// Elapsed-minutes bounds: `min_minutes` inclusive, `max_minutes` exclusive.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct Window {
    pub min_minutes: u32,
    pub max_minutes: u32,
}

impl Window {
    /// `[threshold, threshold + span)`. Both are at most a week, so the sum cannot overflow.
    pub fn new(threshold: Minutes, span: Minutes) -> Window {
        Window {
            min_minutes: threshold.get(),
            max_minutes: threshold.get() + span.get(),
        }
    }

    /// `[threshold, ∞)`: [`Window::UNBOUNDED`] stands for no upper bound.
    pub fn starting_at(threshold: Minutes) -> Window {
        Window {
            min_minutes: threshold.get(),
            max_minutes: Window::UNBOUNDED,
        }
    }

    /// An upper bound no query reaches (about 1,900 years), that still fits a Redshift
    /// `integer` when the statement compares with it.
    pub const UNBOUNDED: u32 = i32::MAX as u32;

    pub fn is_unbounded(&self) -> bool {
        self.max_minutes >= Window::UNBOUNDED
    }

    pub fn contains(&self, elapsed_minutes: i64) -> bool {
        elapsed_minutes >= i64::from(self.min_minutes)
            && elapsed_minutes < i64::from(self.max_minutes)
    }

    /// The smallest window that holds both.
    pub fn union(self, other: Window) -> Window {
        Window {
            min_minutes: self.min_minutes.min(other.min_minutes),
            max_minutes: self.max_minutes.max(other.max_minutes),
        }
    }
}

/// An IANA time zone with the name it was given, so messages and the summary can say it.
#[derive(Debug, Clone)]
pub struct Zone {
    name: String,
    tz: jiff::tz::TimeZone,
}

impl Zone {
    pub const DEFAULT: &'static str = "UTC";
    pub const EXPECTED: &'static str =
        "an IANA time-zone name such as `UTC`, `Asia/Tokyo` or `America/New_York`";

    /// Looks the name up in the time-zone database bundled into the binary: the Lambda image
    /// has no guaranteed `/usr/share/zoneinfo`.
    pub fn parse(name: &str) -> Option<Zone> {
        let name = name.trim();
        let tz = jiff::tz::TimeZone::get(name).ok()?;
        Some(Zone {
            name: name.to_owned(),
            tz,
        })
    }

    pub fn utc() -> Zone {
        Zone {
            name: Self::DEFAULT.to_owned(),
            tz: jiff::tz::TimeZone::UTC,
        }
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn tz(&self) -> &jiff::tz::TimeZone {
        &self.tz
    }
}

/// Where statements run.
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
}

/// How the Data API signs in to the database. The values are not credentials themselves, but
/// they say who may read every user's queries, so `Debug` keeps them out of logs.
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

/// Everything the Data API needs to run a statement.
#[derive(Clone, PartialEq, Eq)]
pub struct Connection {
    pub target: Target,
    pub database: String,
    pub auth: DbAuth,
}

impl fmt::Debug for Connection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Connection")
            .field("target", &self.target)
            .field("auth", &self.auth)
            .finish_non_exhaustive()
    }
}

/// Which system views list the running queries, as asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum QuerySource {
    /// `SVV_QUERY_INFLIGHT` on a provisioned cluster, the SYS views on Serverless.
    Auto,
    Svv,
    Sys,
}

impl QuerySource {
    pub const EXPECTED: &'static str = "\"auto\", \"svv\" or \"sys\"";

    pub fn parse(text: &str) -> Option<Self> {
        match text.trim().to_ascii_lowercase().as_str() {
            "auto" => Some(QuerySource::Auto),
            "svv" => Some(QuerySource::Svv),
            "sys" => Some(QuerySource::Sys),
            _ => None,
        }
    }

    /// The views a statement reads on `target`; `None` where they do not exist (Serverless has
    /// no `SVV_QUERY_INFLIGHT`).
    pub fn views_on(self, target: &Target) -> Option<Views> {
        match (self, target) {
            (QuerySource::Auto | QuerySource::Svv, Target::Cluster(_)) => Some(Views::Inflight),
            (QuerySource::Sys, _) | (QuerySource::Auto, Target::Workgroup(_)) => Some(Views::Sys),
            (QuerySource::Svv, Target::Workgroup(_)) => None,
        }
    }
}

/// The system views a statement reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Views {
    /// `SVV_QUERY_INFLIGHT` (provisioned clusters).
    Inflight,
    /// `SYS_QUERY_HISTORY` + `SYS_QUERY_TEXT` (Serverless and provisioned).
    Sys,
}

/// How often a long query is announced.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AlertMode {
    /// In every run while its elapsed time lies in `[N, 2N)`.
    Window,
    /// Once: in the run in which its elapsed time first crossed N, for a schedule every P minutes.
    Once { schedule: Minutes },
    /// One Slack thread per query from N until it ends: posted once, updated at every run,
    /// escalated once at the critical point, resolved when the query ends.
    Thread,
}

/// `alert_mode` as named, before the schedule's period is known.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AlertModeName {
    Window,
    Once,
    Thread,
}

impl AlertModeName {
    pub const EXPECTED: &'static str = "\"window\", \"once\" or \"thread\"";

    pub fn parse(text: &str) -> Option<Self> {
        match text.trim().to_ascii_lowercase().as_str() {
            "window" => Some(AlertModeName::Window),
            "once" => Some(AlertModeName::Once),
            "thread" => Some(AlertModeName::Thread),
            _ => None,
        }
    }
}

impl AlertMode {
    pub fn name(&self) -> &'static str {
        match self {
            AlertMode::Window => "window",
            AlertMode::Once { .. } => "once",
            AlertMode::Thread => "thread",
        }
    }

    /// The elapsed-minutes window for a threshold T: `[T, 2T)` by default, so a schedule that
    /// runs more often than every T minutes sees every long query at least once and a query
    /// past 2T is no longer re-announced; `[T, T+P)` in `once` mode, so each query falls into
    /// exactly one run's window; `[T, ∞)` in `thread` mode, which follows a query until it ends.
    pub fn window_for(&self, threshold: Minutes) -> Window {
        match self {
            AlertMode::Window => Window::new(threshold, threshold),
            AlertMode::Once { schedule } => Window::new(threshold, *schedule),
            AlertMode::Thread => Window::starting_at(threshold),
        }
    }
}

/// Where a reported query stands in Redshift's workload management.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum QueryState {
    #[default]
    Running,
    /// Waiting in a WLM queue: not running yet.
    Queued,
    /// Done computing, sending its rows to the client.
    Returning,
}

impl QueryState {
    /// As the system views spell it (`STV_WLM_QUERY_STATE.state`, `SYS_QUERY_HISTORY.status`),
    /// any case; other states (planning, …) count as running.
    pub fn from_view(text: &str) -> QueryState {
        match text.trim().to_ascii_lowercase().as_str() {
            "queued" => QueryState::Queued,
            "returning" => QueryState::Returning,
            _ => QueryState::Running,
        }
    }
}

/// The optional checks that run beside the long-query check, which always runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct Checks {
    /// Queries waiting in a WLM queue for N minutes or more, reported like running ones.
    pub queued: bool,
    /// Who holds the lock a reported query waits for, and whom it blocks.
    pub blocking: bool,
    /// Sessions idle in an open transaction for N minutes or more that hold locks.
    pub idle_transactions: bool,
}

impl Default for Checks {
    /// All of them.
    fn default() -> Self {
        Checks {
            queued: true,
            blocking: true,
            idle_transactions: true,
        }
    }
}

impl Checks {
    pub const EXPECTED: &'static str = "a list of checks among \"long_queries\" (always runs), \
         \"queued\", \"blocking\" and \"idle_transactions\"";

    /// Exactly the named checks (`long_queries` may be named; it always runs).
    pub fn parse<'a>(names: impl IntoIterator<Item = &'a str>) -> Option<Checks> {
        let mut checks = Checks {
            queued: false,
            blocking: false,
            idle_transactions: false,
        };
        for name in names {
            match name.trim() {
                "long_queries" => {}
                "queued" => checks.queued = true,
                "blocking" => checks.blocking = true,
                "idle_transactions" => checks.idle_transactions = true,
                _ => return None,
            }
        }
        Some(checks)
    }
}

/// The language of everything a Slack reader sees (logs, errors and the summary stay English).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Language {
    #[default]
    En,
    Ja,
}

impl Language {
    /// Every language, in the order the docs list them.
    pub const ALL: [Language; 2] = [Language::En, Language::Ja];
    pub const EXPECTED: &'static str = "one of \"en\" (English) or \"ja\" (Japanese)";

    pub fn parse(text: &str) -> Option<Language> {
        Language::ALL
            .into_iter()
            .find(|l| l.code().eq_ignore_ascii_case(text.trim()))
    }

    /// The ISO 639-1 code.
    pub fn code(self) -> &'static str {
        match self {
            Language::En => "en",
            Language::Ja => "ja",
        }
    }
}

/// A Slack mention, checked to be one: `<@U…>` / `<@W…>` (a user), `<!subteam^S…>` (a user
/// group), `<!here>`, `<!channel>` or `<!everyone>`; several may be given, separated by single
/// spaces. Anything else would reach the channel as raw markup, so it is refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mention(String);

impl Mention {
    pub const EXPECTED: &'static str =
        "a Slack mention such as \"<@U012AB3CD>\", \"<!subteam^S012AB3CD>\" or \"<!here>\"";

    pub fn parse(text: &str) -> Option<Mention> {
        let text = text.trim();
        let valid = !text.is_empty() && text.len() <= 1000 && text.split(' ').all(is_one_mention);
        valid.then(|| Mention(text.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

fn is_one_mention(token: &str) -> bool {
    let Some(inner) = token.strip_prefix('<').and_then(|t| t.strip_suffix('>')) else {
        return false;
    };
    let id_ok = |id: &str| id.len() >= 2 && id.chars().all(|c| c.is_ascii_alphanumeric());
    if let Some(id) = inner.strip_prefix('@') {
        return id.starts_with(['U', 'W']) && id_ok(id);
    }
    if let Some(id) = inner.strip_prefix("!subteam^") {
        return id_ok(id);
    }
    matches!(inner, "!here" | "!channel" | "!everyone")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn minutes_accept_one_to_a_week_and_nothing_else() {
        assert_eq!(Minutes::new(1).map(Minutes::get), Some(1));
        assert_eq!(Minutes::new(10_080).map(Minutes::get), Some(10_080));
        for bad in [0, 10_081, u32::MAX] {
            assert!(Minutes::new(bad).is_none(), "{bad}");
        }
        assert_eq!(Minutes::parse(" 45 ").map(Minutes::get), Some(45));
        for bad in ["", "abc", "-1", "1.5", "99999999999"] {
            assert!(Minutes::parse(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn windows_follow_the_alert_mode() {
        let m = |n| Minutes::new(n).unwrap();
        assert_eq!(
            AlertMode::Window.window_for(m(30)),
            Window {
                min_minutes: 30,
                max_minutes: 60
            }
        );
        let once = AlertMode::Once { schedule: m(10) };
        assert_eq!(once.window_for(m(90)).max_minutes, 100);
        let widest = AlertMode::Window.window_for(m(Minutes::MAX));
        assert_eq!(widest.max_minutes, 2 * Minutes::MAX);
        let w = AlertMode::Window.window_for(m(30));
        assert!(w.contains(30) && w.contains(59) && !w.contains(60) && !w.contains(29));
    }

    #[test]
    fn checks_are_named_and_long_queries_always_runs() {
        assert_eq!(
            Checks::parse([]),
            Some(Checks {
                queued: false,
                blocking: false,
                idle_transactions: false
            })
        );
        let some = Checks::parse(["long_queries", "blocking"]).unwrap();
        assert!(some.blocking && !some.queued && !some.idle_transactions);
        assert_eq!(Checks::parse(["queued", "locks"]), None);
        assert_eq!(
            Checks::default(),
            Checks::parse(["queued", "blocking", "idle_transactions"]).unwrap()
        );
    }

    #[test]
    fn languages_are_named_by_their_code_and_nothing_else() {
        assert_eq!(Language::parse(" JA "), Some(Language::Ja));
        assert_eq!(Language::parse("en"), Some(Language::En));
        for bad in ["", "jp", "japanese", "en-US", "fr"] {
            assert_eq!(Language::parse(bad), None, "{bad}");
        }
        for l in Language::ALL {
            assert_eq!(Language::parse(l.code()), Some(l));
            assert!(Language::EXPECTED.contains(l.code()));
        }
    }

    #[test]
    fn serverless_reads_the_sys_views_and_has_no_svv() {
        let cluster = Target::Cluster("c".into());
        let workgroup = Target::Workgroup("w".into());
        assert_eq!(QuerySource::Auto.views_on(&cluster), Some(Views::Inflight));
        assert_eq!(QuerySource::Sys.views_on(&cluster), Some(Views::Sys));
        assert_eq!(QuerySource::Auto.views_on(&workgroup), Some(Views::Sys));
        assert_eq!(QuerySource::Svv.views_on(&workgroup), None);
    }

    #[test]
    fn mentions_are_accepted_only_in_slacks_own_forms() {
        for good in [
            "<@U012AB3CD>",
            "<@W0ABC>",
            "<!subteam^S012AB3CD>",
            "<!here>",
            "<!channel>",
            "<@U01> <!here>",
        ] {
            assert!(Mention::parse(good).is_some(), "{good}");
        }
        for bad in [
            "",
            "@alice",
            "<@alice>",
            "<!here",
            "<https://evil.example|click>",
            "<@U01>  <!here>",
            "<!subteam^>",
            "hello <!here>",
        ] {
            assert!(Mention::parse(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn secrets_and_auth_never_print_their_values() {
        let shown = format!(
            "{:?} {} {:?}",
            Secret::new("tok-123"),
            Secret::new("tok-123"),
            DbAuth::DbUser("monitor_x".into())
        );
        assert!(
            !shown.contains("tok-123") && !shown.contains("monitor_x"),
            "{shown}"
        );
    }
}
