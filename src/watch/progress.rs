//! Where a watch's run is, for a stop that arrives during it: a run is abandoned at once only
//! while it reconciles (nothing has been sent or committed yet); during its exports (a
//! snapshot's commit is two renames) or after its reconciliation (notifications may go out, so
//! the report must be kept) a stop waits for it, and the run goes no further than the step it
//! is in.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError};

/// The steps of a run, as a stop sees them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// `--snapshot`'s exports (and loading the config): never interrupted.
    Exporting,
    /// The reconciliation: abandoned at once.
    Reconciling,
    /// Notifications, reports, metrics: finished before the watch stops.
    Finishing,
}

/// What a stop does to the run in progress.
#[derive(Debug)]
pub enum Stop<'a> {
    /// Abandon it now. The run cannot move on to its next step while this is held: hold it
    /// until the process ends.
    Now(MutexGuard<'a, Step>),
    /// Wait for it: it finishes this step and goes no further (after [`Step::Finishing`], it
    /// completes).
    After(Step),
}

/// The run in progress's step, shared by the run and the thread that hears the stop.
#[derive(Debug)]
pub struct Progress {
    step: Mutex<Step>,
    stopping: AtomicBool,
}

impl Default for Progress {
    fn default() -> Self {
        Self {
            step: Mutex::new(Step::Exporting),
            stopping: AtomicBool::new(false),
        }
    }
}

impl Progress {
    fn lock(&self) -> MutexGuard<'_, Step> {
        self.step.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// A run is about to start: it is exporting.
    pub fn start(&self) {
        *self.lock() = Step::Exporting;
    }

    /// Moves the run to `step`; false when a stop waits and the run should go no further.
    pub fn enter(&self, step: Step) -> bool {
        let mut current = self.lock();
        if self.stopping() {
            return false;
        }
        *current = step;
        true
    }

    /// Whether a stop waits for the run.
    pub fn stopping(&self) -> bool {
        self.stopping.load(Ordering::SeqCst)
    }

    /// A stop arrived during a run: abandon it now (while it reconciles, or at a second stop),
    /// or wait for the step it is in.
    pub fn stop(&self) -> Stop<'_> {
        let step = self.lock();
        if self.stopping.swap(true, Ordering::SeqCst) || *step == Step::Reconciling {
            Stop::Now(step)
        } else {
            Stop::After(*step)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stop_waits_for_an_export_and_a_second_one_does_not() {
        let progress = Progress::default();
        progress.start();
        assert!(matches!(progress.stop(), Stop::After(Step::Exporting)));
        assert!(
            !progress.enter(Step::Reconciling),
            "no further than the export"
        );
        assert!(matches!(progress.stop(), Stop::Now(_)));
    }

    #[test]
    fn a_stop_abandons_a_reconciliation_and_waits_for_the_reports() {
        let reconciling = Progress::default();
        assert!(reconciling.enter(Step::Reconciling));
        assert!(matches!(reconciling.stop(), Stop::Now(_)));
        let finishing = Progress::default();
        assert!(finishing.enter(Step::Reconciling) && finishing.enter(Step::Finishing));
        assert!(matches!(finishing.stop(), Stop::After(Step::Finishing)));
        assert!(finishing.stopping());
    }
}
