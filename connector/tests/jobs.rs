//! The job outbox on SQLite and PostgreSQL: claim, lease expiry, retries, dead letters, and
//! concurrent workers never taking the same job.

mod support;

use std::collections::HashSet;

use chrono::Duration;
use connector::store::jobs::{enqueue, NewJob};
use connector::store::Store;

async fn store(db: &str) -> Store {
    let s = Store::connect(db, 8).await.unwrap();
    s.migrate().await.unwrap();
    s
}

#[tokio::test]
async fn claim_complete_retry_and_dead_letter() {
    for db in support::databases().await {
        let s = store(&db).await;
        let w = s.begin_write().await.unwrap();
        let mut job = NewJob::now("test.kind", None, serde_json::json!({"n": 1}));
        job.max_attempts = 2;
        let id = enqueue(&w.txn, job).await.unwrap().to_string();
        w.commit().await.unwrap();

        assert!(s
            .claim_job("w1", &["other.kind"], Duration::seconds(30))
            .await
            .unwrap()
            .is_none());
        let j = s
            .claim_job("w1", &["test.kind"], Duration::seconds(30))
            .await
            .unwrap()
            .unwrap();
        assert_eq!((j.id.as_str(), j.attempt), (id.as_str(), 1));
        assert_eq!(j.payload["n"], 1);
        // Held by w1: nobody else gets it.
        assert!(s
            .claim_job("w2", &["test.kind"], Duration::seconds(30))
            .await
            .unwrap()
            .is_none());
        assert!(s
            .heartbeat_job(&id, "w1", Duration::seconds(30))
            .await
            .unwrap());
        assert!(!s
            .heartbeat_job(&id, "w2", Duration::seconds(30))
            .await
            .unwrap());

        // A failure schedules a retry (immediately here), then the last attempt goes dead.
        assert_eq!(
            s.fail_job(&id, "w1", "boom", Some(Duration::zero()))
                .await
                .unwrap(),
            "queued"
        );
        let j = s
            .claim_job("w2", &["test.kind"], Duration::seconds(30))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(j.attempt, 2);
        assert_eq!(
            s.fail_job(&id, "w2", "boom again", Some(Duration::zero()))
                .await
                .unwrap(),
            "dead"
        );
        assert!(s
            .claim_job("w1", &["test.kind"], Duration::seconds(30))
            .await
            .unwrap()
            .is_none());
        assert_eq!(s.job_status(&id).await.unwrap().0, "dead");
    }
}

#[tokio::test]
async fn a_crashed_workers_job_is_taken_again_after_its_lease() {
    for db in support::databases().await {
        let s = store(&db).await;
        let w = s.begin_write().await.unwrap();
        let id = enqueue(&w.txn, NewJob::now("k", None, serde_json::json!({})))
            .await
            .unwrap()
            .to_string();
        w.commit().await.unwrap();
        // w1 claims with a lease that is already over (it "crashed").
        let j = s
            .claim_job("w1", &["k"], Duration::seconds(-1))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(j.id, id);
        let again = s
            .claim_job("w2", &["k"], Duration::seconds(30))
            .await
            .unwrap()
            .unwrap_or_else(|| panic!("not reclaimed on {db}"));
        // A crash is not the job's failure: the retake does not use up an attempt.
        assert_eq!((again.id.as_str(), again.attempt), (id.as_str(), 1));
        // The crashed worker can no longer complete it; the new holder can.
        assert!(!s.complete_job(&id, "w1").await.unwrap());
        assert!(s.complete_job(&id, "w2").await.unwrap());
        assert_eq!(s.job_status(&id).await.unwrap().0, "done");

        // Graceful shutdown gives jobs back.
        let w = s.begin_write().await.unwrap();
        enqueue(&w.txn, NewJob::now("k", None, serde_json::json!({})))
            .await
            .unwrap();
        w.commit().await.unwrap();
        s.claim_job("w3", &["k"], Duration::seconds(300))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(s.release_jobs("w3").await.unwrap(), 1);
        assert!(s
            .claim_job("w4", &["k"], Duration::seconds(300))
            .await
            .unwrap()
            .is_some());
    }
}

#[tokio::test]
async fn concurrent_workers_never_take_the_same_job() {
    for db in support::databases().await {
        let s = store(&db).await;
        let w = s.begin_write().await.unwrap();
        for i in 0..60 {
            enqueue(
                &w.txn,
                NewJob::now("k", None, serde_json::json!({ "i": i })),
            )
            .await
            .unwrap();
        }
        w.commit().await.unwrap();
        let mut tasks = Vec::new();
        for worker in 0..6 {
            let s = s.clone();
            tasks.push(tokio::spawn(async move {
                let name = format!("w{worker}");
                let mut mine = Vec::new();
                while let Some(j) = s
                    .claim_job(&name, &["k"], Duration::seconds(300))
                    .await
                    .unwrap()
                {
                    assert!(s.complete_job(&j.id, &name).await.unwrap());
                    mine.push(j.id);
                }
                mine
            }));
        }
        let mut seen = HashSet::new();
        for t in tasks {
            for id in t.await.unwrap() {
                assert!(seen.insert(id), "a job was claimed twice on {db}");
            }
        }
        assert_eq!(seen.len(), 60, "{db}");
    }
}
