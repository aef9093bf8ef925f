//! One client's link to etcd: requests, their outcomes, and the error mapping.

use super::codec::{encode_value, lease_id, rev, KeyCodec};
use super::watch::{self, WantProgress, WatchSlot};
use crate::backend::{Link, LinkEvent, LinkTimeouts};
use etcd_client::{
    Client, Compare as EtcdCompare, CompareOp, ConnectOptions, Error, GetOptions, PutOptions,
    TxnOp, TxnOpResponse,
};
use protocol::registry::{Compare, Op, Request, Response, Txn, TxnResult};
use protocol::{NodeId, Outcome, ReqId, Revision};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::mpsc;

/// How many events may wait for the runtime before the link's tasks wait in turn.
const EVENTS_CAPACITY: usize = 1024;

/// After a revoke, how long to let a deletion event of ours arrive on the watch before asking
/// etcd for progress (a revoke that deleted our keys needs none; see `watch`).
const REVOKE_SETTLE: Duration = Duration::from_millis(20);

/// What every task of one link shares.
pub(super) struct Ctx {
    pub node: NodeId,
    pub codec: KeyCodec,
    pub timeouts: LinkTimeouts,
    pub events: mpsc::Sender<LinkEvent>,
    endpoints: Vec<String>,
    options: ConnectOptions,
    conn: tokio::sync::Mutex<Option<Client>>,
    /// The live watch, if any: a new `Watch` request replaces it.
    watch: Mutex<Option<WatchSlot>>,
}

pub(super) fn open(
    node: NodeId,
    endpoints: Vec<String>,
    options: ConnectOptions,
    codec: KeyCodec,
    timeouts: LinkTimeouts,
) -> Link {
    let (requests, requests_rx) = mpsc::unbounded_channel();
    let (events, events_rx) = mpsc::channel(EVENTS_CAPACITY);
    let ctx = Arc::new(Ctx {
        node,
        codec,
        timeouts,
        events,
        endpoints,
        options,
        conn: tokio::sync::Mutex::new(None),
        watch: Mutex::new(None),
    });
    tokio::spawn(dispatch(ctx, requests_rx));
    Link {
        requests,
        events: events_rx,
    }
}

/// Hand each request to its own task, so that none waits behind another.
async fn dispatch(ctx: Arc<Ctx>, mut requests: mpsc::UnboundedReceiver<(ReqId, Request)>) {
    while let Some((req, request)) = requests.recv().await {
        match request {
            Request::Watch { from_rev } => {
                // Replacing the slot drops the previous watch's stop handle: it ends at once.
                let (slot, task) = watch::prepare(from_rev);
                *ctx.watch.lock().unwrap_or_else(|e| e.into_inner()) = Some(slot);
                tokio::spawn(watch::run(ctx.clone(), req, from_rev, task));
            }
            request => {
                tokio::spawn(run_request(ctx.clone(), req, request));
            }
        }
    }
    // The runtime dropped the link: stop the watch too.
    ctx.watch.lock().unwrap_or_else(|e| e.into_inner()).take();
    tracing::debug!(node = %ctx.node, "etcd link closed");
}

async fn run_request(ctx: Arc<Ctx>, req: ReqId, request: Request) {
    let (outcome, progress) = match ctx.client().await {
        Err(outcome) => (outcome, None),
        Ok(client) => {
            match tokio::time::timeout(ctx.timeouts.request, execute(&ctx, client, &request)).await
            {
                Ok(result) => result,
                // It was sent: it may have been applied. Its late answer is dropped with the future.
                Err(_) => (Outcome::Unknown, None),
            }
        }
    };
    tracing::trace!(node = %ctx.node, req, %request, %outcome, "etcd request done");
    let _ = ctx.events.send(LinkEvent::Reply { req, outcome }).await;
    if let Some(want) = progress {
        ctx.want_progress(want);
    }
}

