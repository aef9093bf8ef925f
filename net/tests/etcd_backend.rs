#![cfg(feature = "etcd")]
use etcd_client::*;
use net::backend::etcd::LocalEtcd;
use std::time::{Duration, Instant};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn experiment() {
    let mut etcd = LocalEtcd::start().await.unwrap();
    let mut c = Client::connect([etcd.endpoint()], None).await.unwrap();
    let r = c.put("/g/a", "1", None).await.unwrap();
    println!("put rev {:?}", r.header().unwrap().revision());
    // txn put on missing lease, in then-branch and in else-branch
    let t = Txn::new()
        .when([Compare::version("/g/a", CompareOp::Equal, 0)])
        .and_then([TxnOp::put(
            "/g/b",
            "x",
            Some(PutOptions::new().with_lease(12345)),
        )])
        .or_else([TxnOp::put("/g/c", "x", None)]);
    println!(
        "txn lease in untaken branch: {:?}",
        c.txn(t).await.map(|r| r.succeeded())
    );
    let t = Txn::new().and_then([TxnOp::put(
        "/g/b",
        "x",
        Some(PutOptions::new().with_lease(12345)),
    )]);
    match c.txn(t).await {
        Err(Error::GRpcStatus(s)) => {
            println!("txn lease taken: code {:?} msg {:?}", s.code(), s.message())
        }
        o => println!("txn {o:?}"),
    }
    match c.lease_revoke(999).await {
        Err(Error::GRpcStatus(s)) => println!("revoke: code {:?} msg {:?}", s.code(), s.message()),
        o => println!("revoke {o:?}"),
    }
    println!("ka: {:?}", c.lease_keep_alive(999).await.map(|_| ()));
    let g = c.lease_grant(1, None).await.unwrap();
    println!("grant ttl {} id {}", g.ttl(), g.id());
    let g = c.lease_grant(3, None).await.unwrap();
    println!("grant ttl {} id {}", g.ttl(), g.id());
    // watch + progress
    let (mut w, mut s) = c
        .watch(
            "/g/",
            Some(WatchOptions::new().with_prefix().with_start_revision(1)),
        )
        .await
        .unwrap();
    let m = s.message().await.unwrap().unwrap();
    println!(
        "first msg: created {} events {} hdr {:?}",
        m.created(),
        m.events().len(),
        m.header().map(|h| h.revision())
    );
    c.put("/other", "1", None).await.unwrap();
    w.request_progress().await.unwrap();
    let m = s.message().await.unwrap().unwrap();
    println!(
        "progress msg: created {} canceled {} events {} hdr {:?} id {}",
        m.created(),
        m.canceled(),
        m.events().len(),
        m.header().map(|h| h.revision()),
        m.watch_id()
    );
    // compaction
    c.put("/g/a", "2", None).await.unwrap();
    let r = c.put("/g/a", "3", None).await.unwrap();
    let rev = r.header().unwrap().revision();
    c.compact(rev - 1, None).await.unwrap();
    let t0 = Instant::now();
    let (_w2, mut s2) = c
        .watch(
            "/g/",
            Some(WatchOptions::new().with_prefix().with_start_revision(2)),
        )
        .await
        .unwrap();
    let m = s2.message().await.unwrap().unwrap();
    println!(
        "compacted watch: after {:?} created {} canceled {} compact_rev {} reason {:?}",
        t0.elapsed(),
        m.created(),
        m.canceled(),
        m.compact_revision(),
        m.cancel_reason()
    );
    match c
        .get(
            "/g/",
            Some(
                GetOptions::new()
                    .with_prefix()
                    .with_count_only()
                    .with_revision(2),
            ),
        )
        .await
    {
        Err(Error::GRpcStatus(s)) => {
            println!("range compacted: code {:?} msg {:?}", s.code(), s.message())
        }
        o => println!("range {:?}", o.map(|_| ())),
    }
    match c
        .get(
            "/g/",
            Some(
                GetOptions::new()
                    .with_prefix()
                    .with_count_only()
                    .with_revision(rev + 5),
            ),
        )
        .await
    {
        Err(Error::GRpcStatus(s)) => {
            println!("range future: code {:?} msg {:?}", s.code(), s.message())
        }
        o => println!("range {:?}", o.map(|_| ())),
    }
    // down
    etcd.kill();
    let t0 = Instant::now();
    let r = tokio::time::timeout(Duration::from_secs(3), c.get("/g/", None)).await;
    println!(
        "after kill: {:?} in {:?}",
        r.as_ref().map(|r| r.as_ref().map(|_| ())),
        t0.elapsed()
    );
    if let Ok(Err(Error::GRpcStatus(s))) = &r {
        println!(
            "code {:?} msg {:?} src {:?}",
            s.code(),
            s.message(),
            std::error::Error::source(s)
        );
    }
    println!(
        "watch after kill: {:?}",
        tokio::time::timeout(Duration::from_secs(3), s.message())
            .await
            .map(|r| r.map(|m| m.map(|m| (m.created(), m.canceled()))))
    );
    let t0 = Instant::now();
    let r = tokio::time::timeout(Duration::from_secs(3), c.get("/g/", None)).await;
    println!(
        "again: {:?} in {:?}",
        r.as_ref().map(|r| r.as_ref().map(|_| ())),
        t0.elapsed()
    );
    let mut c2 = Client::connect([etcd.endpoint()], None).await.unwrap();
    let t0 = Instant::now();
    let r = tokio::time::timeout(Duration::from_secs(3), c2.get("/g/", None)).await;
    println!(
        "fresh client to down: {:?} in {:?}",
        r.as_ref().map(|r| r.as_ref().map(|_| ())),
        t0.elapsed()
    );
    etcd.restart().await.unwrap();
    let t0 = Instant::now();
    let r = tokio::time::timeout(Duration::from_secs(3), c.get("/g/", None)).await;
    println!(
        "after restart: {:?} in {:?}",
        r.as_ref().map(|r| r.as_ref().map(|_| ())),
        t0.elapsed()
    );
    let r = tokio::time::timeout(Duration::from_secs(3), c.get("/g/", None)).await;
    println!(
        "after restart 2: {:?} in {:?}",
        r.as_ref().map(|r| r.as_ref().map(|_| ())),
        t0.elapsed()
    );
}
