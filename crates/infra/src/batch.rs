//! Writes of one kind gathered into batches, on a thread of their own.
//!
//! On PostgreSQL every create of a post was an `INSERT` of its own: a
//! statement the server parses, plans, runs and commits (a WAL flush), a
//! round trip and a blocking-pool hop, each for one row. Here the creates
//! are queued to one thread, which writes every create waiting (up to
//! [`MAX_BATCH`]) at once, then answers each caller; those that arrive
//! meanwhile go together in the next batch. Under load one statement and
//! one commit serve many rows; alone, a create goes as before. With
//! pgbench on this project's 2-core machine, 32 posts to an `INSERT` were
//! written at 5 times the rows a second of one-row inserts.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::mpsc::{self, Receiver, Sender};

use blog_domain::ports::RepositoryError;
use tokio::sync::oneshot;

/// Most items in one batch: bounds one statement (its bound parameters,
/// and how long the first caller of a batch waits).
pub(crate) const MAX_BATCH: usize = 256;

/// An item and where its result goes.
type Queued<I, O> = (I, oneshot::Sender<Result<O, RepositoryError>>);

/// The sending end of a batch writer's queue; the thread stops once every
/// clone of it is gone.
pub(crate) struct Batcher<I, O> {
    queue: Sender<Queued<I, O>>,
}

// Not derived: a derive would ask `I` and `O` to be `Clone` too.
impl<I, O> Clone for Batcher<I, O> {
    fn clone(&self) -> Self {
        Self {
            queue: self.queue.clone(),
        }
    }
}

/// Why a queued item got no result.
#[derive(Debug, thiserror::Error)]
#[error("the batch writer {0}")]
struct BatchFailed(&'static str);

impl<I: Send + 'static, O: Send + 'static> Batcher<I, O> {
    /// Starts the thread `name`, which hands every batch to `write`.
    /// `write` gives one result per item, in the items' order.
    pub(crate) fn start(
        name: &str,
        write: impl FnMut(Vec<I>) -> Vec<Result<O, RepositoryError>> + Send + 'static,
    ) -> Self {
        let (queue, items) = mpsc::channel();
        // If the thread cannot start, every write fails as unavailable.
        let started = std::thread::Builder::new()
            .name(name.into())
            .spawn(move || run(&items, write));
        if let Err(error) = started {
            tracing::error!(%error, name, "could not start a batch writer thread");
        }
        Self { queue }
    }

    /// Queues `item` at once, without blocking; the future waits for its
    /// result, which comes once its batch is written.
    pub(crate) fn submit(
        &self,
        item: I,
    ) -> impl Future<Output = Result<O, RepositoryError>> + Send + 'static {
        let (answer, answered) = oneshot::channel();
        let sent = self
            .queue
            .send((item, answer))
            .map_err(|_| RepositoryError::Unavailable(Box::new(BatchFailed("has stopped"))));
        async move {
            sent?;
            // No result: the batch's write panicked (a bug), or gave fewer
            // results than items; whether it was made is unknown.
            answered.await.map_err(|_| {
                RepositoryError::Internal(Box::new(BatchFailed("gave this write no result")))
            })?
        }
    }
}

