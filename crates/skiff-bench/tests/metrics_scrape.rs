//! `--metrics-url` end to end: a stand-in Prometheus endpoint on a real socket whose counters
//! move between the scrape before and the scrape after a produce run.

use crate::support;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use support::{TestBroker, measure};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

/// Serves `skiff_object_store_requests_total` with `put` growing by 7 and `get_range` by 2
/// on every scrape; `list` and `delete` are never reported.
async fn fake_metrics_endpoint() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let scrapes = Arc::new(AtomicU64::new(0));
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            let n = scrapes.fetch_add(1, Ordering::Relaxed) + 1;
            let mut request = [0u8; 1024];
            let _ = socket.read(&mut request).await;
            let body = format!(
                "# TYPE skiff_object_store_requests_total counter\n\
                 skiff_object_store_requests_total{{kind=\"put\"}} {}\n\
                 skiff_object_store_requests_total{{kind=\"get\"}} 5\n\
                 skiff_object_store_requests_total{{kind=\"get_range\"}} {}\n",
                100 + 7 * n,
                2 * n
            );
            let response = format!(
                "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: {}\r\n\r\n{body}",
                body.len()
            );
            let _ = socket.write_all(response.as_bytes()).await;
        }
    });
    format!("http://{addr}/metrics")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn object_store_requests_are_reported_per_gigabyte() {
    let broker = TestBroker::start().await;
    let bootstrap = broker.addr.to_string();
    let metrics_url = fake_metrics_endpoint().await;
    let summary = measure(&[
        "produce",
        "-b",
        &bootstrap,
        "--topic",
        "scraped",
        "--partitions",
        "2",
        "--record-size",
        "1000",
        "--records",
        "500",
        "--metrics-url",
        &metrics_url,
    ])
    .await
    .expect("produce runs")
    .summary;
    assert_eq!(summary.bytes, 500_000);
    assert_eq!(summary.metrics_error, None);
    let store = summary.object_store.expect("object store figures reported");
    assert_eq!(store.puts, Some(7));
    assert_eq!(
        store.gets,
        Some(2),
        "get_range counts as a GET; get did not move"
    );
    assert_eq!(
        store.requests.get("list"),
        None,
        "unreported kinds stay unreported"
    );
    // 7 PUTs over 0.0005 GB.
    let puts_per_gb = store.puts_per_gb.expect("per-GB figure");
    assert!((puts_per_gb - 14_000.0).abs() < 1e-6, "{puts_per_gb}");
    broker.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_metrics_endpoint_is_noted_not_fatal() {
    let broker = TestBroker::start().await;
    let bootstrap = broker.addr.to_string();
    let closed = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let metrics_url = format!("http://{}/metrics", closed.local_addr().expect("addr"));
    drop(closed);
    let summary = measure(&[
        "produce",
        "-b",
        &bootstrap,
        "--topic",
        "unscraped",
        "--records",
        "20",
        "--record-size",
        "10",
        "--metrics-url",
        &metrics_url,
    ])
    .await
    .expect("the run itself succeeds")
    .summary;
    assert_eq!(summary.records, 20);
    assert!(summary.object_store.is_none());
    let error = summary
        .metrics_error
        .expect("the scrape failure is reported");
    assert!(error.contains("cannot connect"), "{error}");
    broker.stop().await;
}