impl Ctx {
    /// The link's client, connecting first if need be (bounded by the connect timeout). A
    /// failure here means the request was never sent.
    pub(super) async fn client(&self) -> Result<Client, Outcome> {
        let mut conn = self.conn.lock().await;
        if let Some(client) = conn.as_ref() {
            return Ok(client.clone());
        }
        let connect = Client::connect(&self.endpoints, Some(self.options.clone()));
        match tokio::time::timeout(self.timeouts.connect, connect).await {
            Ok(Ok(client)) => {
                *conn = Some(client.clone());
                Ok(client)
            }
            Ok(Err(e)) => {
                tracing::debug!(node = %self.node, error = %e, "etcd connect failed");
                // Wrong credentials or a bad endpoint will fail again; anything else may pass.
                Err(match classify(&e) {
                    Outcome::Fatal => Outcome::Fatal,
                    _ => Outcome::PostFailed,
                })
            }
            Err(_) => Err(Outcome::PostFailed),
        }
    }

    /// After an auth token expired (or a restarted etcd forgot it), the next request
    /// authenticates afresh on a new client.
    pub(super) async fn forget_expired_token(&self, e: &Error) {
        if matches!(e, Error::GRpcStatus(s) if s.code() as i32 == code::UNAUTHENTICATED) {
            self.conn.lock().await.take();
        }
    }

    /// A reply carried revision `want.rev`: make sure the watch delivers at least that far.
    fn want_progress(&self, want: WantProgress) {
        if let Some(slot) = self
            .watch
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .as_ref()
        {
            slot.want(want);
        }
    }
}

/// Run one request; also say whether the watch must be asked for progress afterwards.
async fn execute(
    ctx: &Ctx,
    mut client: Client,
    request: &Request,
) -> (Outcome, Option<WantProgress>) {
    let result = match request {
        Request::Grant { ttl } => grant(&mut client, *ttl).await.map(|r| (r, None)),
        Request::KeepAlive { lease } => keep_alive(&mut client, lease_id(*lease))
            .await
            .map(|r| (r, None)),
        Request::Revoke { lease } => match client.lease_revoke(lease_id(*lease)).await {
            Ok(resp) => {
                let rev = header_rev(resp.header());
                Ok((
                    Response::Revoked { rev },
                    // If the lease held keys of ours, their deletion arrives at `rev` by itself.
                    Some(WantProgress {
                        rev,
                        settle: REVOKE_SETTLE,
                    }),
                ))
            }
            Err(e) if is_lease_not_found(&e) => Ok((Response::LeaseNotFound, None)),
            Err(e) => Err(e),
        },
        Request::Txn(txn) => run_txn(&ctx.codec, &mut client, txn).await,
        Request::Range => range(&ctx.codec, &mut client).await.map(|r| {
            let want = match &r {
                Response::Range { rev, .. } => Some(WantProgress::now(*rev)),
                _ => None,
            };
            (r, want)
        }),
        Request::Watch { .. } => unreachable!("watches are run by the watch task"),
    };
    match result {
        Ok((response, want)) => (Outcome::Success(response), want),
        Err(e) => {
            let outcome = classify(&e);
            tracing::debug!(node = %ctx.node, %request, error = %e, %outcome, "etcd request failed");
            ctx.forget_expired_token(&e).await;
            (outcome, None)
        }
    }
}

async fn grant(client: &mut Client, ttl_ms: u64) -> Result<Response, Error> {
    // etcd counts whole seconds: round up, so the lease never lives shorter than asked.
    let secs = ttl_ms.div_ceil(1_000).max(1);
    let resp = client
        .lease_grant(i64::try_from(secs).unwrap_or(i64::MAX), None)
        .await?;
    if !resp.error().is_empty() {
        return Err(Error::LeaseKeepAliveError(resp.error().to_string()));
    }
    Ok(Response::Granted {
        lease: protocol::LeaseId(resp.id() as u64),
        // etcd may grant more than asked (its minimum ttl): report what it granted.
        ttl: rev(resp.ttl()).saturating_mul(1_000),
    })
}

