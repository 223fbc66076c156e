//! 日本語 (Japanese), written as a Japanese engineer writes an alert, not word for word:
//! counters (件, 行目), durations as `1時間5分`, dates as `2026/11/28(土) 18:15:00 JST`, full-width
//! brackets and colons in sentences. Code, SQL and names stay as they are, in code spans.

use super::{
    ContextFacts, HolderFacts, IdleFacts, Phrases, QueryFacts, ThreadContextFacts, ThreadState,
};
use crate::interaction::Outcome as CancelOutcome;
use crate::long_queries::ended::Outcome;
use crate::model::QueryState;

pub struct Japanese;

/// `45分`, `1時間5分`, `2時間`.
fn duration(minutes: i64) -> String {
    let (h, m) = (minutes / 60, minutes % 60);
    match (h, m) {
        (0, m) => format!("{m}分"),
        (h, 0) => format!("{h}時間"),
        (h, m) => format!("{h}時間{m}分"),
    }
}

fn weekday(at: &jiff::ZonedDateTime) -> &'static str {
    use jiff::civil::Weekday::*;
    match at.weekday() {
        Monday => "月",
        Tuesday => "火",
        Wednesday => "水",
        Thursday => "木",
        Friday => "金",
        Saturday => "土",
        Sunday => "日",
    }
}

impl Phrases for Japanese {
    fn header(&self, count: usize, min_minutes: u32) -> String {
        format!("{min_minutes}分以上実行中のRedshiftクエリ：{count}件")
    }

    fn part(&self, part: usize, parts: usize) -> String {
        format!("（{part}/{parts}）")
    }

    fn context(&self, f: &ContextFacts<'_>) -> String {
        let kind = if f.serverless {
            "ワークグループ"
        } else {
            "クラスター"
        };
        let mut line = format!(
            "{kind} {} ・ データベース {} ・ 経過時間 {}〜{}分 ・ 時刻は{}",
            f.target,
            f.database,
            f.window.min_minutes,
            f.window.max_minutes.saturating_sub(1),
            f.timezone
        );
        if let Some(all) = f.past_threshold_total {
            line.push_str(&format!(
                " ・ {}分超えは全部で{all}件",
                f.window.min_minutes
            ));
        }
        line
    }

    fn details(&self, f: &QueryFacts<'_>) -> String {
        let pid = f.pid;
        let number = f.number.map(|n| format!("*{n}.* ")).unwrap_or_default();
        let who = format!(
            "{number}ユーザー {} ・ pid `{pid}` ・ クエリID `{}`",
            f.user, f.query_id
        );
        if !f.running {
            return format!("{who}\n開始 {}", f.started);
        }
        let queue = f
            .queue
            .map(|q| format!("キュー {q} "))
            .unwrap_or_else(|| "キュー".to_owned());
        let how = match f.state {
            QueryState::Queued => format!(
                "投入 {} ・ *{queue}で{}待機中*",
                f.started,
                duration(f.elapsed_minutes)
            ),
            state => {
                let mut line = format!(
                    "開始 {} ・ 実行時間 *{}*",
                    f.started,
                    duration(f.elapsed_minutes)
                );
                if state == QueryState::Returning {
                    line.push_str("（結果を返却中）");
                }
                if let Some(waited) = f.queue_minutes.filter(|m| *m > 0) {
                    line.push_str(&format!("（実行前に{queue}で{}待機）", duration(waited)));
                }
                line
            }
        };
        format!(
            "{who}\n{how}\n\
             止めるには：`CANCEL {pid};` または `SELECT pg_terminate_backend({pid});`"
        )
    }

    fn blocked_by(&self, h: &HolderFacts<'_>) -> String {
        let root = if h.root {
            " ― *これが大元です*"
        } else {
            ""
        };
        format!(
            ":lock: {} のロック待ち：pid `{}`（{}、{}、{}から）が保持{root}",
            h.table, h.pid, h.user, h.lock_mode, h.since
        )
    }

    fn blocked_by_more(&self, more: usize) -> String {
        format!(":lock: …ほかに保持者が{more}件あります")
    }

    fn blocks(&self, sessions: usize) -> String {
        format!(":no_entry: ほかのセッションを止めています：{sessions}件がこのクエリのロックを待っています")
    }

    fn chain_root(&self, pid: i64) -> String {
        format!(":link: ロック待ちの大元は pid `{pid}` です")
    }

    fn idle_context(&self, f: &ContextFacts<'_>) -> String {
        let kind = if f.serverless {
            "ワークグループ"
        } else {
            "クラスター"
        };
        format!(
            "{kind} {} ・ データベース {} ・ 時刻は{}",
            f.target, f.database, f.timezone
        )
    }

