//! The worker threads of recon: one rayon pool for the CPU work (hashing, sorting, merging) and
//! one tokio runtime for I/O and `DataFusion`, made once and lent to every stage. Nothing else in
//! the library builds a runtime or a pool.
//!
//! The workers block on their own runtime, so their methods must not be called from async code;
//! `Reconciler::run_async` runs a whole reconciliation on a thread of its own for
//! callers that are async.

use crate::error::{Error, Result};

/// The worker threads of a run: the rayon pool and the tokio runtime.
pub struct Workers {
    runtime: tokio::runtime::Runtime,
    pool: rayon::ThreadPool,
    threads: usize,
}

impl Workers {
    /// `threads` workers in each of the pool and the runtime (at least one).
    pub fn new(threads: usize) -> Result<Self> {
        let threads = threads.max(1);
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .thread_name(|i| format!("recon-worker-{i}"))
            .build()
            .map_err(|e| Error::failed("thread pool", e))?;
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(threads)
            .thread_name("recon-io")
            .enable_all()
            .build()
            .map_err(|e| Error::failed("tokio runtime", e))?;
        Ok(Self {
            runtime,
            pool,
            threads,
        })
    }

    /// The runtime for I/O and `DataFusion`.
    pub fn runtime(&self) -> &tokio::runtime::Runtime {
        &self.runtime
    }

    /// The pool for CPU work.
    pub fn pool(&self) -> &rayon::ThreadPool {
        &self.pool
    }

    /// Worker threads (of each kind).
    pub fn threads(&self) -> usize {
        self.threads
    }
}

/// Calls `stop` once SIGTERM or SIGINT (Ctrl-C) arrives (`recon watch` and the cluster roles).
pub fn on_stop(rt: &tokio::runtime::Runtime, stop: impl FnOnce() + Send + 'static) -> Result<()> {
    let _guard = rt.enter();
    #[cfg(unix)]
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .map_err(|e| Error::failed("listening for SIGTERM", e))?;
    rt.spawn(async move {
        #[cfg(unix)]
        tokio::select! {
            _ = term.recv() => {}
            _ = tokio::signal::ctrl_c() => {}
        }
        #[cfg(not(unix))]
        let _ = tokio::signal::ctrl_c().await;
        stop();
    });
    Ok(())
}

/// The threads a machine offers (2 where it cannot tell).
pub fn default_threads() -> usize {
    std::thread::available_parallelism().map_or(2, usize::from)
}
