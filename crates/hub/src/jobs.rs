//! Conversion jobs: an upload answers at once with a job id, and the conversion reports its progress there.
//!
//! Jobs live in memory: the flists they produce are durable, a job's status
//! is not (a hub restarted mid-conversion forgets the job and its spooled
//! upload; the client sees the job vanish and pushes again).

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;

use serde::{Deserialize, Serialize};

/// Most finished jobs remembered; the oldest are forgotten first.
const MAX_FINISHED: usize = 1000;

/// Where a job is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum JobState {
    /// Waiting for a conversion slot.
    Queued,
    /// Converting.
    Running,
    /// The flist is published.
    Done,
    /// Stopped with an error.
    Failed,
}

/// What a client polls.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct JobStatus {
    /// Job id.
    pub id: String,
    /// `user/name` being made.
    pub flist: String,
    /// Where it is.
    pub state: JobState,
    /// What it is doing, in words.
    pub stage: String,
    /// Files packed so far.
    pub files_done: u64,
    /// Files in the image (once known).
    pub files_total: u64,
    /// File bytes packed so far.
    pub bytes_done: u64,
    /// File bytes in the image (once known).
    pub bytes_total: u64,
    /// Blocks the hub did not have before.
    pub blocks_uploaded: u64,
    /// Why it failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Hex digest of the published `.fl`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub digest: Option<String>,
}

/// All jobs of this hub process.
#[derive(Default)]
pub(crate) struct Jobs {
    inner: Mutex<Inner>,
}

#[derive(Default)]
struct Inner {
    jobs: HashMap<String, JobStatus>,
    finished: VecDeque<String>,
}

impl Jobs {
    /// Records a new queued job for `flist` and returns its id.
    pub(crate) fn start(&self, flist: &str) -> String {
        let id = hex::encode(rand::random::<[u8; 16]>());
        let status = JobStatus {
            id: id.clone(),
            flist: flist.to_string(),
            state: JobState::Queued,
            stage: "waiting for a conversion slot".into(),
            files_done: 0,
            files_total: 0,
            bytes_done: 0,
            bytes_total: 0,
            blocks_uploaded: 0,
            error: None,
            digest: None,
        };
        self.lock().jobs.insert(id.clone(), status);
        id
    }

    /// The status of job `id`.
    pub(crate) fn get(&self, id: &str) -> Option<JobStatus> {
        self.lock().jobs.get(id).cloned()
    }

    /// Changes a running job's status.
    pub(crate) fn update(&self, id: &str, change: impl FnOnce(&mut JobStatus)) {
        if let Some(status) = self.lock().jobs.get_mut(id) {
            change(status);
        }
    }

    /// Ends job `id`: done with a digest, or failed with an error.
    pub(crate) fn finish(&self, id: &str, result: Result<String, String>) {
        let mut inner = self.lock();
        let Some(status) = inner.jobs.get_mut(id) else {
            return;
        };
        match result {
            Ok(digest) => {
                status.state = JobState::Done;
                status.stage = "published".into();
                status.digest = Some(digest);
            }
            Err(error) => {
                status.state = JobState::Failed;
                status.stage = "failed".into();
                status.error = Some(error);
            }
        }
        inner.finished.push_back(id.to_string());
        while inner.finished.len() > MAX_FINISHED {
            if let Some(old) = inner.finished.pop_front() {
                inner.jobs.remove(&old);
            }
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lifecycle_and_forgetting() {
        let jobs = Jobs::default();
        let id = jobs.start("alice/deb");
        assert_eq!(jobs.get(&id).unwrap().state, JobState::Queued);
        jobs.update(&id, |s| s.state = JobState::Running);
        jobs.finish(&id, Ok("ab".into()));
        let done = jobs.get(&id).unwrap();
        assert_eq!(
            (done.state, done.digest.as_deref()),
            (JobState::Done, Some("ab"))
        );
        let failed = jobs.start("alice/x");
        jobs.finish(&failed, Err("bad archive".into()));
        assert_eq!(
            jobs.get(&failed).unwrap().error.as_deref(),
            Some("bad archive")
        );
        for _ in 0..MAX_FINISHED {
            let id = jobs.start("a/b");
            jobs.finish(&id, Ok(String::new()));
        }
        assert!(
            jobs.get(&id).is_none(),
            "the oldest finished job is forgotten"
        );
    }
}
