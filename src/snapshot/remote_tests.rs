//! Reads from an object store fetch the footer and then only the column chunks being decoded.

use std::ops::Range;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use arrow::array::{Array, Int64Array, RecordBatch};
use arrow::datatypes::{DataType, Field, Schema};
use async_trait::async_trait;
use futures::stream::BoxStream;
use object_store::memory::InMemory;
use object_store::path::Path as StorePath;
use object_store::{
    CopyOptions, GetOptions, GetResult, ListResult, MultipartUpload, ObjectMeta, ObjectStore,
    ObjectStoreExt, PutMultipartOptions, PutOptions, PutPayload, PutResult,
};
use parquet::arrow::ArrowWriter;
use parquet::file::properties::WriterProperties;

use super::{SideTable, TableFile};
use crate::side::Side;

/// An in-memory store that counts the bytes it serves.
#[derive(Debug, Default)]
struct Counting {
    inner: InMemory,
    served: AtomicU64,
}

impl std::fmt::Display for Counting {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Counting")
    }
}

#[async_trait]
impl ObjectStore for Counting {
    async fn put_opts(
        &self,
        location: &StorePath,
        payload: PutPayload,
        opts: PutOptions,
    ) -> object_store::Result<PutResult> {
        self.inner.put_opts(location, payload, opts).await
    }

    async fn put_multipart_opts(
        &self,
        location: &StorePath,
        opts: PutMultipartOptions,
    ) -> object_store::Result<Box<dyn MultipartUpload>> {
        self.inner.put_multipart_opts(location, opts).await
    }

    async fn get_opts(
        &self,
        location: &StorePath,
        options: GetOptions,
    ) -> object_store::Result<GetResult> {
        let got = self.inner.get_opts(location, options).await?;
        let Range { start, end } = got.range;
        self.served.fetch_add(end - start, Ordering::Relaxed);
        Ok(got)
    }

    fn delete_stream(
        &self,
        locations: BoxStream<'static, object_store::Result<StorePath>>,
    ) -> BoxStream<'static, object_store::Result<StorePath>> {
        self.inner.delete_stream(locations)
    }

    fn list(
        &self,
        prefix: Option<&StorePath>,
    ) -> BoxStream<'static, object_store::Result<ObjectMeta>> {
        self.inner.list(prefix)
    }

    async fn list_with_delimiter(
        &self,
        prefix: Option<&StorePath>,
    ) -> object_store::Result<ListResult> {
        self.inner.list_with_delimiter(prefix).await
    }

    async fn copy_opts(
        &self,
        from: &StorePath,
        to: &StorePath,
        options: CopyOptions,
    ) -> object_store::Result<()> {
        self.inner.copy_opts(from, to, options).await
    }
}

#[test]
fn a_remote_row_group_fetches_only_its_projected_column_chunks() {
    // Three incompressible columns of 2.4 MB per row group, so that the store's coalescing of
    // nearby ranges (1 MiB) cannot pull a neighbour in.
    let rows = 300_000_i64;
    let column = |salt: i64| {
        Arc::new(Int64Array::from_iter_values((0..rows).map(|i| {
            (i ^ salt).wrapping_mul(0x9E37_79B9_7F4A_7C15_u64.cast_signed())
        }))) as Arc<dyn Array>
    };
    let schema = Arc::new(Schema::new(
        ["a", "b", "c"]
            .map(|n| Field::new(n, DataType::Int64, false))
            .to_vec(),
    ));
    let batch = RecordBatch::try_new(Arc::clone(&schema), vec![column(1), column(2), column(3)])
        .expect("batch");
    let props = WriterProperties::builder()
        .set_max_row_group_row_count(Some(150_000))
        .set_dictionary_enabled(false)
        .build();
    let mut bytes = Vec::new();
    let mut w = ArrowWriter::try_new(&mut bytes, schema, Some(props)).expect("writer");
    w.write(&batch).expect("write");
    w.close().expect("close");
    let size = bytes.len() as u64;

    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let counting = Arc::new(Counting::default());
    let location = StorePath::from("t.parquet");
    rt.block_on(counting.put(&location, PutPayload::from(bytes)))
        .expect("put");
    let store: Arc<dyn ObjectStore> = Arc::clone(&counting) as Arc<dyn ObjectStore>;
    let file = TableFile {
        relative: location.to_string(),
        location,
        local: None,
        size,
        modified: chrono::Utc::now(),
        partitions: Vec::new(),
    };
    let footer = rt
        .block_on(super::footer::load(&store, &file))
        .expect("footer");
    let table = SideTable::open(Side::Legacy, "t", &[file], &[footer], &store, &rt).expect("open");
    let footer = counting.served.swap(0, Ordering::Relaxed);
    assert!(footer < 64 * 1024 + 1024, "footer read took {footer} bytes");

    let rg = table.row_groups()[1];
    let chunk = table.files[0]
        .meta
        .metadata()
        .row_group(1)
        .column(1)
        .byte_range()
        .1;
    let mut seen = Vec::new();
    table
        .read_row_group(rg, &["b".to_owned()], None, 8192, &mut |arrays, _| {
            seen.push(arrays[0].len());
            Ok(())
        })
        .expect("read");
    let fetched = counting.served.load(Ordering::Relaxed);
    assert_eq!(seen.iter().sum::<usize>(), 150_000);
    assert_eq!(
        fetched, chunk,
        "one column chunk of one row group, of a {size}-byte file"
    );
    assert!(fetched * 5 < size);
}
