//! How recon's operators travel between the client, the scheduler and the executors: a tag byte
//! and the operator's settings as JSON; their inputs travel as Ballista's and `DataFusion`'s own
//! nodes. recon's exact `sum` travels as itself, not by name only: a task decodes it as recon's
//! whatever its session's registry holds under `sum`. The codec is composed before Ballista's,
//! in the same order on every role.

use std::sync::Arc;

use datafusion::error::{DataFusionError, Result as DfResult};
use datafusion::execution::TaskContext;
use datafusion::logical_expr::AggregateUDF;
use datafusion::physical_plan::ExecutionPlan;
use datafusion_proto::physical_plan::{PhysicalExtensionCodec, PhysicalProtoConverterExtension};
use serde::{Deserialize, Serialize};

use super::exec::HashExec;
use super::pair::PairExec;
use crate::side::Side;
use crate::snapshot::sum::ExactSum;

const HASH: u8 = 1;
const PAIR: u8 = 2;

/// What recon's exact `sum` is encoded as (a version in the name: another `sum` is another name).
const EXACT_SUM: &[u8] = b"recon.exact_sum.1";

#[derive(Serialize, Deserialize)]
struct HashNode {
    side: String,
    key_bytes: i32,
    digest_width: i32,
    spec: String,
}

#[derive(Serialize, Deserialize)]
struct PairNode {
    keep: u64,
    key_bytes: i32,
    digest_width: i32,
    spec: String,
}

/// Encodes and decodes [`HashExec`] and [`PairExec`]; every other node is someone else's.
#[derive(Debug, Default)]
pub struct ReconCodec;

fn bad(what: &str, e: impl std::fmt::Display) -> DataFusionError {
    DataFusionError::Internal(format!("a recon {what} node: {e}"))
}

impl PhysicalExtensionCodec for ReconCodec {
    fn try_decode(
        &self,
        buf: &[u8],
        inputs: &[Arc<dyn ExecutionPlan>],
        _: &TaskContext,
        _: &dyn PhysicalProtoConverterExtension,
    ) -> DfResult<Arc<dyn ExecutionPlan>> {
        let Some((&tag, body)) = buf.split_first() else {
            return Err(bad("empty", "no bytes"));
        };
        match (tag, inputs) {
            (HASH, [input]) => {
                let n: HashNode = serde_json::from_slice(body).map_err(|e| bad("hash", e))?;
                let side = match n.side.as_str() {
                    "legacy" => Side::Legacy,
                    "target" => Side::Target,
                    other => return Err(bad("hash", format!("side `{other}`"))),
                };
                let spec: Arc<[u8]> = n.spec.into_bytes().into();
                Ok(Arc::new(HashExec::new(
                    spec,
                    side,
                    (n.key_bytes, n.digest_width),
                    Arc::clone(input),
                )))
            }
            (PAIR, [legacy, target]) => {
                let n: PairNode = serde_json::from_slice(body).map_err(|e| bad("pair", e))?;
                let spec: Arc<[u8]> = n.spec.into_bytes().into();
                Ok(Arc::new(PairExec::new(
                    (spec, n.keep),
                    (n.key_bytes, n.digest_width),
                    Arc::clone(legacy),
                    Arc::clone(target),
                )))
            }
            _ => Err(bad(
                "unknown",
                format!("tag {tag} with {} inputs", inputs.len()),
            )),
        }
    }

    fn try_encode_udaf(&self, node: &AggregateUDF, buf: &mut Vec<u8>) -> DfResult<()> {
        // Any other aggregate is left to the name (nothing written): the registry's.
        if node.inner().is::<ExactSum>() {
            buf.extend_from_slice(EXACT_SUM);
        }
        Ok(())
    }

    fn try_decode_udaf(&self, name: &str, buf: &[u8]) -> DfResult<Arc<AggregateUDF>> {
        if buf == EXACT_SUM {
            Ok(Arc::new(ExactSum::udaf()))
        } else {
            Err(DataFusionError::NotImplemented(format!(
                "recon's codec does not decode the aggregate `{name}`"
            )))
        }
    }

    fn try_encode(
        &self,
        node: Arc<dyn ExecutionPlan>,
        buf: &mut Vec<u8>,
        _: &dyn PhysicalProtoConverterExtension,
    ) -> DfResult<()> {
        if let Some(h) = node.downcast_ref::<HashExec>() {
            let spec = std::str::from_utf8(&h.spec).map_err(|e| bad("hash", e))?;
            let n = HashNode {
                side: h.side.as_str().to_owned(),
                key_bytes: h.key_bytes,
                digest_width: h.digest_width,
                spec: spec.to_owned(),
            };
            buf.push(HASH);
            serde_json::to_writer(buf, &n).map_err(|e| bad("hash", e))
        } else if let Some(p) = node.downcast_ref::<PairExec>() {
            let spec = std::str::from_utf8(&p.spec).map_err(|e| bad("pair", e))?;
            let n = PairNode {
                keep: p.keep,
                key_bytes: p.key_bytes,
                digest_width: p.digest_width,
                spec: spec.to_owned(),
            };
            buf.push(PAIR);
            serde_json::to_writer(buf, &n).map_err(|e| bad("pair", e))
        } else {
            Err(DataFusionError::NotImplemented(format!(
                "recon's codec does not encode {}",
                node.name()
            )))
        }
    }
}
