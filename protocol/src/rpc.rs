//! How a request/reply between a node and the registry ends, and the eight steps at which it can
//! fail (after the AWS Builders' Library, "Challenges with distributed systems").

use crate::registry::Response;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// What the node sees of one request.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Outcome {
    /// The registry processed it and this is its answer.
    Success(Response),
    /// Surely not sent: nothing happened.
    PostFailed,
    /// The registry refused it for now (overloaded, unavailable): not applied; try again.
    Retryable,
    /// The registry rejected it as invalid: not applied; the same request will fail again.
    Fatal,
    /// Maybe applied, maybe not (timeout, broken connection, garbled reply).
    Unknown,
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Outcome::Success(r) => write!(f, "{r}"),
            Outcome::PostFailed => write!(f, "POST_FAILED"),
            Outcome::Retryable => write!(f, "RETRYABLE"),
            Outcome::Fatal => write!(f, "FATAL"),
            Outcome::Unknown => write!(f, "UNKNOWN"),
        }
    }
}

/// The eight steps of a request/reply, each of which can fail.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum FailureStep {
    /// The client cannot send the request.
    PostRequest,
    /// The network loses the request.
    DeliverRequest,
    /// The registry finds the request invalid.
    ValidateRequest,
    /// The registry fails to apply it (overloaded, internal error).
    UpdateServerState,
    /// The registry applied it but cannot send the reply.
    PostReply,
    /// The network loses the reply.
    DeliverReply,
    /// The client cannot make sense of the reply.
    ValidateReply,
    /// The client fails while recording the reply.
    UpdateClientState,
}

impl FailureStep {
    /// All eight, in the order a request travels.
    pub const ALL: [FailureStep; 8] = [
        FailureStep::PostRequest,
        FailureStep::DeliverRequest,
        FailureStep::ValidateRequest,
        FailureStep::UpdateServerState,
        FailureStep::PostReply,
        FailureStep::DeliverReply,
        FailureStep::ValidateReply,
        FailureStep::UpdateClientState,
    ];

    /// Whether the registry's state was updated before the failure.
    pub fn applied(self) -> bool {
        matches!(
            self,
            FailureStep::PostReply
                | FailureStep::DeliverReply
                | FailureStep::ValidateReply
                | FailureStep::UpdateClientState
        )
    }

    /// What the client sees when this step fails.
    pub fn outcome(self) -> Outcome {
        match self {
            FailureStep::PostRequest => Outcome::PostFailed,
            FailureStep::DeliverRequest => Outcome::Unknown,
            FailureStep::ValidateRequest => Outcome::Fatal,
            FailureStep::UpdateServerState => Outcome::Retryable,
            FailureStep::PostReply
            | FailureStep::DeliverReply
            | FailureStep::ValidateReply
            | FailureStep::UpdateClientState => Outcome::Unknown,
        }
    }

    /// The name used in traces and on the command line (`POST_REQUEST`...).
    pub fn name(self) -> &'static str {
        match self {
            FailureStep::PostRequest => "POST_REQUEST",
            FailureStep::DeliverRequest => "DELIVER_REQUEST",
            FailureStep::ValidateRequest => "VALIDATE_REQUEST",
            FailureStep::UpdateServerState => "UPDATE_SERVER_STATE",
            FailureStep::PostReply => "POST_REPLY",
            FailureStep::DeliverReply => "DELIVER_REPLY",
            FailureStep::ValidateReply => "VALIDATE_REPLY",
            FailureStep::UpdateClientState => "UPDATE_CLIENT_STATE",
        }
    }
}

impl fmt::Display for FailureStep {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for FailureStep {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let norm = s.to_ascii_uppercase().replace(['-', ' '], "_");
        FailureStep::ALL
            .into_iter()
            .find(|f| f.name() == norm)
            .ok_or_else(|| format!("unknown failure step '{s}'"))
    }
}
