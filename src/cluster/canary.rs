//! The canary every cluster role runs before it serves: `sum` over a BIGINT, planned and run in
//! the session the role will use. recon's sum answers DECIMAL(76, 0), `DataFusion`'s BIGINT (and
//! wraps past 2^63), so a role whose session lost recon's functions (a Ballista default put back
//! in their place) refuses to start instead of giving totals that differ from the local engine's.

use datafusion::execution::SessionState;
use datafusion::execution::context::SessionContext;

use crate::error::{Error, Result};

/// The canary statement.
pub const QUERY: &str = "SELECT arrow_typeof(sum(x)) FROM (VALUES (CAST(1 AS BIGINT))) t(x)";

/// What recon's `sum` answers to it.
pub const EXPECTED: &str = "Decimal256(76, 0)";

/// Runs the canary in `state`; `role` names the session in the refusal.
pub async fn check(state: SessionState, role: &str) -> Result<()> {
    let ctx = SessionContext::new_with_state(state);
    let batches = async { ctx.sql(QUERY).await?.collect().await }
        .await
        .map_err(|e| Error::cluster(format!("{role}: the canary `{QUERY}` failed"), e))?;
    judge(&answer(&batches), role)
}

/// The one text value of a canary's result (empty when there is none).
pub(crate) fn answer(batches: &[arrow::array::RecordBatch]) -> String {
    batches
        .iter()
        .find(|b| b.num_rows() > 0)
        .and_then(|b| arrow::util::display::array_value_to_string(b.column(0), 0).ok())
        .unwrap_or_default()
}

/// Accepts the canary's answer or refuses with what it was.
pub(crate) fn judge(answer: &str, role: &str) -> Result<()> {
    if answer == EXPECTED {
        return Ok(());
    }
    Err(Error::cluster(
        format!("{role}: the canary `{QUERY}` answered `{answer}`"),
        format!(
            "recon's exact `sum` (answering {EXPECTED}) is not the session's `sum`: its totals \
             would not be the local engine's"
        ),
    ))
}

#[cfg(test)]
mod tests {
    use datafusion::execution::SessionStateBuilder;

    use super::*;

    fn run(state: SessionState) -> Result<()> {
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("runtime");
        rt.block_on(check(state, "test"))
    }

    #[test]
    fn a_session_without_recons_functions_is_refused() {
        let state = SessionStateBuilder::new().with_default_features().build();
        let err = run(state).expect_err("DataFusion's sum must be refused");
        let text = err.chain();
        assert!(text.contains("answered `Int64`"), "{text}");
    }

    #[test]
    fn a_session_with_recons_functions_passes() {
        let mut state = SessionStateBuilder::new()
            .with_default_features()
            .with_config(super::super::session_config())
            .build();
        super::super::register_functions(&mut state).expect("register");
        run(state).expect("recon's sum");
    }
}
