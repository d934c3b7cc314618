//! Group commit: requests that each need one small write hand it to a writer task, which
//! writes everything queued in one statement and one commit and then answers each
//! request. A request still returns only after its write is committed, but a burst of
//! them costs one commit, one trip through SQLite's single writer and one hand-off to
//! sqlx's connection thread instead of hundreds.

use std::future::Future;
use std::sync::Arc;

use sqlx::SqlitePool;
use tokio::sync::{mpsc, oneshot};

use super::StoreError;

/// Items per statement: callers' statements must fit their parameters for this many
/// under SQLite's limit of 32,766.
pub(super) const MAX_BATCH: usize = 256;
/// Writes waiting for the writer before callers wait to queue theirs.
const QUEUE: usize = 4096;

/// One kind of batched write.
pub(super) trait BatchWrite: Send + Sync + 'static {
    type Item: Send + 'static;
    type Answer: Send + 'static;
    /// Writes `items` (at most [`MAX_BATCH`]) in one transaction and answers each, in
    /// order.
    fn write(
        pool: &SqlitePool,
        items: &[Self::Item],
    ) -> impl Future<Output = Result<Vec<Self::Answer>, sqlx::Error>> + Send;
}

type Job<W> = (
    <W as BatchWrite>::Item,
    oneshot::Sender<Result<<W as BatchWrite>::Answer, StoreError>>,
);

/// The sending side of one writer task; the task ends when the last clone drops.
pub(super) struct GroupCommit<W: BatchWrite> {
    jobs: mpsc::Sender<Job<W>>,
}

impl<W: BatchWrite> Clone for GroupCommit<W> {
    fn clone(&self) -> Self {
        GroupCommit {
            jobs: self.jobs.clone(),
        }
    }
}

impl<W: BatchWrite> std::fmt::Debug for GroupCommit<W> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("GroupCommit")
    }
}

impl<W: BatchWrite> GroupCommit<W> {
    pub(super) fn start(pool: SqlitePool) -> Self {
        let (jobs, queue) = mpsc::channel(QUEUE);
        tokio::spawn(run::<W>(pool, queue));
        GroupCommit { jobs }
    }

    /// Queues `item` and waits until the batch holding it is committed.
    pub(super) async fn write(&self, item: W::Item) -> Result<W::Answer, StoreError> {
        let (done, answer) = oneshot::channel();
        let stopped = || StoreError::Corrupt("a group-commit writer has stopped".into());
        self.jobs.send((item, done)).await.map_err(|_| stopped())?;
        answer.await.map_err(|_| stopped())?
    }
}

async fn run<W: BatchWrite>(pool: SqlitePool, mut queue: mpsc::Receiver<Job<W>>) {
    let mut jobs = Vec::with_capacity(MAX_BATCH);
    while queue.recv_many(&mut jobs, MAX_BATCH).await > 0 {
        let (items, waiting): (Vec<W::Item>, Vec<_>) = jobs.drain(..).unzip();
        match W::write(&pool, &items).await {
            Ok(answers) if answers.len() == waiting.len() => {
                for (done, answer) in waiting.into_iter().zip(answers) {
                    // A request whose client went away no longer waits for its answer.
                    let _ = done.send(Ok(answer));
                }
            }
            Ok(answers) => {
                let reason = format!(
                    "a batched write answered {} of {} items",
                    answers.len(),
                    waiting.len()
                );
                for done in waiting {
                    let _ = done.send(Err(StoreError::Corrupt(reason.clone())));
                }
            }
            Err(error) => {
                let error = Arc::new(error);
                for done in waiting {
                    let _ = done.send(Err(StoreError::Batch(error.clone())));
                }
            }
        }
    }
}
