//! Rows streamed into Arrow builders and out as Parquet row groups: a table is never held in
//! memory, only the batch being filled (64 Ki rows) and the row group the writer is encoding.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow::array::{
    ArrayRef, BinaryBuilder, BooleanBuilder, Date32Builder, Decimal128Builder, Decimal256Builder,
    Float32Builder, Float64Builder, Int8Builder, Int16Builder, Int32Builder, Int64Builder,
    RecordBatch, StringBuilder, Time64MicrosecondBuilder, TimestampMicrosecondBuilder,
    UInt8Builder, UInt16Builder, UInt32Builder,
};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit, i256};
use parquet::arrow::ArrowWriter;
use parquet::basic::{Compression, ZstdLevel};
use parquet::file::metadata::SortingColumn;
use parquet::file::properties::WriterProperties;

use super::TableOut;
use crate::error::{Error, Result};

/// Creates a snapshot file (and its table's folder) readable by its owner only, as every file
/// recon writes: snapshots and reports hold the same financial data.
fn create_private(path: &Path) -> std::io::Result<File> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options.open(path)
}

/// Rows per Arrow batch handed to the writer.
const BATCH_ROWS: usize = 1 << 16;
/// Rows per Parquet row group.
const GROUP_ROWS: usize = 1 << 20;

/// One column's builder, typed by the Arrow type the catalog mapped the column to.
pub(crate) enum Col {
    I8(Int8Builder),
    I16(Int16Builder),
    I32(Int32Builder),
    I64(Int64Builder),
    U8(UInt8Builder),
    U16(UInt16Builder),
    U32(UInt32Builder),
    D128(Decimal128Builder, u8, i8),
    D256(Decimal256Builder, u8, i8),
    F32(Float32Builder),
    F64(Float64Builder),
    Bool(BooleanBuilder),
    Text(StringBuilder),
    Bytes(BinaryBuilder),
    Date(Date32Builder),
    Time(Time64MicrosecondBuilder),
    Ts(TimestampMicrosecondBuilder, Option<Arc<str>>),
}

/// Why a value does not fit its column's type. Names no value: the caller adds the key.
#[derive(Debug, thiserror::Error)]
pub(crate) enum Misfit {
    /// A number past the column's type.
    #[error("a value does not fit {0}")]
    Range(DataType),
    /// A value of another kind than the column's (a server that sent what its catalog did not
    /// say).
    #[error("the server sent a {got} for a {want} column")]
    Kind {
        /// What arrived.
        got: &'static str,
        /// The column's type.
        want: DataType,
    },
}

macro_rules! int_push {
    ($self:ident, $v:ident, $($var:ident => $t:ty),*) => {{
        let fits = match $self {
            $(Col::$var(b) => <$t>::try_from($v).map(|x| b.append_value(x)).is_ok(),)*
            Col::D128(b, p, _) if digits_fit(i256::from_i128(i128::from($v)), *p) => {
                b.append_value(i128::from($v));
                true
            }
            Col::D256(b, p, _) if digits_fit(i256::from_i128(i128::from($v)), *p) => {
                b.append_value(i256::from_i128(i128::from($v)));
                true
            }
            Col::D128(..) | Col::D256(..) => false,
            other => return Err(Misfit::Kind { got: "integer", want: other.data_type() }),
        };
        if fits { Ok(()) } else { Err(Misfit::Range($self.data_type())) }
    }};
}

/// 10^p for every precision a decimal column has, made once.
static POW10: std::sync::LazyLock<Vec<i256>> = std::sync::LazyLock::new(|| {
    let ten = i256::from_i128(10);
    (0..=76u32).map(|p| ten.wrapping_pow(p)).collect()
});

/// Whether a mantissa has at most `p` digits.
fn digits_fit(mantissa: i256, p: u8) -> bool {
    POW10
        .get(usize::from(p))
        .is_some_and(|&limit| mantissa < limit && mantissa > limit.wrapping_neg())
}

