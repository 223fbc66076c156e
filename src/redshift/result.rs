//! A finished statement's rows as plain data, independent of any check: column names and typed
//! cells. Reading is bounded: pages, rows and bytes are capped, and a `NextToken` seen twice
//! ends the loop, so no endpoint can grow the process without bound.

use aws_sdk_redshiftdata::types::{ColumnMetadata, Field};

/// Caps on what one result may hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ResultLimits {
    pub max_pages: usize,
    pub max_rows: usize,
    /// Text and blob bytes over all cells.
    pub max_bytes: usize,
}

impl Default for ResultLimits {
    fn default() -> Self {
        ResultLimits {
            max_pages: 100,
            max_rows: 2_000,
            max_bytes: 24 * 1024 * 1024,
        }
    }
}

/// One cell, as the Data API typed it.
#[derive(Debug, Clone, PartialEq)]
pub enum Cell {
    Null,
    Text(String),
    Long(i64),
    Double(f64),
    Bool(bool),
    /// A blob or a type this SDK version does not know.
    Other(&'static str),
}

impl Cell {
    fn from_field(field: Field) -> Cell {
        match field {
            Field::IsNull(_) => Cell::Null,
            Field::StringValue(s) => Cell::Text(s),
            Field::LongValue(v) => Cell::Long(v),
            Field::DoubleValue(v) => Cell::Double(v),
            Field::BooleanValue(v) => Cell::Bool(v),
            Field::BlobValue(_) => Cell::Other("a blob"),
            _ => Cell::Other("a value of an unknown type"),
        }
    }

    fn bytes(&self) -> usize {
        match self {
            Cell::Text(s) => s.len(),
            _ => 8,
        }
    }

    /// Text, or `None` for NULL.
    pub fn text(&self) -> Result<Option<&str>, CellProblem> {
        match self {
            Cell::Null => Ok(None),
            Cell::Text(s) => Ok(Some(s)),
            other => Err(other.problem("a string or NULL")),
        }
    }

    /// An integer (the Data API sends DECIMAL values, and some drivers integers, as text), or
    /// `None` for NULL.
    pub fn long(&self) -> Result<Option<i64>, CellProblem> {
        match self {
            Cell::Null => Ok(None),
            Cell::Long(v) => Ok(Some(*v)),
            Cell::Text(s) => s
                .trim()
                .parse()
                .map(Some)
                .map_err(|_| self.problem("an integer")),
            other => Err(other.problem("an integer")),
        }
    }

    /// A boolean (also as 0/1 or t/f text), or `None` for NULL.
    pub fn flag(&self) -> Result<Option<bool>, CellProblem> {
        match self {
            Cell::Null => Ok(None),
            Cell::Bool(b) => Ok(Some(*b)),
            Cell::Long(v) => Ok(Some(*v != 0)),
            Cell::Text(s) => match s.trim().to_ascii_lowercase().as_str() {
                "t" | "true" | "1" => Ok(Some(true)),
                "f" | "false" | "0" => Ok(Some(false)),
                _ => Err(self.problem("a boolean")),
            },
            other => Err(other.problem("a boolean")),
        }
    }

    fn problem(&self, expected: &'static str) -> CellProblem {
        CellProblem {
            expected,
            found: self.describe(),
        }
    }

    /// For messages: what the cell holds, shortened.
    pub fn describe(&self) -> String {
        match self {
            Cell::Null => "NULL".into(),
            Cell::Text(s) => {
                let short: String = s.chars().take(40).collect();
                format!("the string {short:?}")
            }
            Cell::Long(v) => format!("the integer {v}"),
            Cell::Double(v) => format!("the number {v}"),
            Cell::Bool(v) => format!("the boolean {v}"),
            Cell::Other(what) => (*what).to_owned(),
        }
    }
}

/// A cell of another kind than the reader expected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("is {found}, expected {expected}")]
pub struct CellProblem {
    pub expected: &'static str,
    pub found: String,
}

/// A column the reader needs is not in the result.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the result has no column `{0}`")]
pub struct MissingColumn(pub &'static str);

/// Every row of a finished statement.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ResultSet {
    pub columns: Vec<String>,
    pub rows: Vec<Vec<Cell>>,
    bytes: usize,
}

/// Why reading stopped early.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Overflow {
    #[error("the result has more than {0} pages")]
    Pages(usize),
    #[error("the result has more than {0} rows")]
    Rows(usize),
    #[error("the result holds more than {0} bytes")]
    Bytes(usize),
    #[error("the Data API repeated a NextToken: it would page forever")]
    RepeatedToken,
}

impl ResultSet {
    /// The position of `name` among the columns (by label or name, any case).
    pub fn column(&self, name: &str) -> Option<usize> {
        self.columns
            .iter()
            .position(|c| c.eq_ignore_ascii_case(name))
    }

    pub fn require(&self, name: &'static str) -> Result<usize, MissingColumn> {
        self.column(name).ok_or(MissingColumn(name))
    }

    /// Adds one page; the first page's column metadata names the columns.
    pub fn add_page(
        &mut self,
        metadata: &[ColumnMetadata],
        records: Vec<Vec<Field>>,
        limits: &ResultLimits,
    ) -> Result<(), Overflow> {
        if self.columns.is_empty() && !metadata.is_empty() {
            self.columns = metadata
                .iter()
                .map(|m| m.label().or(m.name()).unwrap_or_default().to_owned())
                .collect();
        }
        for record in records {
            if self.rows.len() >= limits.max_rows {
                return Err(Overflow::Rows(limits.max_rows));
            }
            let row: Vec<Cell> = record.into_iter().map(Cell::from_field).collect();
            self.bytes += row.iter().map(Cell::bytes).sum::<usize>();
            if self.bytes > limits.max_bytes {
                return Err(Overflow::Bytes(limits.max_bytes));
            }
            self.rows.push(row);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn meta(names: &[&str]) -> Vec<ColumnMetadata> {
        names
            .iter()
            .map(|n| ColumnMetadata::builder().name(*n).label(*n).build())
            .collect()
    }

    #[test]
    fn pages_add_rows_until_a_cap() {
        let limits = ResultLimits {
            max_pages: 10,
            max_rows: 3,
            max_bytes: 100,
        };
        let mut set = ResultSet::default();
        let rows = vec![vec![Field::LongValue(1), Field::StringValue("a".into())]; 2];
        set.add_page(&meta(&["PID", "text"]), rows.clone(), &limits)
            .unwrap();
        assert_eq!(set.column("pid"), Some(0));
        assert_eq!(set.column("TEXT"), Some(1));
        assert_eq!(set.add_page(&[], rows, &limits), Err(Overflow::Rows(3)));
        let mut big = ResultSet::default();
        let huge = vec![vec![Field::StringValue("x".repeat(200))]];
        assert_eq!(
            big.add_page(&meta(&["t"]), huge, &limits),
            Err(Overflow::Bytes(100))
        );
    }
}