async fn keep_alive(client: &mut Client, id: i64) -> Result<Response, Error> {
    // A fresh stream per keep-alive: requests stay independent, and no stream goes stale.
    let (mut keeper, mut stream) = match client.lease_keep_alive(id).await {
        Ok(opened) => opened,
        // etcd answers ttl 0 for a lease it does not know; etcd-client turns that into this.
        Err(Error::LeaseKeepAliveError(msg)) if msg == "lease not found" => {
            return Ok(Response::LeaseNotFound)
        }
        Err(e) => return Err(e),
    };
    // etcd-client swallowed the first answer and its ttl: renew once more to read it (a second
    // renewal is harmless, it moves the expiry by microseconds).
    keeper.keep_alive().await?;
    match stream.message().await? {
        Some(resp) if resp.ttl() > 0 => Ok(Response::KeptAlive {
            ttl: rev(resp.ttl()).saturating_mul(1_000),
        }),
        Some(_) => Ok(Response::LeaseNotFound),
        None => Err(Error::LeaseKeepAliveError(
            "keep-alive stream closed before answering".into(),
        )),
    }
}

async fn run_txn(
    codec: &KeyCodec,
    client: &mut Client,
    txn: &Txn,
) -> Result<(Response, Option<WantProgress>), Error> {
    let resp = match client.txn(build_txn(codec, txn)).await {
        Ok(resp) => resp,
        // A put on a dead lease fails the whole transaction, as in the core's registry.
        Err(e) if is_lease_not_found(&e) => return Ok((Response::LeaseNotFound, None)),
        Err(e) => return Err(e),
    };
    let rev = header_rev(resp.header());
    let mut gets = Vec::new();
    let mut changed = false;
    for op in resp.op_responses() {
        match op {
            TxnOpResponse::Get(get) => gets.push(
                get.kvs()
                    .first()
                    .and_then(|kv| codec.parse_kv(kv))
                    .map(|(_, kv)| kv),
            ),
            TxnOpResponse::Put(_) => changed = true,
            TxnOpResponse::Delete(del) => changed |= del.deleted() > 0,
            TxnOpResponse::Txn(_) => {}
        }
    }
    let response = Response::Txn(TxnResult {
        succeeded: resp.succeeded(),
        rev,
        gets,
    });
    // A transaction that changed keys of ours is delivered at `rev` by the watch itself;
    // otherwise `rev` may be anyone's revision, and only a progress notification reaches it.
    let want = (!changed).then(|| WantProgress::now(rev));
    Ok((response, want))
}

/// The core's transaction as etcd's.
pub(super) fn build_txn(codec: &KeyCodec, txn: &Txn) -> etcd_client::Txn {
    let signed = |r: Revision| i64::try_from(r).unwrap_or(i64::MAX);
    let exists = |k| EtcdCompare::create_revision(codec.key(k), CompareOp::Greater, 0);
    let mut compares = Vec::new();
    for c in &txn.compare {
        match c {
            Compare::Exists(k) => compares.push(exists(k)),
            Compare::Absent(k) => {
                compares.push(EtcdCompare::version(codec.key(k), CompareOp::Equal, 0));
            }
            Compare::ValueIs(k, v) => {
                // etcd fails a value compare on a missing key, as the core's registry does.
                compares.push(EtcdCompare::value(
                    codec.key(k),
                    CompareOp::Equal,
                    encode_value(v),
                ));
            }
            Compare::CreateRevIs(k, r) | Compare::ModRevIs(k, r) => {
                let key = codec.key(k);
                compares.push(match c {
                    Compare::CreateRevIs(..) => {
                        EtcdCompare::create_revision(key, CompareOp::Equal, signed(*r))
                    }
                    _ => EtcdCompare::mod_revision(key, CompareOp::Equal, signed(*r)),
                });
                if *r == 0 {
                    // etcd reads a missing key's revisions as 0; the core's compare needs the
                    // key to exist.
                    compares.push(exists(k));
                }
            }
        }
    }
    let ops = |ops: &[Op]| -> Vec<TxnOp> {
        ops.iter()
            .map(|op| match op {
                Op::Put { key, value, lease } => TxnOp::put(
                    codec.key(key),
                    encode_value(value),
                    lease.map(|l| PutOptions::new().with_lease(lease_id(l))),
                ),
                Op::Delete { key } => TxnOp::delete(codec.key(key), None),
                Op::Get { key } => TxnOp::get(codec.key(key), None),
            })
            .collect()
    };
    etcd_client::Txn::new()
        .when(compares)
        .and_then(ops(&txn.then))
        .or_else(ops(&txn.otherwise))
}

