//! The library's one error type. Every variant names what the user has to look at: the file, the
//! table, the column or the config line. An `Error` always means "could not decide" (exit code 2);
//! drift is never an error, it is data in the report.

use std::path::PathBuf;

use crate::side::Side;

/// `Result` with recon's [`Error`] as the default error type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that stops recon from reaching a verdict.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The config file could not be read or parsed; the message carries the line.
    #[error("config {path}: {message}")]
    Config {
        /// The path.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },

    /// The input (config, arguments, query files) says something recon cannot do; the message
    /// names what.
    #[error("{0}")]
    Invalid(String),

    /// A snapshot root does not exist or cannot be listed.
    #[error("{side} snapshot {root}: {message}")]
    Snapshot {
        /// Which side.
        side: Side,
        /// The root as the user wrote it.
        root: String,
        /// What is wrong.
        message: String,
    },

    /// A snapshot root could not be parsed, opened or listed; the upstream error is the source.
    #[error("{side} snapshot {root}: {what}")]
    Root {
        /// Which side.
        side: Side,
        /// The root as the user wrote it.
        root: String,
        /// What recon was doing.
        what: String,
        /// The upstream error (URL, file system, object store).
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },

    /// A table named by the config is not in a snapshot.
    #[error(
        "{side} snapshot {root}: no table `{table}` (looked for `{table}.parquet` and `{table}/`){hint}"
    )]
    MissingTable {
        /// Which side.
        side: Side,
        /// The root as the user wrote it.
        root: String,
        /// The table (its name in the snapshot, or the pair's name).
        table: String,
        /// Close names, or what the snapshot holds instead.
        hint: String,
    },

    /// A Parquet file could not be opened or decoded.
    #[error("{side} table `{table}`: file {file}: {message}")]
    File {
        /// Which side.
        side: Side,
        /// The table (its name in the snapshot, or the pair's name).
        table: String,
        /// The file.
        file: String,
        /// What is wrong.
        message: String,
    },

    /// A file of a table could not be fetched, opened or decoded; the upstream error (Parquet,
    /// Arrow, the object store, I/O) is the source.
    #[error("{side} table `{table}`: file {file}: {what}")]
    Read {
        /// Which side.
        side: Side,
        /// The table (its name in the snapshot, or the pair's name).
        table: String,
        /// The file.
        file: String,
        /// What recon was doing.
        what: String,
        /// The upstream error.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },

    /// A column's values could not be encoded for comparison.
    #[error("table `{table}`: column `{column}`: {side} side: {source}")]
    Encode {
        /// The table pair.
        table: String,
        /// The column (legacy name).
        column: String,
        /// Which side.
        side: Side,
        /// Why.
        #[source]
        source: EncodeError,
    },

    /// A key, mapped or compared column is missing or has a type recon cannot compare.
    #[error("table `{table}`: column `{column}`: {message}")]
    Column {
        /// The table (its name in the snapshot, or the pair's name).
        table: String,
        /// The column (legacy name).
        column: String,
        /// What is wrong.
        message: String,
    },

    /// A SQL-defined side failed to plan or run.
    #[error("{side} query of table `{table}`: {message}")]
    Sql {
        /// Which side.
        side: Side,
        /// The table (its name in the snapshot, or the pair's name).
        table: String,
        /// What is wrong.
        message: String,
    },

    /// Writing a report or a diff file failed.
    #[error("writing {path}: {source}")]
    Write {
        /// The path.
        path: PathBuf,
        /// The underlying I/O error.
        #[source]
        source: std::io::Error,
    },

    /// Temporary spill or column-hash files failed.
    #[error("temporary storage: {0}")]
    Spill(#[source] std::io::Error),

    /// A bug in recon, not in the input. Reported as `error`, never as a pass.
    #[error("internal error: {0}")]
    Internal(String),
}

impl Error {
    /// Shorthand for a column error.
    pub fn column(table: &str, column: &str, message: impl Into<String>) -> Self {
        Self::Column {
            table: table.to_owned(),
            column: column.to_owned(),
            message: message.into(),
        }
    }
}

/// The message of a caught panic, for an error that says what failed.
pub fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a panic without a message".to_owned())
}

/// An error and its causes as one line (`what failed: why: why that`), for reports and logs,
/// which have no room for a chain.
pub fn chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut text = e.to_string();
    let mut next = e.source();
    while let Some(cause) = next {
        let cause_text = cause.to_string();
        // Some upstream errors repeat their cause in their own text.
        if !text.ends_with(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        next = cause.source();
    }
    text
}

/// Why a column's values cannot be encoded. Messages name types, never values.
#[derive(Debug, thiserror::Error)]
pub enum EncodeError {
    /// The column's type has no encoding under the comparison mode.
    #[error("type {data_type} cannot be compared as {mode}")]
    Uncomparable {
        /// The column's type.
        data_type: arrow::datatypes::DataType,
        /// The mode both sides were to be compared as.
        mode: String,
    },
    /// A decimal whose normalized form does not fit.
    #[error("a decimal with a negative scale overflows {digits} digits")]
    Overflow {
        /// The digits available.
        digits: u8,
    },
    /// A decimal scale past what the encoding carries.
    #[error("decimal scale out of range")]
    Scale,
    /// A dictionary key past its dictionary (only a corrupt file has one).
    #[error("a dictionary key points past its dictionary (corrupt file?)")]
    DictionaryKey,
    /// Dictionary keys of a type arrow does not use.
    #[error("dictionary keys of type {0} are not supported")]
    DictionaryKeys(arrow::datatypes::DataType),
    /// A config cast between types arrow cannot cast.
    #[error("{from} cannot be cast to {to}")]
    Cast {
        /// The column's type.
        from: arrow::datatypes::DataType,
        /// The cast's type.
        to: arrow::datatypes::DataType,
    },
    /// A cast whose values cannot be checked (cast back, or compared with the originals).
    #[error("a cast from {from} to {to} cannot be checked")]
    Uncheckable {
        /// The column's type.
        from: arrow::datatypes::DataType,
        /// The cast's type.
        to: arrow::datatypes::DataType,
    },
    /// A value too wide for a tolerance slot (Decimal256 past 38 digits).
    #[error("a value past 38 digits cannot be compared within a tolerance")]
    TooWide,
    /// Arrow failed on the column (unpacking a dictionary, formatting for a lossy cast).
    #[error("arrow: {0}")]
    Arrow(#[from] arrow::error::ArrowError),
}