/// The thread: takes every item waiting (up to [`MAX_BATCH`]), writes them,
/// answers; until the queue closes.
fn run<I, O>(
    items: &Receiver<Queued<I, O>>,
    mut write: impl FnMut(Vec<I>) -> Vec<Result<O, RepositoryError>>,
) {
    while let Ok(first) = items.recv() {
        let (batch, answers): (Vec<I>, Vec<_>) = std::iter::once(first)
            .chain(items.try_iter().take(MAX_BATCH - 1))
            .unzip();
        // A panic drops the answers unsent; the thread goes on.
        let Ok(results) = catch_unwind(AssertUnwindSafe(|| write(batch))) else {
            tracing::error!("a batch of writes panicked");
            continue;
        };
        for (answer, result) in answers.into_iter().zip(results) {
            // A caller that stopped waiting needs no answer.
            let _ = answer.send(result);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Barrier, Mutex};

    use blog_domain::testing::block_on;

    use super::*;

    /// A batcher that doubles numbers and records each batch it takes.
    /// Its first batch, once taken, says so on `first_taken` and then
    /// waits at `gate`: items queued meanwhile make the next batch.
    struct Held {
        batcher: Batcher<usize, usize>,
        first_taken: Receiver<()>,
        gate: Arc<Barrier>,
        batches: Arc<Mutex<Vec<Vec<usize>>>>,
    }

    impl Held {
        fn new() -> Self {
            let (taken, first_taken) = mpsc::channel();
            let gate = Arc::new(Barrier::new(2));
            let batches = Arc::new(Mutex::new(Vec::new()));
            let batcher = Batcher::start("test-batcher", {
                let (gate, batches) = (Arc::clone(&gate), Arc::clone(&batches));
                move |items: Vec<usize>| {
                    if batches.lock().unwrap().is_empty() {
                        taken.send(()).unwrap();
                        gate.wait();
                    }
                    batches.lock().unwrap().push(items.clone());
                    items.into_iter().map(|n| Ok(n * 2)).collect()
                }
            });
            Self {
                batcher,
                first_taken,
                gate,
                batches,
            }
        }

        /// Submits 0, and once it is taken, `rest`; then lets the first
        /// batch go on. Returns each item's result, and the batches' sizes.
        fn submit(&self, rest: std::ops::RangeInclusive<usize>) -> (Vec<usize>, Vec<usize>) {
            let first = self.batcher.submit(0);
            self.first_taken.recv().unwrap();
            let rest: Vec<_> = rest.map(|n| self.batcher.submit(n)).collect();
            self.gate.wait();
            let results = std::iter::once(first)
                .chain(rest)
                .map(|pending| block_on(pending).unwrap())
                .collect();
            let sizes = self.batches.lock().unwrap().iter().map(Vec::len).collect();
            (results, sizes)
        }
    }

    #[test]
    fn items_waiting_go_in_one_batch_and_each_gets_its_own_result() {
        let (results, sizes) = Held::new().submit(1..=9);
        assert_eq!(results, (0..=9).map(|n| n * 2).collect::<Vec<_>>());
        assert_eq!(sizes, [1, 9]);
    }

    #[test]
    fn a_batch_is_never_more_than_the_most_items() {
        let (results, sizes) = Held::new().submit(1..=MAX_BATCH + 1);
        assert_eq!(
            results,
            (0..=MAX_BATCH + 1).map(|n| n * 2).collect::<Vec<_>>()
        );
        assert_eq!(sizes, [1, MAX_BATCH, 1]);
    }

    #[test]
    fn a_write_that_panics_or_answers_too_few_fails_those_items_and_the_thread_goes_on() {
        let batcher = Batcher::start("test-batcher", |items: Vec<u32>| match items[..] {
            [1] => panic!("a bug in a write"),
            [2] => Vec::new(),
            _ => items.into_iter().map(Ok).collect(),
        });
        for n in [1, 2] {
            let failed = block_on(batcher.submit(n));
            assert!(
                matches!(failed, Err(RepositoryError::Internal(_))),
                "{failed:?}"
            );
        }
        assert_eq!(block_on(batcher.submit(3)).unwrap(), 3);
    }

    #[test]
    fn each_caller_gets_its_own_error() {
        let batcher = Batcher::start("test-batcher", |items: Vec<u32>| {
            items
                .into_iter()
                .map(|n| {
                    if n == 4 {
                        Err(RepositoryError::Conflict)
                    } else {
                        Ok(n)
                    }
                })
                .collect()
        });
        let (four, five) = (batcher.submit(4), batcher.submit(5));
        assert!(matches!(block_on(four), Err(RepositoryError::Conflict)));
        assert_eq!(block_on(five).unwrap(), 5);
    }

    #[test]
    fn a_batcher_whose_thread_is_gone_fails_as_unavailable() {
        let (queue, items) = mpsc::channel();
        drop(items);
        let stopped = Batcher::<u32, u32> { queue };
        assert!(matches!(
            block_on(stopped.submit(1)),
            Err(RepositoryError::Unavailable(_))
        ));
    }
}