impl Col {
    fn new(dt: &DataType) -> Result<Self, DataType> {
        let cap = BATCH_ROWS;
        Ok(match dt {
            DataType::Int8 => Col::I8(Int8Builder::with_capacity(cap)),
            DataType::Int16 => Col::I16(Int16Builder::with_capacity(cap)),
            DataType::Int32 => Col::I32(Int32Builder::with_capacity(cap)),
            DataType::Int64 => Col::I64(Int64Builder::with_capacity(cap)),
            DataType::UInt8 => Col::U8(UInt8Builder::with_capacity(cap)),
            DataType::UInt16 => Col::U16(UInt16Builder::with_capacity(cap)),
            DataType::UInt32 => Col::U32(UInt32Builder::with_capacity(cap)),
            DataType::Decimal128(p, s) => Col::D128(
                Decimal128Builder::with_capacity(cap)
                    .with_precision_and_scale(*p, *s)
                    .map_err(|_| dt.clone())?,
                *p,
                *s,
            ),
            DataType::Decimal256(p, s) => Col::D256(
                Decimal256Builder::with_capacity(cap)
                    .with_precision_and_scale(*p, *s)
                    .map_err(|_| dt.clone())?,
                *p,
                *s,
            ),
            DataType::Float32 => Col::F32(Float32Builder::with_capacity(cap)),
            DataType::Float64 => Col::F64(Float64Builder::with_capacity(cap)),
            DataType::Boolean => Col::Bool(BooleanBuilder::with_capacity(cap)),
            DataType::Utf8 => Col::Text(StringBuilder::with_capacity(cap, cap * 16)),
            DataType::Binary => Col::Bytes(BinaryBuilder::with_capacity(cap, cap * 16)),
            DataType::Date32 => Col::Date(Date32Builder::with_capacity(cap)),
            DataType::Time64(TimeUnit::Microsecond) => {
                Col::Time(Time64MicrosecondBuilder::with_capacity(cap))
            }
            DataType::Timestamp(TimeUnit::Microsecond, zone) => Col::Ts(
                TimestampMicrosecondBuilder::with_capacity(cap).with_timezone_opt(zone.clone()),
                zone.clone(),
            ),
            other => return Err(other.clone()),
        })
    }

    /// The column's Arrow type.
    pub(crate) fn data_type(&self) -> DataType {
        match self {
            Col::I8(_) => DataType::Int8,
            Col::I16(_) => DataType::Int16,
            Col::I32(_) => DataType::Int32,
            Col::I64(_) => DataType::Int64,
            Col::U8(_) => DataType::UInt8,
            Col::U16(_) => DataType::UInt16,
            Col::U32(_) => DataType::UInt32,
            Col::D128(_, p, s) => DataType::Decimal128(*p, *s),
            Col::D256(_, p, s) => DataType::Decimal256(*p, *s),
            Col::F32(_) => DataType::Float32,
            Col::F64(_) => DataType::Float64,
            Col::Bool(_) => DataType::Boolean,
            Col::Text(_) => DataType::Utf8,
            Col::Bytes(_) => DataType::Binary,
            Col::Date(_) => DataType::Date32,
            Col::Time(_) => DataType::Time64(TimeUnit::Microsecond),
            Col::Ts(_, z) => DataType::Timestamp(TimeUnit::Microsecond, z.clone()),
        }
    }

    /// The decimal scale of a decimal column.
    pub(crate) fn scale(&self) -> Option<i8> {
        match self.data_type() {
            DataType::Decimal128(_, s) | DataType::Decimal256(_, s) => Some(s),
            _ => None,
        }
    }

    pub(crate) fn push_null(&mut self) {
        match self {
            Col::I8(b) => b.append_null(),
            Col::I16(b) => b.append_null(),
            Col::I32(b) => b.append_null(),
            Col::I64(b) => b.append_null(),
            Col::U8(b) => b.append_null(),
            Col::U16(b) => b.append_null(),
            Col::U32(b) => b.append_null(),
            Col::D128(b, ..) => b.append_null(),
            Col::D256(b, ..) => b.append_null(),
            Col::F32(b) => b.append_null(),
            Col::F64(b) => b.append_null(),
            Col::Bool(b) => b.append_null(),
            Col::Text(b) => b.append_null(),
            Col::Bytes(b) => b.append_null(),
            Col::Date(b) => b.append_null(),
            Col::Time(b) => b.append_null(),
            Col::Ts(b, _) => b.append_null(),
        }
    }

    pub(crate) fn push_i64(&mut self, v: i64) -> Result<(), Misfit> {
        int_push!(self, v, I8 => i8, I16 => i16, I32 => i32, I64 => i64, U8 => u8, U16 => u16, U32 => u32)
    }

    pub(crate) fn push_u64(&mut self, v: u64) -> Result<(), Misfit> {
        int_push!(self, v, I8 => i8, I16 => i16, I32 => i32, I64 => i64, U8 => u8, U16 => u16, U32 => u32)
    }

