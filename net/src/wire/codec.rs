//! Framing: a 4-byte big-endian length, then that many bytes of postcard.

use bytes::{Buf, BufMut, BytesMut};
use serde::de::DeserializeOwned;
use serde::Serialize;
use std::fmt;
use std::marker::PhantomData;
use tokio_util::codec::{Decoder, Encoder};

/// The largest frame accepted by default: 16 MiB (a Range of a group with many thousand
/// resources fits; a corrupt length cannot make a peer allocate more).
pub const DEFAULT_MAX_FRAME: usize = 16 << 20;

const HEADER: usize = 4;

/// Why a frame could not be read or written.
#[derive(Debug)]
pub enum WireError {
    /// The length prefix announces more than the limit.
    Oversized {
        /// The announced length.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// The bytes are not a message of this protocol.
    Malformed(String),
    /// The connection failed.
    Io(std::io::Error),
}

impl fmt::Display for WireError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            WireError::Oversized { len, max } => {
                write!(f, "frame of {len} bytes exceeds the limit of {max} bytes")
            }
            WireError::Malformed(why) => write!(f, "malformed frame: {why}"),
            WireError::Io(e) => write!(f, "connection error: {e}"),
        }
    }
}

impl std::error::Error for WireError {}

impl From<std::io::Error> for WireError {
    fn from(e: std::io::Error) -> Self {
        WireError::Io(e)
    }
}

/// Take one whole frame off the front of `buf` and decode it; `Ok(None)` while it is incomplete.
/// Never panics, whatever the bytes: the frame decoder's fuzz target.
pub fn decode_frame<T: DeserializeOwned>(
    buf: &mut BytesMut,
    max: usize,
) -> Result<Option<T>, WireError> {
    if buf.len() < HEADER {
        return Ok(None);
    }
    let len = u32::from_be_bytes([buf[0], buf[1], buf[2], buf[3]]) as usize;
    if len > max {
        return Err(WireError::Oversized { len, max });
    }
    if buf.len() < HEADER + len {
        buf.reserve(HEADER + len - buf.len());
        return Ok(None);
    }
    buf.advance(HEADER);
    let body = buf.split_to(len);
    let (msg, rest) =
        postcard::take_from_bytes::<T>(&body).map_err(|e| WireError::Malformed(e.to_string()))?;
    if !rest.is_empty() {
        return Err(WireError::Malformed(format!(
            "{} trailing bytes after the message",
            rest.len()
        )));
    }
    Ok(Some(msg))
}

/// Append one frame holding `msg` to `buf`.
pub fn encode_frame<T: Serialize>(
    msg: &T,
    buf: &mut BytesMut,
    max: usize,
) -> Result<(), WireError> {
    let body = postcard::to_stdvec(msg).map_err(|e| WireError::Malformed(e.to_string()))?;
    if body.len() > max {
        return Err(WireError::Oversized {
            len: body.len(),
            max,
        });
    }
    buf.reserve(HEADER + body.len());
    buf.put_u32(body.len() as u32);
    buf.put_slice(&body);
    Ok(())
}

/// A tokio codec that reads `In` frames and writes `Out` frames.
pub struct FrameCodec<In, Out> {
    max: usize,
    _types: PhantomData<fn(Out) -> In>,
}

impl<In, Out> FrameCodec<In, Out> {
    /// A codec with a frame size limit.
    pub fn new(max: usize) -> Self {
        FrameCodec {
            max,
            _types: PhantomData,
        }
    }
}

impl<In: DeserializeOwned, Out> Decoder for FrameCodec<In, Out> {
    type Item = In;
    type Error = WireError;

    fn decode(&mut self, src: &mut BytesMut) -> Result<Option<In>, WireError> {
        decode_frame(src, self.max)
    }
}

impl<In, Out: Serialize> Encoder<Out> for FrameCodec<In, Out> {
    type Error = WireError;

    fn encode(&mut self, item: Out, dst: &mut BytesMut) -> Result<(), WireError> {
        encode_frame(&item, dst, self.max)
    }
}