async fn range(codec: &KeyCodec, client: &mut Client) -> Result<Response, Error> {
    let resp = client
        .get(codec.prefix(), Some(GetOptions::new().with_prefix()))
        .await?;
    let mut kvs: Vec<_> = resp
        .kvs()
        .iter()
        .filter_map(|kv| codec.parse_kv(kv))
        .collect();
    // The core orders keys by their typed order, not by etcd's bytes.
    kvs.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(Response::Range {
        rev: header_rev(resp.header()),
        kvs,
    })
}

pub(super) fn header_rev(header: Option<&etcd_client::ResponseHeader>) -> Revision {
    header.map_or(0, |h| rev(h.revision()))
}

/// gRPC status codes (tonic's `Code` discriminants, which etcd-client does not re-export).
mod code {
    pub const INVALID_ARGUMENT: i32 = 3;
    pub const NOT_FOUND: i32 = 5;
    pub const ALREADY_EXISTS: i32 = 6;
    pub const PERMISSION_DENIED: i32 = 7;
    pub const RESOURCE_EXHAUSTED: i32 = 8;
    pub const FAILED_PRECONDITION: i32 = 9;
    pub const OUT_OF_RANGE: i32 = 11;
    pub const UNIMPLEMENTED: i32 = 12;
    pub const UNAVAILABLE: i32 = 14;
    pub const UNAUTHENTICATED: i32 = 16;
}

fn is_lease_not_found(e: &Error) -> bool {
    matches!(e, Error::GRpcStatus(s)
        if s.code() as i32 == code::NOT_FOUND && s.message().contains("requested lease not found"))
}

pub(super) fn is_out_of_range(e: &Error, what: &str) -> bool {
    matches!(e, Error::GRpcStatus(s)
        if s.code() as i32 == code::OUT_OF_RANGE && s.message().contains(what))
}

/// Whether the client failed before anything reached etcd (the connection could not be made).
fn is_connect_error(status: &etcd_client::Error) -> bool {
    let Error::GRpcStatus(s) = status else {
        return false;
    };
    // tonic reports a failed (re)connect as UNAVAILABLE whose source is its private
    // `ConnectError`: the request never left this process.
    let mut source = std::error::Error::source(s);
    while let Some(e) = source {
        if format!("{e:?}").contains("ConnectError") {
            return true;
        }
        source = e.source();
    }
    false
}

/// How an etcd failure ends a request: anything that may have been applied is `Unknown`.
pub(super) fn classify(e: &Error) -> Outcome {
    match e {
        Error::GRpcStatus(s) => match s.code() as i32 {
            code::UNAVAILABLE if is_connect_error(e) => Outcome::PostFailed,
            // "too many requests", "database space exceeded": refused before it was applied.
            code::RESOURCE_EXHAUSTED => Outcome::Retryable,
            // An expired or forgotten auth token: refused; the link re-authenticates.
            code::UNAUTHENTICATED => Outcome::Retryable,
            code::INVALID_ARGUMENT
            | code::NOT_FOUND
            | code::ALREADY_EXISTS
            | code::PERMISSION_DENIED
            | code::FAILED_PRECONDITION
            | code::OUT_OF_RANGE
            | code::UNIMPLEMENTED => Outcome::Fatal,
            // Cancelled, deadline exceeded, unavailable after sending (a broken connection,
            // "request timed out", "leader changed"), internal, unknown: maybe applied.
            _ => Outcome::Unknown,
        },
        // Building the channel failed: nothing was sent.
        Error::TransportError(_) => Outcome::PostFailed,
        Error::InvalidArgs(_)
        | Error::InvalidUri(_)
        | Error::InvalidHeaderValue(_)
        | Error::Utf8Error(_) => Outcome::Fatal,
        _ => Outcome::Unknown,
    }
}