    /// A decimal already at the column's scale; its digits must fit the column's precision.
    pub(crate) fn push_decimal(&mut self, mantissa: i256) -> Result<(), Misfit> {
        match self {
            Col::D128(b, p, _) if digits_fit(mantissa, *p) => {
                if let Some(v) = mantissa.to_i128() {
                    b.append_value(v);
                    return Ok(());
                }
            }
            Col::D256(b, p, _) if digits_fit(mantissa, *p) => {
                b.append_value(mantissa);
                return Ok(());
            }
            _ => {}
        }
        Err(Misfit::Range(self.data_type()))
    }

    pub(crate) fn push_f64(&mut self, v: f64) -> Result<(), Misfit> {
        match self {
            Col::F64(b) => b.append_value(v),
            other => {
                return Err(Misfit::Kind {
                    got: "double",
                    want: other.data_type(),
                });
            }
        }
        Ok(())
    }

    pub(crate) fn push_f32(&mut self, v: f32) -> Result<(), Misfit> {
        match self {
            Col::F32(b) => b.append_value(v),
            Col::F64(b) => b.append_value(f64::from(v)),
            other => {
                return Err(Misfit::Kind {
                    got: "float",
                    want: other.data_type(),
                });
            }
        }
        Ok(())
    }

    pub(crate) fn push_bool(&mut self, v: bool) -> Result<(), Misfit> {
        match self {
            Col::Bool(b) => b.append_value(v),
            other => {
                return Err(Misfit::Kind {
                    got: "boolean",
                    want: other.data_type(),
                });
            }
        }
        Ok(())
    }

    pub(crate) fn push_str(&mut self, v: &str) -> Result<(), Misfit> {
        match self {
            Col::Text(b) => b.append_value(v),
            Col::Bytes(b) => b.append_value(v.as_bytes()),
            other => {
                return Err(Misfit::Kind {
                    got: "text",
                    want: other.data_type(),
                });
            }
        }
        Ok(())
    }

    pub(crate) fn push_bytes(&mut self, v: &[u8]) -> Result<(), Misfit> {
        match self {
            Col::Bytes(b) => b.append_value(v),
            other => {
                return Err(Misfit::Kind {
                    got: "binary value",
                    want: other.data_type(),
                });
            }
        }
        Ok(())
    }

    pub(crate) fn push_date(&mut self, days: i32) -> Result<(), Misfit> {
        match self {
            Col::Date(b) => b.append_value(days),
            other => {
                return Err(Misfit::Kind {
                    got: "date",
                    want: other.data_type(),
                });
            }
        }
        Ok(())
    }

    pub(crate) fn push_time(&mut self, micros: i64) -> Result<(), Misfit> {
        match self {
            Col::Time(b) => b.append_value(micros),
            other => {
                return Err(Misfit::Kind {
                    got: "time",
                    want: other.data_type(),
                });
            }
        }
        Ok(())
    }

    pub(crate) fn push_timestamp(&mut self, micros: i64) -> Result<(), Misfit> {
        match self {
            Col::Ts(b, _) => b.append_value(micros),
            other => {
                return Err(Misfit::Kind {
                    got: "timestamp",
                    want: other.data_type(),
                });
            }
        }
        Ok(())
    }

    fn finish(&mut self) -> ArrayRef {
        match self {
            Col::I8(b) => Arc::new(b.finish()),
            Col::I16(b) => Arc::new(b.finish()),
            Col::I32(b) => Arc::new(b.finish()),
            Col::I64(b) => Arc::new(b.finish()),
            Col::U8(b) => Arc::new(b.finish()),
            Col::U16(b) => Arc::new(b.finish()),
            Col::U32(b) => Arc::new(b.finish()),
            Col::D128(b, ..) => Arc::new(b.finish()),
            Col::D256(b, ..) => Arc::new(b.finish()),
            Col::F32(b) => Arc::new(b.finish()),
            Col::F64(b) => Arc::new(b.finish()),
            Col::Bool(b) => Arc::new(b.finish()),
            Col::Text(b) => Arc::new(b.finish()),
            Col::Bytes(b) => Arc::new(b.finish()),
            Col::Date(b) => Arc::new(b.finish()),
            Col::Time(b) => Arc::new(b.finish()),
            Col::Ts(b, _) => Arc::new(b.finish()),
        }
    }
}

