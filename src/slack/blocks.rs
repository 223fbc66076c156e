//! Typed Block Kit: the few block kinds the messages use, each keeping Slack's limits as an
//! invariant of its constructor, so no message can be refused for its size.

use serde_json::{json, Value};

use super::mrkdwn::{cut, cut_plain, HEADER_TEXT_LIMIT, SECTION_TEXT_LIMIT};

/// Slack refuses a message with more blocks.
pub const MAX_BLOCKS: usize = 50;
/// Slack's limit for a `block_id`.
const BLOCK_ID_LIMIT: usize = 255;
/// Slack refuses empty texts; this stands in (it never happens by construction).
const EMPTY: &str = "…";

/// A stable name for a block, unique within its message: tests and later updates find a query
/// by it, never by parsing prose.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlockId(String);

impl BlockId {
    pub fn new(id: impl Into<String>) -> BlockId {
        let mut id: String = id.into();
        if id.len() > BLOCK_ID_LIMIT {
            let mut end = BLOCK_ID_LIMIT;
            while !id.is_char_boundary(end) {
                end -= 1;
            }
            id.truncate(end);
        }
        BlockId(id)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Block {
    /// Plain text, at most 150 characters.
    Header(String),
    /// One mrkdwn element, at most 3,000 characters.
    Context(String),
    /// Mrkdwn, at most 3,000 characters.
    Section {
        id: Option<BlockId>,
        text: String,
        /// A button beside the text.
        button: Option<Button>,
    },
    Divider,
}

/// A button with a confirmation dialog (Slack asks before it sends the click).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Button {
    action_id: String,
    text: String,
    value: String,
    danger: bool,
    confirm: Confirm,
}

/// The dialog: a title (100 characters), a text (300), and the two choices (30 each).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Confirm {
    pub title: String,
    pub text: String,
    pub yes: String,
    pub no: String,
}

/// Slack's limits on a button and its dialog.
const BUTTON_TEXT_LIMIT: usize = 75;
const BUTTON_VALUE_LIMIT: usize = 2000;
const CONFIRM_TITLE_LIMIT: usize = 100;
const CONFIRM_TEXT_LIMIT: usize = 300;
const CONFIRM_CHOICE_LIMIT: usize = 30;

impl Button {
    /// A button; `None` when `value` is over Slack's limit (a value is never cut: it is read
    /// back).
    pub fn new(
        action_id: &str,
        text: &str,
        value: String,
        danger: bool,
        confirm: Confirm,
    ) -> Option<Button> {
        (value.len() <= BUTTON_VALUE_LIMIT).then(|| Button {
            action_id: action_id.to_owned(),
            text: non_empty(cut_plain(text, BUTTON_TEXT_LIMIT)),
            value,
            danger,
            confirm: Confirm {
                title: non_empty(cut_plain(&confirm.title, CONFIRM_TITLE_LIMIT)),
                text: non_empty(cut(&confirm.text, CONFIRM_TEXT_LIMIT)),
                yes: non_empty(cut_plain(&confirm.yes, CONFIRM_CHOICE_LIMIT)),
                no: non_empty(cut_plain(&confirm.no, CONFIRM_CHOICE_LIMIT)),
            },
        })
    }

    fn to_json(&self) -> Value {
        let plain = |t: &str| json!({"type": "plain_text", "text": t, "emoji": true});
        let mut confirm = json!({
            "title": plain(&self.confirm.title),
            "text": {"type": "mrkdwn", "text": self.confirm.text},
            "confirm": plain(&self.confirm.yes),
            "deny": plain(&self.confirm.no),
        });
        let mut button = json!({
            "type": "button",
            "action_id": self.action_id,
            "text": plain(&self.text),
            "value": self.value,
        });
        if self.danger {
            button["style"] = json!("danger");
            confirm["style"] = json!("danger");
        }
        button["confirm"] = confirm;
        button
    }
}

fn non_empty(text: String) -> String {
    if text.trim().is_empty() {
        EMPTY.to_owned()
    } else {
        text
    }
}

