//! The synchronizer wire protocol of TinyBase 10.0.1 (spec sync.md §1, §3), sans I/O: message
//! validation and JSON framing, request ids, WebSocket payloads (`<clientId>\n<remainder>`),
//! fragments and their reassembly, the `tinybase` subprotocol's control and channel frames, and
//! the close codes and limits.
//!
//! Everything here is a pure function of its inputs (plus a caller-supplied `now` for fragment
//! expiry), so it is unit-tested, property-tested and fuzzed without sockets.
//!
//! ```
//! use tinystore_core::sync::protocol::{Message, MessageType, decode_message};
//! let m = decode_message(r#"["yfaW6R_ukQY.8pdt",1,""]"#).unwrap();
//! assert_eq!(m.message, MessageType::GetContentHashes);
//! assert_eq!(m.encode(), r#"["yfaW6R_ukQY.8pdt",1,""]"#);
//! ```

use std::collections::HashMap;

use serde_json::Value as Json;

use crate::hlc::is_valid_hlc;
use crate::js::{self, ALPHABET};
use crate::json;
use crate::mergeable::ReceivedChanges;
use crate::types::UNDEFINED_MARKER;

mod content_diff;
mod fragments;
mod message;
mod multiplex;
mod validate;

pub use content_diff::*;
pub use fragments::*;
pub use message::*;
pub use multiplex::*;
pub use validate::*;

/// Largest WebSocket payload, reassembled message, or fragment buffer (UTF-8 bytes).
pub const MAX_PAYLOAD_BYTES: usize = 16 * 1024 * 1024;
/// Largest message a client reassembles from a server's fragments. A server's answer to a
/// pull holds a whole table (TinyBase's TableDiff), so it may be far larger than any one
/// client's message, which the server caps at [`MAX_PAYLOAD_BYTES`].
pub const MAX_SERVER_MESSAGE_BYTES: usize = 256 * 1024 * 1024;
/// Most requests a synchronizer may have waiting for a response.
pub const MAX_PENDING_REQUESTS: usize = 100;
/// Most fragments one message may be split into.
pub const MAX_FRAGMENTS: usize = 1000;
/// Most incomplete fragmented messages buffered per socket.
pub const MAX_FRAGMENT_BUFFERS: usize = 100;
/// Most channels one multiplexed socket may subscribe.
pub const MAX_CHANNELS: usize = 100;
/// Longest channel id (UTF-8 bytes).
pub const MAX_CHANNEL_ID_BYTES: usize = 1024;
/// Most payloads queued for a socket (server room start-up, client while disconnected).
pub const MAX_QUEUED_PAYLOADS: usize = 1000;
/// The client id of a server's own synchronizer.
pub const SERVER_CLIENT_ID: &str = "S";
/// The first line of every data frame of the `tinybase` subprotocol.
pub const MULTIPLEX_CLIENT_ID: &str = "M";
/// The WebSocket subprotocol of multiplexed sockets.
pub const SUBPROTOCOL: &str = "tinybase";
/// The multiplexing protocol version a Hello carries.
pub const MULTIPLEX_VERSION: i64 = 1;
/// WebSocket close code for an invalid frame.
pub const CLOSE_INVALID: u16 = 1007;
/// WebSocket close code for an exceeded limit.
pub const CLOSE_OVERFLOW: u16 = 1013;

/// The eight synchronizer messages.
///
/// ```
/// use tinystore_core::sync::protocol::{MessageType, decode_message};
/// // The second element of `[requestId, message, body]` is the type's number.
/// let m = decode_message(r#"["tx.abcd",4,{"pets":123}]"#).unwrap();
/// assert_eq!(m.message, MessageType::GetTableDiff);
/// assert_eq!(MessageType::GetTableDiff as u8, 4);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum MessageType {
    /// A reply to a request, with the same request id.
    Response = 0,
    /// Asks for `[tablesHash, valuesHash]`; body `""`.
    GetContentHashes = 1,
    /// Announces `[tablesHash, valuesHash]`.
    ContentHashes = 2,
    /// Carries hash-less MergeableChanges.
    ContentDiff = 3,
    /// Asks for the tables that differ from the sender's table hashes.
    GetTableDiff = 4,
    /// Asks for the rows that differ from the sender's row hashes.
    GetRowDiff = 5,
    /// Asks for the cells that differ from the sender's cell hashes.
    GetCellDiff = 6,
    /// Asks for the values that differ from the sender's value hashes.
    GetValueDiff = 7,
}

impl MessageType {
    /// The type with this wire number.
    ///
    /// ```
    /// use tinystore_core::sync::protocol::MessageType;
    /// assert_eq!(MessageType::from_number(3), Some(MessageType::ContentDiff));
    /// assert_eq!(MessageType::from_number(8), None);
    /// ```
    pub fn from_number(n: i64) -> Option<MessageType> {
        Some(match n {
            0 => MessageType::Response,
            1 => MessageType::GetContentHashes,
            2 => MessageType::ContentHashes,
            3 => MessageType::ContentDiff,
            4 => MessageType::GetTableDiff,
            5 => MessageType::GetRowDiff,
            6 => MessageType::GetCellDiff,
            7 => MessageType::GetValueDiff,
            _ => return None,
        })
    }

