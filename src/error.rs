//! The library's one error type. Every variant names what the user has to look at: the file, the
//! table, the column or the config line. An `Error` always means "could not decide" (exit code 2);
//! drift is never an error, it is data in the report.
//!
//! ```
//! use recon::error::{ConfigError, Error};
//!
//! let broken = recon::Config::parse("[legacy]\nroot = 1\n");
//! assert!(matches!(broken, Err(ConfigError::Syntax { line: Some(2), .. })));
//! let missing = recon::Config::load("no/such/recon.toml".as_ref());
//! assert!(matches!(missing, Err(Error::Config { source: ConfigError::Read(_), .. })));
//! ```

use std::path::PathBuf;

use arrow::datatypes::DataType;

use crate::side::Side;

/// `Result` with recon's [`Error`] as the default error type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that stops recon from reaching a verdict.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The config file could not be read, parsed or validated.
    #[error("config {path}")]
    Config {
        /// The path.
        path: PathBuf,
        /// What is wrong, with the line where there is one.
        #[source]
        source: ConfigError,
    },

    /// The input (config, arguments, query files) says something recon cannot do; the message
    /// names what.
    #[error("{0}")]
    Invalid(String),

    /// Command-line options that make an invalid config (`recon diff`'s key, renames, casts).
    #[error(transparent)]
    Options(ConfigError),

    /// An input file other than a snapshot (a history file, a golden query, a key file) could
    /// not be read; the upstream error is the source.
    #[error("{what}")]
    Input {
        /// Which file, and what recon was doing with it.
        what: String,
        /// The upstream error.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },

    /// A database could not be reached, read or exported; names the database (never its
    /// password) and what recon was doing.
    #[error("{database}: {what}")]
    Database {
        /// The database URL without its password.
        database: String,
        /// What recon was doing.
        what: String,
        /// The upstream error (the driver's).
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },

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

    /// A key, mapped or compared column pair cannot be compared as configured.
    #[error("table `{table}`: column `{column}`")]
    Compare {
        /// The table pair.
        table: String,
        /// The column (legacy name).
        column: String,
        /// Why.
        #[source]
        source: CompareError,
    },

    /// A SQL-defined side failed to plan or run, or its table could not be registered.
    #[error("{side} query of table `{table}`")]
    Sql {
        /// Which side.
        side: Side,
        /// The table (its name in the snapshot, or the pair's name).
        table: String,
        /// The upstream error (`DataFusion`, Parquet), or its `Masked` message.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
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

    /// An object-store output (report folder, diff files, history) could not be read or written;
    /// the URL is shown without credentials.
    #[error("{url}: {what}")]
    Store {
        /// The URL.
        url: String,
        /// What recon was doing.
        what: String,
        /// The store's error, credentials scrubbed (a `store::StoreError`).
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },

    /// A push to a Prometheus Pushgateway failed or was refused; the URL is shown without
    /// credentials.
    #[error("pushgateway {url}: {message}")]
    Pushgateway {
        /// The URL without userinfo or query.
        url: String,
        /// What failed (the HTTP status and the gateway's answer, or the connection error).
        message: String,
    },

    /// A cluster role (scheduler, executor) could not start or keep serving, or the cluster
    /// refused or failed a job; names the address and what recon was doing.
    #[error("{what}")]
    Cluster {
        /// The role or the scheduler's address, and what recon was doing.
        what: String,
        /// Why (Ballista's or the network's error, or recon's own reason).
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },

    /// Temporary spill or column-hash files failed.
    #[error("temporary storage: {0}")]
    Spill(#[source] std::io::Error),

    /// A bug in recon, not in the input. Reported as `error`, never as a pass.
    #[error("internal error: {0}")]
    Internal(String),

    /// recon failed at its own work (serializing a report, starting a thread, writing a file it
    /// made): a bug or the machine, not the input. The upstream error is the source.
    #[error("internal error: {what}")]
    Failed {
        /// What recon was doing.
        what: String,
        /// The upstream error.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
}

impl Error {
    /// Shorthand for [`Error::Input`].
    pub fn input(
        what: impl Into<String>,
        source: impl Into<Box<dyn std::error::Error + Send + Sync>>,
    ) -> Self {
        Self::Input {
            what: what.into(),
            source: source.into(),
        }
    }

    /// Shorthand for [`Error::Cluster`].
    pub fn cluster(
        what: impl Into<String>,
        source: impl Into<Box<dyn std::error::Error + Send + Sync>>,
    ) -> Self {
        Self::Cluster {
            what: what.into(),
            source: source.into(),
        }
    }

    /// Shorthand for [`Error::Failed`].
    pub fn failed(
        what: impl Into<String>,
        source: impl Into<Box<dyn std::error::Error + Send + Sync>>,
    ) -> Self {
        Self::Failed {
            what: what.into(),
            source: source.into(),
        }
    }

    /// The error and its causes on one line (`what failed: why: why that`), each cause once:
    /// the form reports and one-line messages use.
    ///
    /// ```
    /// let e = recon::Config::load("no/such/recon.toml".as_ref()).unwrap_err();
    /// assert!(e.chain().starts_with("config no/such/recon.toml: "), "{}", e.chain());
    /// ```
    pub fn chain(&self) -> String {
        chain(self)
    }

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
pub(crate) fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a panic without a message".to_owned())
}

/// An error and its causes as one line (`what failed: why: why that`), for reports and logs,
/// which have no room for a chain.
pub(crate) fn chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut text = e.to_string();
    let mut next = e.source();
    while let Some(cause) = next {
        let cause_text = cause.to_string();
        // Some upstream errors repeat their cause in their own text.
        if !text.contains(&cause_text) {
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

/// An upstream error's message with quoted text and numbers masked (`redact::masked`): where a
/// column is redacted, the original error may quote its values, so it is dropped and only this
/// stands in for it.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct Masked(pub String);

/// Why two columns (of a table pair, or of two SQL results) cannot be compared.
#[derive(Debug, thiserror::Error)]
pub enum CompareError {
    /// Types of families that do not compare without a cast.
    #[error("legacy type {legacy} and target type {target} are of different families{hint}")]
    Families {
        /// The legacy column's type.
        legacy: DataType,
        /// The target column's type.
        target: DataType,
        /// What to do about it, with a leading space, or empty.
        hint: &'static str,
    },
    /// A configured cast to a type recon does not compare.
    #[error("cannot compare as {0}")]
    CastTarget(DataType),
    /// An `abs_tolerance` that is not a decimal.
    #[error("abs_tolerance `{0}` is not a decimal")]
    Tolerance(String),
    /// A tolerance on a column that does not compare as a number.
    #[error("a tolerance needs a numeric column, but this one compares as {0}")]
    ToleranceMode(String),
}

/// Why a value of a SQL result cannot be read as a number. Names types, never values.
#[derive(Debug, thiserror::Error)]
pub enum ValueError {
    /// The column is not numeric.
    #[error("is {0}, not a number")]
    NotANumber(DataType),
    /// A decimal whose value does not fit 76 digits.
    #[error("is a decimal past 76 digits")]
    TooWide,
    /// A dictionary key past its dictionary (only a corrupt result has one).
    #[error("has a dictionary key out of range")]
    DictionaryKey,
}

/// Why a check, a golden query or an ad-hoc comparison could not reach a verdict. Rendered for
/// a report with [`Error::chain`]'s one-line form; never quotes a redacted value.
#[derive(Debug, thiserror::Error)]
pub enum CheckError {
    /// The check asks its results for something they cannot give (a float compared exactly, a
    /// missing key column, an unknown pair); the message says what to change.
    #[error("{0}")]
    Refused(String),
    /// `DataFusion` failed to plan or run a statement.
    #[error(transparent)]
    Sql(#[from] datafusion::error::DataFusionError),
    /// Arrow failed on a result (projecting, casting).
    #[error(transparent)]
    Arrow(#[from] arrow::error::ArrowError),
    /// A failed statement's error, masked because a redacted column is involved.
    #[error(transparent)]
    Masked(#[from] Masked),
    /// What failed on one side.
    #[error("{side}")]
    Side {
        /// Which side.
        side: Side,
        /// What failed there.
        #[source]
        source: Box<CheckError>,
    },
    /// A result column whose values cannot be encoded.
    #[error("{side}: result column `{column}`")]
    Cells {
        /// Which side.
        side: Side,
        /// The result column.
        column: String,
        /// Why.
        #[source]
        source: EncodeError,
    },
    /// Result columns of the two sides that do not compare.
    #[error("result column `{column}` (cast it in the SQL)")]
    Compare {
        /// The result column (legacy name).
        column: String,
        /// Why.
        #[source]
        source: CompareError,
    },
    /// A measure that cannot be read as a number.
    #[error("the {side} value `{column}`")]
    Value {
        /// Which side.
        side: Side,
        /// The result column.
        column: String,
        /// Why.
        #[source]
        source: ValueError,
    },
}

impl CheckError {
    /// `e` as what failed on `side`.
    pub fn on(side: Side, e: impl Into<CheckError>) -> Self {
        Self::Side {
            side,
            source: Box::new(e.into()),
        }
    }
}

/// What is wrong with a config (or a cast or a zone in it) as written.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read")]
    Read(#[source] std::io::Error),
    /// TOML that does not parse or does not fit the config's shape; the message is the parser's.
    #[error("{}{message}", line.map(|l| format!("line {l}: ")).unwrap_or_default())]
    Syntax {
        /// The line the parser stopped at, when it names one.
        line: Option<usize>,
        /// The parser's message.
        message: String,
    },
    /// A value of the right shape that recon cannot use (an unknown pair, a duplicate name, a
    /// negative threshold); the message names where.
    #[error("{0}")]
    Invalid(String),
    /// A `cast` that is not one of the documented names.
    #[error("unknown cast `{text}` (use {names} or decimal(p,s) with p up to 38)")]
    UnknownCast {
        /// The cast as written.
        text: String,
        /// The names recon accepts.
        names: String,
    },
    /// A UTC offset that is not `+HH:MM`.
    #[error("bad UTC offset `{0}` (use +HH:MM)")]
    BadOffset(String),
    /// A zone name chrono-tz does not know.
    #[error("unknown time zone `{0}` (use UTC, +HH:MM or an IANA name)")]
    UnknownZone(String),
}
