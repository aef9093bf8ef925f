//! The administrator's client: add and remove resources, read the group.
//!
//! The changes themselves are the core's ([`protocol::admin`]); this only carries them, retrying
//! outcomes that may not have applied (both changes are idempotent).

use crate::backend::{Backend, Link, LinkEvent, LinkTimeouts};
use protocol::registry::Request;
use protocol::{NodeId, Outcome, ReqId, ResourceId, Response, View};
use std::time::Duration;
use tokio::time::Instant;

/// The client name administrators use towards the registry.
pub const ADMIN_CLIENT: &str = "@admin";

/// An administrator's connection to a group.
pub struct Admin {
    link: Link,
    next: ReqId,
    deadline: Duration,
}

impl Admin {
    /// Open a link to the group of `backend`.
    pub fn open(backend: &dyn Backend) -> Admin {
        let timeouts = LinkTimeouts {
            request: Duration::from_secs(2),
            connect: Duration::from_millis(500),
        };
        Admin {
            link: backend.open(&NodeId::new(ADMIN_CLIENT), timeouts),
            next: 0,
            deadline: Duration::from_secs(10),
        }
    }

    /// Add a resource (no error if it exists).
    pub async fn add_resource(&mut self, r: &ResourceId) -> Result<(), String> {
        let txn = protocol::admin::add_resource(r);
        self.call(Request::Txn(txn)).await.map(|_| ())
    }

    /// Remove a resource (no error if it is absent). Its barrier stays with its holder until
    /// the holder has stopped it.
    pub async fn remove_resource(&mut self, r: &ResourceId) -> Result<(), String> {
        let txn = protocol::admin::remove_resource(r, None);
        self.call(Request::Txn(txn)).await.map(|_| ())
    }

    /// The group as the registry holds it now.
    pub async fn view(&mut self) -> Result<View, String> {
        match self.call(Request::Range).await? {
            Response::Range { rev, kvs } => Ok(View::from_range(rev, &kvs)),
            other => Err(format!("unexpected answer to a read: {other}")),
        }
    }

    /// Send until the registry answers, within the deadline.
    async fn call(&mut self, request: Request) -> Result<Response, String> {
        let until = Instant::now() + self.deadline;
        let mut last = String::new();
        while Instant::now() < until {
            let req = self.next;
            self.next += 1;
            self.link
                .requests
                .send((req, request.clone()))
                .map_err(|_| "the registry link is gone".to_string())?;
            loop {
                match self.link.events.recv().await {
                    Some(LinkEvent::Reply { req: r, outcome }) if r == req => match outcome {
                        Outcome::Success(response) => return Ok(response),
                        Outcome::Fatal => {
                            return Err(format!("the registry rejected {request} as invalid"))
                        }
                        other => {
                            last = other.to_string();
                            break;
                        }
                    },
                    Some(_) => continue,
                    None => return Err("the registry link is gone".into()),
                }
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        Err(format!(
            "the registry did not answer {request} within {} s (last outcome {last})",
            self.deadline.as_secs()
        ))
    }
}