impl Block {
    pub fn header(plain: &str) -> Block {
        Block::Header(non_empty(cut_plain(plain, HEADER_TEXT_LIMIT)))
    }

    pub fn context(mrkdwn: &str) -> Block {
        Block::Context(non_empty(cut(mrkdwn, SECTION_TEXT_LIMIT)))
    }

    pub fn section(mrkdwn: &str) -> Block {
        Block::Section {
            id: None,
            text: non_empty(cut(mrkdwn, SECTION_TEXT_LIMIT)),
            button: None,
        }
    }

    pub fn section_with_id(id: BlockId, mrkdwn: &str) -> Block {
        Block::Section {
            id: Some(id),
            text: non_empty(cut(mrkdwn, SECTION_TEXT_LIMIT)),
            button: None,
        }
    }

    /// This section with `button` beside its text (other blocks are returned as they are).
    pub fn with_button(self, button: Option<Button>) -> Block {
        match self {
            Block::Section { id, text, .. } => Block::Section { id, text, button },
            other => other,
        }
    }

    pub fn to_json(&self) -> Value {
        match self {
            Block::Header(text) => {
                json!({"type": "header", "text": {"type": "plain_text", "text": text, "emoji": true}})
            }
            Block::Context(text) => {
                json!({"type": "context", "elements": [{"type": "mrkdwn", "text": text}]})
            }
            Block::Section { id, text, button } => {
                let mut block =
                    json!({"type": "section", "text": {"type": "mrkdwn", "text": text}});
                if let Some(id) = id {
                    block["block_id"] = json!(id.as_str());
                }
                if let Some(button) = button {
                    block["accessory"] = button.to_json();
                }
                block
            }
            Block::Divider => json!({"type": "divider"}),
        }
    }
}

/// A message: blocks, and the mrkdwn fallback text that notifications show.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    text: String,
    blocks: Vec<Block>,
}

impl Message {
    pub fn new(fallback: &str) -> Message {
        Message {
            text: non_empty(cut(fallback, SECTION_TEXT_LIMIT)),
            blocks: Vec::new(),
        }
    }

    /// Adds a block; `false` (and nothing added) when the message is full.
    pub fn push(&mut self, block: Block) -> bool {
        if self.blocks.len() >= MAX_BLOCKS {
            return false;
        }
        self.blocks.push(block);
        true
    }

    pub fn blocks(&self) -> &[Block] {
        &self.blocks
    }

    pub fn text(&self) -> &str {
        &self.text
    }

    /// The body an incoming webhook takes (the Web API adds its channel and thread to it).
    pub fn to_json(&self) -> Value {
        json!({
            "text": self.text,
            "blocks": self.blocks.iter().map(Block::to_json).collect::<Vec<_>>(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::slack::mrkdwn::utf16_len;

    #[test]
    fn constructors_keep_every_block_within_slacks_limits() {
        let long = "x".repeat(10_000);
        for block in [
            Block::header(&long),
            Block::context(&long),
            Block::section(&long),
            Block::section_with_id(BlockId::new("y".repeat(400)), &long),
        ] {
            let json = block.to_json();
            let text = json["text"]["text"]
                .as_str()
                .or(json["elements"][0]["text"].as_str())
                .unwrap();
            let limit = if json["type"] == "header" {
                HEADER_TEXT_LIMIT
            } else {
                SECTION_TEXT_LIMIT
            };
            assert!(utf16_len(text) <= limit);
            if let Some(id) = json["block_id"].as_str() {
                assert!(id.len() <= BLOCK_ID_LIMIT);
            }
        }
        assert_eq!(Block::section("  ").to_json()["text"]["text"], EMPTY);
    }

    #[test]
    fn a_message_refuses_the_fifty_first_block() {
        let mut m = Message::new("fallback");
        for _ in 0..MAX_BLOCKS {
            assert!(m.push(Block::Divider));
        }
        assert!(!m.push(Block::Divider));
        assert_eq!(m.to_json()["blocks"].as_array().unwrap().len(), MAX_BLOCKS);
    }
}
