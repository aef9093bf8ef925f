//! Bad bytes on the registry port: the frame decoder never panics, and a live server that is
//! fed garbage keeps serving everyone else.

use bytes::BytesMut;
use net::admin::Admin;
use net::wire::{decode_frame, encode_frame, ClientFrame, ServerFrame, WireError, WIRE_VERSION};
use net::{EmbeddedBackend, Server, ServerConfig};
use proptest::prelude::*;
use protocol::registry::{Compare, Key, Op, Txn, Value};
use protocol::{NodeId, Request, ResourceId};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const MAX: usize = 1 << 16;

fn sample_frames() -> Vec<ClientFrame> {
    let r = ResourceId::new("r1");
    vec![
        ClientFrame::Hello {
            version: WIRE_VERSION,
            group: "g".into(),
            client: NodeId::new("a"),
            token: Some("t".into()),
        },
        ClientFrame::Request {
            id: 7,
            request: Request::Grant { ttl: 3000 },
        },
        ClientFrame::Request {
            id: 8,
            request: Request::Txn(Txn {
                compare: vec![Compare::Absent(Key::Barrier(r.clone()))],
                then: vec![Op::Put {
                    key: Key::Barrier(r),
                    value: Value::Empty,
                    lease: Some(protocol::LeaseId(3)),
                }],
                otherwise: vec![],
            }),
        },
        ClientFrame::Request {
            id: 9,
            request: Request::Watch { from_rev: 12 },
        },
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 4096, ..ProptestConfig::default() })]

    /// Arbitrary bytes: an error or a frame, never a panic, and never more than the limit
    /// reserved.
    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        let mut buf = BytesMut::from(&bytes[..]);
        while let Ok(Some(_)) = decode_frame::<ClientFrame>(&mut buf, MAX) {}
        prop_assert!(buf.capacity() <= MAX + 4 + bytes.len());
    }

    /// A valid frame with bytes flipped, cut or extended decodes to something or fails cleanly.
    #[test]
    fn corrupted_frames_fail_cleanly(
        which in 0usize..4,
        flips in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..6),
        cut in any::<prop::sample::Index>(),
    ) {
        let frame = sample_frames()[which].clone();
        let mut buf = BytesMut::new();
        encode_frame(&frame, &mut buf, MAX).unwrap();
        let mut bytes = buf.to_vec();
        for (i, b) in flips {
            let i = i.index(bytes.len());
            bytes[i] ^= b;
        }
        bytes.truncate(cut.index(bytes.len() + 1));
        let mut buf = BytesMut::from(&bytes[..]);
        let _ = decode_frame::<ClientFrame>(&mut buf, MAX);
    }

    /// What is encoded decodes to itself, also split across reads.
    #[test]
    fn frames_round_trip(which in 0usize..4, split in any::<prop::sample::Index>()) {
        let frame = sample_frames()[which].clone();
        let mut whole = BytesMut::new();
        encode_frame(&frame, &mut whole, MAX).unwrap();
        let at = split.index(whole.len());
        let mut buf = BytesMut::from(&whole[..at]);
        if at < whole.len() {
            prop_assert!(decode_frame::<ClientFrame>(&mut buf, MAX).unwrap().is_none());
        }
        buf.extend_from_slice(&whole[at..]);
        prop_assert_eq!(decode_frame::<ClientFrame>(&mut buf, MAX).unwrap(), Some(frame));
        prop_assert!(buf.is_empty());
    }
}

#[test]
fn an_oversized_length_is_refused_before_reading_it() {
    let mut buf = BytesMut::from(&[0xff, 0xff, 0xff, 0xff, 1, 2, 3][..]);
    match decode_frame::<ClientFrame>(&mut buf, MAX) {
        Err(WireError::Oversized { len, max }) => {
            assert_eq!((len, max), (u32::MAX as usize, MAX));
        }
        other => panic!("expected an oversized error, got {other:?}"),
    }
}

