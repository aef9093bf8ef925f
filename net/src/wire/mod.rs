//! The embedded registry's wire format: length-delimited frames (a 4-byte big-endian length,
//! then a postcard-encoded message), with a size limit.
//!
//! A connection opens with the client's [`ClientFrame::Hello`] (protocol version, group, client
//! name, token) and the server's [`ServerFrame::Welcome`]. Then the client sends requests tagged
//! with its own ids, and the server answers each with a [`ServerFrame::Reply`] carrying the same
//! id, interleaved with the client's watch events in revision order. A frame the server cannot
//! decode gets a [`ServerFrame::Error`] naming the problem, and only that connection closes.

mod codec;
mod frame;

pub use codec::{decode_frame, encode_frame, FrameCodec, WireError, DEFAULT_MAX_FRAME};
pub use frame::{valid_name, ClientFrame, ServerFrame, WireReply, WIRE_VERSION};