    /// The wire number.
    ///
    /// ```
    /// use tinystore_core::sync::protocol::MessageType;
    /// assert_eq!(MessageType::Response.number(), 0);
    /// assert_eq!(MessageType::from_number(7).unwrap().number(), 7);
    /// ```
    pub fn number(self) -> u8 {
        self as u8
    }
}

/// Why a frame was refused; decides the close code.
///
/// ```
/// use tinystore_core::sync::protocol::{FragmentBudget, PayloadDecoder, ProtocolError};
/// let mut decoder = PayloadDecoder::new(1000);
/// // A payload is `<clientId>\n<remainder>`: one without the newline is invalid.
/// let refused = decoder.decode("garbage", 0, &mut FragmentBudget::default()).unwrap_err();
/// assert_eq!(refused, ProtocolError::Invalid);
/// assert_eq!(refused.to_string(), "tinybase:14");
/// ```
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ProtocolError {
    /// Malformed or invalid (`tinybase:14`): close with 1007.
    #[error("tinybase:14")]
    Invalid,
    /// A limit was exceeded (`tinybase:15:<what>`): close with 1013. `what` is one of `socket`,
    /// `fragments`, `channels`, `client`, `server`, `requests`, `controls`.
    #[error("tinybase:15:{0}")]
    Overflow(&'static str),
}

impl ProtocolError {
    /// The WebSocket close code TinyBase uses for this error.
    ///
    /// ```
    /// use tinystore_core::sync::protocol::{CLOSE_INVALID, CLOSE_OVERFLOW, ProtocolError};
    /// assert_eq!(ProtocolError::Invalid.close_code(), CLOSE_INVALID);
    /// assert_eq!(ProtocolError::Overflow("socket").close_code(), CLOSE_OVERFLOW);
    /// ```
    pub fn close_code(&self) -> u16 {
        match self {
            ProtocolError::Invalid => CLOSE_INVALID,
            ProtocolError::Overflow(_) => CLOSE_OVERFLOW,
        }
    }
}

// ---------------------------------------------------------------------------------- ids

/// `len` random characters of the HLC alphabet (TinyBase's `getUniqueId`).
pub use crate::js::unique_id;

/// A fresh 11-character transaction id (notifications, and the stem of request ids).
///
/// ```
/// use tinystore_core::sync::protocol::transaction_id;
/// let id = transaction_id();
/// assert_eq!(id.len(), 11);
/// assert_ne!(id, transaction_id());
/// ```
pub fn transaction_id() -> String {
    unique_id(11)
}

/// A request id: `transactionId.xxxx`.
///
/// ```
/// use tinystore_core::sync::protocol::request_id;
/// let id = request_id("yfaW6R_ukQY");
/// assert!(id.starts_with("yfaW6R_ukQY."));
/// assert_eq!(id.len(), 16);
/// ```
pub fn request_id(transaction_id: &str) -> String {
    format!("{transaction_id}.{}", unique_id(4))
}

fn is_alphabet_id(s: &str, len: usize) -> bool {
    s.len() == len && s.bytes().all(|b| ALPHABET.contains(&b))
}

// ---------------------------------------------------------------------------------- payloads

/// Splits a payload at its first `\n` into `(clientId, remainder)`.
///
/// ```
/// use tinystore_core::sync::protocol::split_payload;
/// assert_eq!(split_payload("S\n[\"tx\",2,[1,2]]"), Some(("S", "[\"tx\",2,[1,2]]")));
/// assert_eq!(split_payload("no newline"), None);
/// ```
pub fn split_payload(payload: &str) -> Option<(&str, &str)> {
    payload.split_once('\n')
}

/// `clientId\nremainder`.
///
/// ```
/// use tinystore_core::sync::protocol::{raw_payload, split_payload};
/// let payload = raw_payload("S", r#"["tx",2,[1,2]]"#);
/// assert_eq!(payload, "S\n[\"tx\",2,[1,2]]");
/// assert_eq!(split_payload(&payload), Some(("S", r#"["tx",2,[1,2]]"#)));
/// ```
pub fn raw_payload(client_id: &str, remainder: &str) -> String {
    let mut out = String::with_capacity(client_id.len() + 1 + remainder.len());
    out.push_str(client_id);
    out.push('\n');
    out.push_str(remainder);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids() {
        let t = transaction_id();
        assert!(is_alphabet_id(&t, 11));
        let r = request_id(&t);
        assert_eq!(r.len(), 16);
        assert_ne!(unique_id(16), unique_id(16));
    }
}