#[test]
fn trailing_bytes_inside_a_frame_are_malformed() {
    let mut buf = BytesMut::new();
    encode_frame(&sample_frames()[1], &mut buf, MAX).unwrap();
    let len = u32::from_be_bytes([buf[0], buf[1], buf[2], buf[3]]) + 1;
    buf[..4].copy_from_slice(&len.to_be_bytes());
    buf.extend_from_slice(&[0]);
    let e = decode_frame::<ClientFrame>(&mut buf, MAX).unwrap_err();
    assert!(e.to_string().contains("trailing"), "{e}");
}

/// Read what the server sends until it closes; decode its frames.
async fn read_until_closed(stream: &mut TcpStream) -> Vec<ServerFrame> {
    let mut raw = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(5), stream.read_to_end(&mut raw)).await;
    let mut buf = BytesMut::from(&raw[..]);
    let mut frames = Vec::new();
    while let Ok(Some(f)) = decode_frame::<ServerFrame>(&mut buf, 1 << 24) {
        frames.push(f);
    }
    frames
}

fn frame_bytes(f: &ClientFrame) -> Vec<u8> {
    let mut buf = BytesMut::new();
    encode_frame(f, &mut buf, 1 << 24).unwrap();
    buf.to_vec()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn garbage_on_a_live_server_closes_only_that_connection() {
    let config = ServerConfig {
        listen: "127.0.0.1:0".parse().unwrap(),
        max_frame: 1 << 20,
        ..ServerConfig::default()
    };
    let server = Server::start(config).await.unwrap();
    let addr = server.local_addr().to_string();
    let backend = EmbeddedBackend::new(&addr, "g");
    let mut admin = Admin::open(&backend);
    admin
        .add_resource(&ResourceId::new("before"))
        .await
        .unwrap();

    let hello = frame_bytes(&sample_frames()[0]);
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        (
            "a frame of random bytes",
            [
                vec![0, 0, 0, 50],
                (0..50u32).map(|i| (i * 37 % 251) as u8).collect(),
            ]
            .concat(),
            "malformed",
        ),
        (
            "an oversized length",
            vec![0x7f, 0xff, 0xff, 0xff, 0, 0],
            "exceeds the limit",
        ),
        (
            "a request before hello",
            frame_bytes(&sample_frames()[1]),
            "first frame must be Hello",
        ),
        (
            "a wrong version",
            frame_bytes(&ClientFrame::Hello {
                version: 99,
                group: "g".into(),
                client: NodeId::new("x"),
                token: None,
            }),
            "wire version 99",
        ),
        (
            "a bad group name",
            frame_bytes(&ClientFrame::Hello {
                version: WIRE_VERSION,
                group: "a/b".into(),
                client: NodeId::new("x"),
                token: None,
            }),
            "group 'a/b'",
        ),
        (
            "garbage after hello",
            [hello.clone(), vec![0, 0, 0, 3, 0xff, 0xfe, 0xfd]].concat(),
            "malformed",
        ),
        (
            "a second hello",
            [hello.clone(), hello.clone()].concat(),
            "second Hello",
        ),
    ];
    for (what, bytes, expect) in &cases {
        let mut s = TcpStream::connect(&addr).await.unwrap();
        s.write_all(bytes).await.unwrap();
        let frames = read_until_closed(&mut s).await;
        let error = frames.iter().find_map(|f| match f {
            ServerFrame::Error { message } => Some(message.clone()),
            _ => None,
        });
        let error = error.unwrap_or_else(|| panic!("{what}: no error frame, got {frames:?}"));
        assert!(
            error.contains(expect),
            "{what}: error '{error}' should mention '{expect}'"
        );
    }
    // A connection cut off mid-frame, and one that sends nothing but half a header.
    let mut s = TcpStream::connect(&addr).await.unwrap();
    s.write_all(&hello[..hello.len() / 2]).await.unwrap();
    drop(s);
    let mut s = TcpStream::connect(&addr).await.unwrap();
    s.write_all(&[0, 0]).await.unwrap();
    drop(s);

    // The server still serves: the admin's connection was never disturbed, and new ones work.
    admin.add_resource(&ResourceId::new("after")).await.unwrap();
    let view = Admin::open(&backend).view().await.unwrap();
    assert!(view.resources.contains(&ResourceId::new("before")));
    assert!(view.resources.contains(&ResourceId::new("after")));
    assert!(
        server.stats().rejected >= cases.len() as u64,
        "{:?}",
        server.stats()
    );
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_is_required_and_checked() {
    let config = ServerConfig {
        listen: "127.0.0.1:0".parse().unwrap(),
        token: Some("s3cret".into()),
        ..ServerConfig::default()
    };
    let server = Server::start(config).await.unwrap();
    let addr = server.local_addr().to_string();
    let mut wrong = Admin::open(&EmbeddedBackend::new(&addr, "g").with_token("nope"));
    let e = tokio::time::timeout(Duration::from_secs(15), wrong.view())
        .await
        .unwrap();
    assert!(e.is_err(), "a wrong token must not be served");
    let mut right = Admin::open(&EmbeddedBackend::new(&addr, "g").with_token("s3cret"));
    right.view().await.unwrap();
    server.shutdown().await;

    let open = ServerConfig {
        listen: "0.0.0.0:0".parse().unwrap(),
        ..ServerConfig::default()
    };
    let e = Server::start(open)
        .await
        .err()
        .expect("no token beyond loopback");
    assert!(e.contains("needs a shared token"), "{e}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn garbage_never_disturbs_a_running_group() {
    // Nodes keep their resources while another client floods the port with bad frames.
    use std::sync::atomic::{AtomicU32, Ordering};
    use std::sync::Arc;
    let server = Server::start(ServerConfig {
        listen: "127.0.0.1:0".parse().unwrap(),
        ..ServerConfig::default()
    })
    .await
    .unwrap();
    let addr = server.local_addr().to_string();
    let mut admin = Admin::open(&EmbeddedBackend::new(&addr, "g"));
    for i in 0..4 {
        admin
            .add_resource(&ResourceId::new(format!("r{i}")))
            .await
            .unwrap();
    }
    let stops = Arc::new(AtomicU32::new(0));
    let mut nodes = Vec::new();
    for name in ["a", "b"] {
        let stops = stops.clone();
        let h = net::Rebalanser::builder()
            .registry(EmbeddedBackend::new(&addr, "g"))
            .node_id(name)
            .ttl(Duration::from_millis(1500))
            .min_rebalance_interval(Duration::from_millis(100))
            .stop_budget(Duration::from_millis(200))
            .on_stop(move |_| {
                let stops = stops.clone();
                async move {
                    stops.fetch_add(1, Ordering::SeqCst);
                    Ok::<(), String>(())
                }
            })
            .start()
            .unwrap();
        nodes.push(h);
    }
    for n in nodes.iter_mut() {
        n.wait_for(|s| s.running.len() == 2 && s.applied.is_some())
            .await;
    }
    let settled = stops.load(Ordering::SeqCst);
    let flood = tokio::spawn({
        let addr = addr.clone();
        async move {
            for i in 0..200u32 {
                if let Ok(mut s) = TcpStream::connect(&addr).await {
                    let junk: Vec<u8> = (0..64).map(|j| (i * 31 + j * 7) as u8).collect();
                    let _ = s.write_all(&junk).await;
                }
            }
        }
    });
    flood.await.unwrap();
    tokio::time::sleep(Duration::from_millis(2000)).await; // more than a ttl
    for n in &nodes {
        assert_eq!(n.assigned().len(), 2, "{:?}", n.state());
    }
    assert_eq!(
        stops.load(Ordering::SeqCst),
        settled,
        "the flood made a node stop something"
    );
    for n in nodes {
        n.shutdown(Duration::from_secs(5)).await.unwrap();
    }
    server.shutdown().await;
}