    fn list_separator(&self) -> &'static str {
        "、"
    }

    fn idle_header(&self, count: usize, min_minutes: u32) -> String {
        format!("ロックを保持したまま{min_minutes}分以上放置されたトランザクション：{count}件")
    }

    fn idle_session(&self, f: &IdleFacts<'_>) -> String {
        let pid = f.pid;
        let more = if f.more_tables > 0 {
            format!(" ほか{}件", f.more_tables)
        } else {
            String::new()
        };
        let blocked = if f.sessions_blocked > 0 {
            format!(" ・ *{}件のセッションを止めています*", f.sessions_blocked)
        } else {
            String::new()
        };
        format!(
            "ユーザー {} ・ pid `{pid}` ・ *{}*操作なし（トランザクション開始 {}）\n\
             ロック中のテーブル：{}{more}{blocked}\n\
             終了させるには：`SELECT pg_terminate_backend({pid});`（トランザクションはロールバックされます）",
            f.user,
            duration(f.idle_minutes),
            f.transaction_start,
            f.tables
        )
    }

    fn idle_fallback_line(&self, pid: i64, user: &str, idle_minutes: i64) -> String {
        format!("{user} pid {pid} 放置{}", duration(idle_minutes))
    }

    fn idle_more(&self, more: usize) -> String {
        format!(
            "…ほかに放置中のセッションが{more}件あります（実行結果のJSONサマリーに一覧があります）"
        )
    }

    fn start_time(&self, at: &jiff::ZonedDateTime) -> String {
        format!(
            "{}({}) {}",
            at.strftime("%Y/%m/%d"),
            weekday(at),
            at.strftime("%H:%M:%S %Z")
        )
    }

    fn dropped_user(&self) -> &'static str {
        "（削除済みのユーザー）"
    }

    fn no_text(&self) -> &'static str {
        "_（クエリ本文なし）_"
    }

    fn cut_chars(&self, omitted: usize) -> String {
        format!("_…以降の{omitted}文字は省略しました_")
    }

    fn cut_by_redshift(&self) -> &'static str {
        "_…Redshiftが保持している範囲までしか本文を表示できません_"
    }

    fn fallback_intro(&self, header: &str, target: &str, database: &str) -> String {
        format!("【{target}/{database}】{header}")
    }

    fn fallback_line(&self, number: usize, user: &str, pid: i64, elapsed_minutes: i64) -> String {
        format!(
            "{number}. {user} pid {pid} 実行時間{}",
            duration(elapsed_minutes)
        )
    }

    fn unreadable_heading(&self, count: usize) -> String {
        format!(
            ":warning: 読み取れなかった結果行が{count}件あります（ほかのクエリは表示しています）："
        )
    }

    fn unreadable_row(&self, row: usize, pid: Option<i64>, problem: &str) -> String {
        match pid {
            Some(pid) => format!("• {row}行目（pid `{pid}`）：{problem}"),
            None => format!("• {row}行目：{problem}"),
        }
    }

    fn overflow_header(&self, more: usize) -> String {
        format!("…ほかにも長時間実行中のクエリが{more}件あります")
    }

    fn overflow_body(&self, more: usize, shown: usize) -> String {
        format!(
            "1回の実行で投稿するのは先頭の{shown}件までです。残りの{more}件は実行結果のJSON\
             サマリーとメトリクスで確認できます。"
        )
    }

    fn cancel_button(&self) -> &'static str {
        "クエリをキャンセル"
    }

    fn cancel_confirm_title(&self) -> &'static str {
        "このクエリをキャンセルしますか？"
    }

    fn cancel_confirm_text(&self, user: &str, pid: i64, elapsed_minutes: i64, sql: &str) -> String {
        format!(
            "ユーザー {user} ・ pid `{pid}` ・ 実行時間{}\n{sql}\nトランザクションはロールバックされます。",
            duration(elapsed_minutes)
        )
    }

    fn cancel_confirm_yes(&self) -> &'static str {
        "キャンセルする"
    }

    fn cancel_confirm_no(&self) -> &'static str {
        "実行を続ける"
    }

    fn cancel_reply(&self, outcome: CancelOutcome, who: &str, pid: i64, at: &str) -> String {
        match outcome {
            CancelOutcome::Cancelled => {
                format!(":octagonal_sign: {at}に{who}さんがキャンセルしました（pid `{pid}`）。")
            }
            CancelOutcome::AlreadyEnded => format!(
                ":information_source: {at}に{who}さんがキャンセルを依頼しましたが、クエリはすでに\
                 終了していました（pid `{pid}` は別の処理中か終了済み）。何もキャンセルしていません。"
            ),
            CancelOutcome::Pending => format!(
                ":hourglass: {at}に{who}さんがキャンセルを依頼しました（pid `{pid}`）。Redshiftの\
                 応答がまだないため、結果は次回のチェックでお知らせします。"
            ),
            CancelOutcome::Failed => format!(
                ":warning: {at}に{who}さんがキャンセルを依頼しましたが、Redshiftで失敗しました\
                 （pid `{pid}`）。何もキャンセルしていません。理由は関数のログを確認してください。"
            ),
            CancelOutcome::NotAllowed => format!(
                ":no_entry: {who}さんにはクエリをキャンセルする権限がありません。何も実行していません。"
            ),
            CancelOutcome::NotConfigured => format!(
                ":no_entry: {who}さん、このクラスターではキャンセルが設定されていません（シークレットに\
                 キャンセル用の認証情報がありません）。何も実行していません。"
            ),
        }
    }

    fn thread_header(&self, state: ThreadState) -> String {
        match state {
            ThreadState::Running {
                minutes,
                queued: true,
                ..
            } => format!(
                ":hourglass_flowing_sand: Redshiftクエリがキューで待機中です（{}経過）",
                duration(minutes)
            ),
            ThreadState::Running {
                minutes,
                critical: false,
                ..
            } => format!(
                ":hourglass_flowing_sand: Redshiftクエリが実行中です（{}経過）",
                duration(minutes)
            ),
            ThreadState::Running {
                minutes,
                critical: true,
                ..
            } => format!(
                ":rotating_light: Redshiftクエリが{}経過しても終わっていません",
                duration(minutes)
            ),
            ThreadState::Ended { outcome, minutes } => {
                let ran = minutes.map(duration);
                match (outcome, ran) {
                    (Outcome::Finished, Some(d)) => {
                        format!(":white_check_mark: Redshiftクエリが完了しました（実行時間{d}）")
                    }
                    (Outcome::Failed, Some(d)) => {
                        format!(":x: Redshiftクエリが失敗しました（実行時間{d}）")
                    }
                    (Outcome::Cancelled, Some(d)) => {
                        format!(
                            ":no_entry_sign: Redshiftクエリがキャンセルされました（実行時間{d}）"
                        )
                    }
                    (Outcome::Unknown, Some(d)) => format!(
                        ":grey_question: Redshiftクエリは実行中ではなくなりました（{d}以上実行）"
                    ),
                    (Outcome::Finished, None) => {
                        ":white_check_mark: Redshiftクエリが完了しました".to_owned()
                    }
                    (Outcome::Failed, None) => ":x: Redshiftクエリが失敗しました".to_owned(),
                    (Outcome::Cancelled, None) => {
                        ":no_entry_sign: Redshiftクエリがキャンセルされました".to_owned()
                    }
                    (Outcome::Unknown, None) => {
                        ":grey_question: Redshiftクエリは実行中ではなくなりました".to_owned()
                    }
                }
            }
        }
    }

    fn thread_context(&self, f: &ThreadContextFacts<'_>) -> String {
        let kind = if f.serverless {
            "ワークグループ"
        } else {
            "クラスター"
        };
        format!(
            "{kind} {} ・ データベース {} ・ 通知 {}分、要対応 {}分 ・ 時刻は{} ・ 最終確認 {}",
            f.target, f.database, f.threshold_minutes, f.critical_minutes, f.timezone, f.checked
        )
    }

    fn thread_fallback(&self, header: &str, target: &str, database: &str) -> String {
        format!("【{target}/{database}】{header}")
    }

    fn clock_time(&self, at: &jiff::ZonedDateTime) -> String {
        at.strftime("%H:%M %Z").to_string()
    }

    fn critical_reply(&self, mentions: &str, minutes: i64, critical_minutes: u32) -> String {
        let lead = if mentions.is_empty() {
            String::new()
        } else {
            format!("{mentions} ")
        };
        format!(
            "{lead}:rotating_light: {}経過してもまだ実行中です。要対応の目安（{critical_minutes}分）を\
             超えました。",
            duration(minutes)
        )
    }

    fn ended_reply(&self, outcome: Outcome, minutes: Option<i64>, ended: Option<&str>) -> String {
        let at = ended.map(|t| format!("{t}に")).unwrap_or_default();
        let ran = minutes
            .map(|m| format!("（実行時間{}）", duration(m)))
            .unwrap_or_default();
        match outcome {
            Outcome::Finished => format!(":white_check_mark: {at}完了しました{ran}。"),
            Outcome::Failed => format!(":x: {at}失敗しました{ran}。"),
            Outcome::Cancelled => format!(":no_entry_sign: {at}キャンセルされました{ran}。"),
            Outcome::Unknown => {
                let least = minutes
                    .map(|m| format!("（{}以上実行）", duration(m)))
                    .unwrap_or_default();
                format!(
                    ":grey_question: 実行中ではなくなりました{least}。どのように終了したかは\
                     システムビューに残っていません。"
                )
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_and_dates_read_as_japanese_readers_write_them() {
        assert_eq!(duration(45), "45分");
        assert_eq!(duration(65), "1時間5分");
        assert_eq!(duration(120), "2時間");
        let at: jiff::Timestamp = "2026-11-28T09:15:00Z".parse().unwrap();
        let tokyo = at.to_zoned_datetime(jiff::tz::TimeZone::get("Asia/Tokyo").unwrap());
        assert_eq!(Japanese.start_time(&tokyo), "2026/11/28(土) 18:15:00 JST");
    }
}
