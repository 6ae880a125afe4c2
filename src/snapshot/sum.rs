//! `SUM` that cannot wrap. `DataFusion`'s sum adds decimals and integers with wrapping arithmetic
//! in the input's width (a DECIMAL(38) total past 10^38, or a BIGINT total past 2^63, comes out
//! wrong without a word). In recon's SQL sessions (checks, golden queries, SQL sides, `recon
//! query`) `sum` is this function instead: integers and decimals are summed as DECIMAL(76, s),
//! which the sum of 10^11 values of up to 65 digits (`MariaDB`'s widest DECIMAL) cannot
//! overflow, and an input wider than that is refused with a message. Floats sum as floats, as
//! before.

use arrow::datatypes::{DataType, FieldRef};
use datafusion::error::{DataFusionError, Result};
use datafusion::functions_aggregate::sum::Sum;
use datafusion::logical_expr::function::{AccumulatorArgs, StateFieldsArgs};
use datafusion::logical_expr::utils::AggregateOrderSensitivity;
use datafusion::logical_expr::{
    Accumulator, AggregateUDF, AggregateUDFImpl, Documentation, GroupsAccumulator, ReversedUDAF,
    SetMonotonicity, Signature, Volatility,
};

/// The widest integer-and-decimal input summed exactly (see the module documentation).
pub const MAX_SUMMED_PRECISION: u8 = 65;

/// `DataFusion`'s `Sum`, with its input widened to DECIMAL(76, s) first.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct ExactSum {
    signature: Signature,
    inner: Sum,
}

impl ExactSum {
    /// The function, ready to register under the name `sum`.
    pub fn udaf() -> AggregateUDF {
        AggregateUDF::from(Self {
            signature: Signature::user_defined(Volatility::Immutable),
            inner: Sum::new(),
        })
    }
}

/// The type a sum's input is cast to.
fn summed_as(input: &DataType) -> Result<DataType> {
    use DataType as T;
    Ok(match input {
        T::Int8 | T::Int16 | T::Int32 | T::Int64 | T::UInt8 | T::UInt16 | T::UInt32 | T::UInt64 => {
            T::Decimal256(76, 0)
        }
        // Type coercion runs more than once: the widened type maps to itself. (A column that is
        // DECIMAL(76) already cannot be told from it; such a column is not refused.)
        T::Decimal256(76, _) | T::Duration(_) | T::Interval(_) => input.clone(),
        T::Decimal32(p, s) | T::Decimal64(p, s) | T::Decimal128(p, s) | T::Decimal256(p, s) => {
            if *p > MAX_SUMMED_PRECISION {
                return Err(DataFusionError::Plan(format!(
                    "SUM over {input}: past {MAX_SUMMED_PRECISION} digits a sum could overflow \
                     76 digits; cast the values to a narrower decimal first"
                )));
            }
            T::Decimal256(76, *s)
        }
        T::Float16 | T::Float32 | T::Float64 => T::Float64,
        T::Null => T::Int64,
        T::Dictionary(_, v) => summed_as(v)?,
        other => {
            return Err(DataFusionError::Plan(format!(
                "SUM is not defined for {other}"
            )));
        }
    })
}

impl AggregateUDFImpl for ExactSum {
    fn name(&self) -> &'static str {
        "sum"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        match arg_types {
            [one] => Ok(vec![summed_as(one)?]),
            _ => Err(DataFusionError::Plan(
                "SUM takes exactly one argument".to_owned(),
            )),
        }
    }

    fn return_type(&self, arg_types: &[DataType]) -> Result<DataType> {
        self.inner.return_type(arg_types)
    }

    fn accumulator(&self, args: AccumulatorArgs) -> Result<Box<dyn Accumulator>> {
        self.inner.accumulator(args)
    }

    fn state_fields(&self, args: StateFieldsArgs) -> Result<Vec<FieldRef>> {
        self.inner.state_fields(args)
    }

    fn groups_accumulator_supported(&self, args: AccumulatorArgs) -> bool {
        self.inner.groups_accumulator_supported(args)
    }

    fn create_groups_accumulator(
        &self,
        args: AccumulatorArgs,
    ) -> Result<Box<dyn GroupsAccumulator>> {
        self.inner.create_groups_accumulator(args)
    }

    fn create_sliding_accumulator(&self, args: AccumulatorArgs) -> Result<Box<dyn Accumulator>> {
        self.inner.create_sliding_accumulator(args)
    }

    fn reverse_expr(&self) -> ReversedUDAF {
        ReversedUDAF::Identical
    }

    fn order_sensitivity(&self) -> AggregateOrderSensitivity {
        self.inner.order_sensitivity()
    }

    fn set_monotonicity(&self, data_type: &DataType) -> SetMonotonicity {
        self.inner.set_monotonicity(data_type)
    }

    fn documentation(&self) -> Option<&Documentation> {
        self.inner.documentation()
    }
}
