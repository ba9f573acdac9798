//! A flood of large remote-write bodies at the production limits: memory stays bounded
//! (at most `http::READING` bodies are held at once) and the receiver still answers. Its
//! own test binary, so the process's peak memory is this test's alone.

use doppel_model::Key;
use doppel_sources::prometheus::remote_write::{Label, Limits, Receiver, Sample, TimeSeries, WriteRequest, encode};
use doppel_sources::prometheus::{Bindings, Targets, http};
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Barrier};
use std::time::Duration;

const BINDINGS: &str = r#"
prometheus:
  bindings:
    - series: latency_p99_ms
      entity: "service/{{service}}"
      metric: "service:latency_seconds:p99"
"#;

/// The process's peak resident memory so far, bytes (`VmHWM`).
fn peak_rss() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("/proc/self/status (Linux)");
    let line = status.lines().find(|l| l.starts_with("VmHWM:")).expect("a VmHWM line");
    let kib: u64 = line.split_whitespace().nth(1).and_then(|v| v.parse().ok()).expect("VmHWM in kB");
    kib * 1024
}

fn answer(stream: &mut TcpStream) -> String {
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer);
    String::from_utf8_lossy(&answer).into_owned()
}

#[test]
fn a_flood_of_large_bodies_keeps_memory_bounded() {
    let bindings = Bindings::parse("flood.yaml", BINDINGS, "prometheus").unwrap();
    let limits = Limits::default();
    let receiver = Arc::new(Receiver::new(&bindings, Targets::keys(["service/cart".parse::<Key>().unwrap()]), limits));
    let stored = Arc::new(AtomicUsize::new(0));
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    {
        let stored = stored.clone();
        let sink: http::Sink = Arc::new(move |got| {
            stored.fetch_add(got.samples.len(), Ordering::SeqCst);
            Ok(())
        });
        std::thread::spawn(move || http::serve_blocking(listener, receiver, sink, None));
    }
    // Bodies just under the 16 MiB limit, each a snappy header claiming 5 bytes followed by
    // bytes that are not snappy: read whole, then refused with 400.
    let size = limits.max_body_bytes - 1024;
    let clients = 40;
    let piece = vec![0xffu8; 64 << 10];
    let before = peak_rss();
    let barrier = Arc::new(Barrier::new(clients));
    let threads: Vec<_> = (0..clients)
        .map(|_| {
            let (barrier, piece) = (barrier.clone(), piece.clone());
            std::thread::spawn(move || {
                let mut stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
                stream.set_read_timeout(Some(Duration::from_secs(120))).unwrap();
                let head = format!(
                    "POST /api/v1/write HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Type: application/x-protobuf\r\nContent-Encoding: snappy\r\nContent-Length: {size}\r\n\r\n"
                );
                barrier.wait();
                stream.write_all(head.as_bytes()).unwrap();
                stream.write_all(&[0x05]).unwrap();
                let mut left = size - 1;
                while left > 0 {
                    let n = left.min(piece.len());
                    if stream.write_all(&piece[..n]).is_err() {
                        break;
                    }
                    left -= n;
                }
                answer(&mut stream)
            })
        })
        .collect();
    for thread in threads {
        let answer = thread.join().unwrap();
        assert!(answer.starts_with("HTTP/1.1 400") && answer.contains("not snappy"), "{answer}");
    }
    let grown = peak_rss().saturating_sub(before);
    // Unbounded, the 40 bodies (640 MiB) would all be held at once; bounded, a few are.
    let bound = (http::READING as u64 + 4) * limits.max_body_bytes as u64;
    assert!(grown < bound, "peak memory grew by {} MiB (bound {} MiB)", grown >> 20, bound >> 20);
    // And the receiver still stores a good request.
    let request = WriteRequest {
        timeseries: vec![TimeSeries {
            labels: vec![Label::new("__name__", "service:latency_seconds:p99"), Label::new("service", "cart")],
            samples: vec![Sample { value: 0.2, timestamp: 5 }],
        }],
    };
    let body = encode(&request);
    let mut stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
    let head = format!(
        "POST /api/v1/write HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Type: application/x-protobuf\r\nContent-Encoding: snappy\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).unwrap();
    stream.write_all(&body).unwrap();
    let answer = answer(&mut stream);
    assert!(answer.starts_with("HTTP/1.1 204"), "{answer}");
    assert_eq!(stored.load(Ordering::SeqCst), 1);
}