/// The Parquet `sorting_columns` of a table written in key order: each key column by its
/// position (every column is a leaf: the export writes no nested types), ascending.
fn sorting_columns(t: &TableOut) -> Result<Option<Vec<SortingColumn>>> {
    let Some(order) = &t.key_order else {
        return Ok(None);
    };
    order
        .columns
        .iter()
        .map(|k| {
            let at = t.columns.iter().position(|c| &c.name == k);
            let column_idx = at.and_then(|i| i32::try_from(i).ok()).ok_or_else(|| {
                Error::Internal(format!(
                    "table `{}`: key column `{k}` is not among its columns",
                    t.name
                ))
            })?;
            Ok(SortingColumn {
                column_idx,
                descending: false,
                nulls_first: order.nulls_first,
            })
        })
        .collect::<Result<Vec<_>>>()
        .map(Some)
}

/// One Parquet file of a table being written.
pub(crate) struct TableSink {
    schema: SchemaRef,
    /// The columns' builders, in the table's order.
    pub(crate) cols: Vec<Col>,
    writer: Option<ArrowWriter<File>>,
    in_batch: usize,
    rows: u64,
    path: PathBuf,
    progress: Box<dyn super::PartProgress>,
}

impl TableSink {
    /// A sink writing the columns of `t` to a new file at `path`; every row group states the
    /// table's key order, if it has one.
    pub(crate) fn create(
        path: &Path,
        t: &TableOut,
        progress: Box<dyn super::PartProgress>,
    ) -> Result<Self> {
        let (table, columns) = (t.name.as_str(), t.columns.as_slice());
        let mut cols = Vec::with_capacity(columns.len());
        for c in columns {
            cols.push(Col::new(&c.arrow).map_err(|dt| {
                Error::column(table, &c.name, format!("{dt} cannot be written (a bug)"))
            })?);
        }
        let schema: SchemaRef = Arc::new(Schema::new(
            columns
                .iter()
                .map(|c| Field::new(&c.name, c.arrow.clone(), c.nullable))
                .collect::<Vec<_>>(),
        ));
        let file = create_private(path).map_err(|source| Error::Write {
            path: path.to_owned(),
            source,
        })?;
        let props = WriterProperties::builder()
            .set_compression(Compression::ZSTD(
                ZstdLevel::try_new(1).map_err(|e| Error::failed("zstd level", e))?,
            ))
            .set_max_row_group_row_count(Some(GROUP_ROWS))
            .set_dictionary_enabled(true)
            .set_sorting_columns(sorting_columns(t)?)
            .build();
        let writer = ArrowWriter::try_new(file, Arc::clone(&schema), Some(props))
            .map_err(|e| Error::failed(format!("writing {}", path.display()), e))?;
        Ok(Self {
            schema,
            cols,
            writer: Some(writer),
            in_batch: 0,
            rows: 0,
            path: path.to_owned(),
            progress,
        })
    }

    /// A row's columns have all been pushed.
    pub(crate) fn end_row(&mut self) -> Result<()> {
        self.in_batch += 1;
        self.rows += 1;
        if self.in_batch >= BATCH_ROWS {
            self.flush()?;
        }
        Ok(())
    }

    fn flush(&mut self) -> Result<()> {
        if self.in_batch == 0 {
            return Ok(());
        }
        let arrays: Vec<ArrayRef> = self.cols.iter_mut().map(Col::finish).collect();
        self.progress.advance(self.in_batch as u64);
        self.in_batch = 0;
        let batch = RecordBatch::try_new(Arc::clone(&self.schema), arrays)
            .map_err(|e| Error::failed(format!("a batch for {}", self.path.display()), e))?;
        if let Some(w) = self.writer.as_mut() {
            w.write(&batch)
                .map_err(|e| Error::failed(format!("writing {}", self.path.display()), e))?;
        }
        Ok(())
    }

    /// Writes what is left and the footer; returns the rows and bytes written.
    pub(crate) fn finish(mut self) -> Result<(u64, u64)> {
        self.flush()?;
        if let Some(w) = self.writer.take() {
            w.close()
                .map_err(|e| Error::failed(format!("writing {}", self.path.display()), e))?;
        }
        let bytes = std::fs::metadata(&self.path)
            .map_err(|source| Error::Write {
                path: self.path.clone(),
                source,
            })?
            .len();
        Ok((self.rows, bytes))
    }
}
