//! Payloads split into fragments and reassembled: `make_payloads`, and the [`PayloadDecoder`]
//! of one socket or channel with its budgets.

use super::*;

/// The payloads that carry `remainder` to (or from) `client_id`: one, or fragments when
/// `fragment_size` is set and the remainder is larger (spec §3.1).
pub fn make_payloads(
    client_id: &str,
    remainder: &str,
    fragment_size: Option<usize>,
) -> Vec<String> {
    match fragments(remainder, fragment_size) {
        None => vec![raw_payload(client_id, remainder)],
        Some(pieces) => pieces.iter().map(|p| raw_payload(client_id, p)).collect(),
    }
}

/// [`make_payloads`] without the client-id line, for a relay that adds it per recipient: the
/// remainder itself (not copied) when it needs no fragments, else its fragment remainders.
pub fn make_remainders(remainder: String, fragment_size: Option<usize>) -> Vec<String> {
    fragments(&remainder, fragment_size).unwrap_or_else(|| vec![remainder])
}

/// The fragment remainders (`messageId\nindex\ntotal\npiece`) of `remainder`, or `None`
/// when it goes whole: pieces split at code points, at most `fragment_size` bytes each (raised
/// so that there are never more than [`MAX_FRAGMENTS`]).
fn fragments(remainder: &str, fragment_size: Option<usize>) -> Option<Vec<String>> {
    let size = fragment_size.filter(|s| *s >= 1)?;
    let max = size.max(remainder.len().div_ceil(MAX_FRAGMENTS) + 3);
    let mut pieces: Vec<&str> = Vec::new();
    let mut start = 0;
    let mut len = 0;
    for (i, ch) in remainder.char_indices() {
        let w = ch.len_utf8();
        if len > 0 && len + w > max {
            pieces.push(&remainder[start..i]);
            start = i;
            len = 0;
        }
        len += w;
    }
    pieces.push(&remainder[start..]);
    if pieces.len() == 1 {
        return None;
    }
    let message_id = unique_id(16);
    let total = pieces.len();
    Some(
        pieces
            .iter()
            .enumerate()
            .map(|(i, piece)| format!("{message_id}\n{i}\n{total}\n{piece}"))
            .collect(),
    )
}

/// `^([-0-9A-Z_a-z]{16})\n(\d+)\n(\d+)\n([\s\S]*)$` on a remainder.
fn parse_fragment(remainder: &str) -> Option<(&str, u64, u64, &str)> {
    let (id, rest) = remainder.split_once('\n')?;
    if !is_alphabet_id(id, 16) {
        return None;
    }
    let (index, rest) = rest.split_once('\n')?;
    let (total, piece) = rest.split_once('\n')?;
    let number = |s: &str| -> Option<u64> {
        if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        // Longer digit strings than u64 holds are over every limit anyway.
        Some(s.parse::<u64>().unwrap_or(u64::MAX))
    };
    Some((id, number(index)?, number(total)?, piece))
}

/// The text of the message that `remainders` (as in [`Decoded::remainders`]) carry: the
/// remainder itself (moved, not copied) when it went whole, else its fragments' pieces joined.
///
/// ```
/// use tinystore_core::sync::protocol::joined_remainder;
/// assert_eq!(joined_remainder(vec!["[null,1,\"\"]".to_string()]), "[null,1,\"\"]");
/// let pieces = vec!["AAAAAAAAAAAAAAAA\n0\n2\n[null,".to_string(), "AAAAAAAAAAAAAAAA\n1\n2\n1,\"\"]".to_string()];
/// assert_eq!(joined_remainder(pieces), "[null,1,\"\"]");
/// ```
pub fn joined_remainder(mut remainders: Vec<String>) -> String {
    if remainders.len() == 1 && parse_fragment(&remainders[0]).is_none() {
        return remainders.pop().unwrap_or_default();
    }
    remainders
        .iter()
        .filter_map(|r| parse_fragment(r).map(|(_, _, _, piece)| piece))
        .collect()
}

/// Whether a whole payload looks like a fragment (`FRAGMENT_PAYLOAD`), to name an oversize
/// error.
fn looks_like_fragment(payload: &str) -> bool {
    split_payload(payload).is_some_and(|(_, rest)| parse_fragment(rest).is_some())
}

/// A complete message decoded from one payload or reassembled from fragments.
#[derive(Clone, Debug, PartialEq)]
pub struct Decoded {
    /// The payload's client id (destination from a client, source from a server).
    pub client_id: String,
    /// The remainders as received: one, or every fragment's in index order (servers relay
    /// these, not a re-encoding).
    pub remainders: Vec<String>,
    /// The message.
    pub message: Message,
}

/// A complete message as a server relays it: its remainders, what it is, and (a ContentDiff
/// the one-pass reader took) its changes read into their typed stamp tree; no JSON tree is
/// kept.
#[derive(Clone, Debug)]
pub struct Relayed {
    /// The payload's client id (the destination).
    pub client_id: String,
    /// The remainders as received (see [`Decoded::remainders`]).
    pub remainders: Vec<String>,
    /// The message's type.
    pub message: MessageType,
    /// Whether the message writes (content hashes, changes, or a response carrying content):
    /// what a read-only client may not send.
    pub is_write: bool,
    /// A ContentDiff's changes, when read straight into their tree.
    pub changes: Option<ContentDiff>,
}

/// What a server needs of a validated message's text: `(type, writes, a ContentDiff's typed
/// changes)`; `None` if the message is invalid.
fn relayed_message(remainder: &str) -> Option<(MessageType, bool, Option<ContentDiff>)> {
    if let Some(diff) = ContentDiff::from_remainder(remainder) {
        return Some((MessageType::ContentDiff, true, Some(diff)));
    }
    let message = decode_message(remainder)?;
    Some((message.message, message.is_write(), None))
}

/// What a socket's incomplete fragments may hold at once, shared by every decoder of one
/// socket (the channels of a multiplexed socket share one budget).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FragmentBudget {
    /// Incomplete messages buffered.
    pub buffers: usize,
    /// Bytes buffered.
    pub bytes: usize,
}

struct Pending {
    pieces: Vec<Option<String>>,
    missing: usize,
    total: u64,
    started_ms: u64,
    retained: usize,
}

/// Turns the payloads of one socket (or channel) into messages, reassembling fragments
/// (TinyBase's payload decoder). After an error the decoder stays invalid and drops everything.
pub struct PayloadDecoder {
    pending: HashMap<String, Pending>,
    bytes: usize,
    timeout_ms: u64,
    /// Most bytes of incomplete messages (all of this socket's budget).
    max_buffered: usize,
    valid: bool,
}

impl std::fmt::Debug for PayloadDecoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PayloadDecoder")
            .field("pending", &self.pending.len())
            .field("bytes", &self.bytes)
            .field("valid", &self.valid)
            .finish()
    }
}

impl PayloadDecoder {
    /// A decoder whose incomplete messages expire after `timeout_ms` (TinyBase: the request
    /// timeout).
    pub fn new(timeout_ms: u64) -> PayloadDecoder {
        PayloadDecoder::with_max_message(timeout_ms, MAX_PAYLOAD_BYTES)
    }

    /// A decoder that reassembles messages of up to `max_message` bytes (a client decoding a
    /// server's answers uses [`MAX_SERVER_MESSAGE_BYTES`]); single payloads stay within
    /// [`MAX_PAYLOAD_BYTES`].
    pub fn with_max_message(timeout_ms: u64, max_message: usize) -> PayloadDecoder {
        PayloadDecoder {
            pending: HashMap::new(),
            bytes: 0,
            timeout_ms,
            max_buffered: max_message,
            valid: true,
        }
    }

    /// Whether no error has happened.
    pub fn is_valid(&self) -> bool {
        self.valid
    }

    /// Drops incomplete messages older than the timeout.
    pub fn expire(&mut self, now_ms: u64, budget: &mut FragmentBudget) {
        let timeout = self.timeout_ms;
        let mut freed = (0, 0);
        self.pending.retain(|_, p| {
            let keep = now_ms.saturating_sub(p.started_ms) < timeout;
            if !keep {
                freed.0 += 1;
                freed.1 += p.retained;
            }
            keep
        });
        self.bytes -= freed.1;
        budget.buffers -= freed.0;
        budget.bytes -= freed.1;
    }

    /// Drops every incomplete message, returning their budget.
    pub fn clear(&mut self, budget: &mut FragmentBudget) {
        budget.buffers -= self.pending.len();
        budget.bytes -= self.bytes;
        self.pending.clear();
        self.bytes = 0;
    }

    fn fail(&mut self, e: ProtocolError, budget: &mut FragmentBudget) -> ProtocolError {
        self.valid = false;
        self.clear(budget);
        e
    }

    /// Decodes one payload: `Ok(Some(_))` for a complete message, `Ok(None)` for a fragment
    /// that was buffered, `Err` when the socket must be closed (and on every later call).
    pub fn decode(
        &mut self,
        payload: &str,
        now_ms: u64,
        budget: &mut FragmentBudget,
    ) -> Result<Option<Decoded>, ProtocolError> {
        let decoded = self.decode_with(payload, now_ms, budget, decode_message)?;
        Ok(decoded.map(|(client_id, remainders, message)| Decoded {
            client_id,
            remainders,
            message,
        }))
    }

    /// [`PayloadDecoder::decode`] for a server, which relays what it validates: a ContentDiff
    /// is validated by reading its changes into their stamp tree (handed to the room's store,
    /// so its text is parsed once), any other message as there; no JSON tree is kept.
    ///
    /// ```
    /// use tinystore_core::sync::protocol::{FragmentBudget, MessageType, PayloadDecoder};
    /// let mut decoder = PayloadDecoder::new(1000);
    /// let payload = "\n[\"tx\",3,[[{}],[{\"v\":[1]}],1]]";
    /// let relayed = decoder.decode_relayed(payload, 0, &mut FragmentBudget::default());
    /// let relayed = relayed.unwrap().unwrap();
    /// assert_eq!((relayed.message, relayed.is_write), (MessageType::ContentDiff, true));
    /// assert!(relayed.changes.is_some());
    /// ```
    pub fn decode_relayed(
        &mut self,
        payload: &str,
        now_ms: u64,
        budget: &mut FragmentBudget,
    ) -> Result<Option<Relayed>, ProtocolError> {
        let decoded = self.decode_with(payload, now_ms, budget, relayed_message)?;
        Ok(decoded.map(
            |(client_id, remainders, (message, is_write, changes))| Relayed {
                client_id,
                remainders,
                message,
                is_write,
                changes,
            },
        ))
    }

    /// Reassembles one payload into `(client id, remainders, read(whole remainder))`.
    fn decode_with<T>(
        &mut self,
        payload: &str,
        now_ms: u64,
        budget: &mut FragmentBudget,
        read: impl Fn(&str) -> Option<T>,
    ) -> Result<Option<(String, Vec<String>, T)>, ProtocolError> {
        if !self.valid {
            return Err(ProtocolError::Invalid);
        }
        if payload.len() > MAX_PAYLOAD_BYTES {
            let what = if looks_like_fragment(payload) {
                "fragments"
            } else {
                "socket"
            };
            return Err(self.fail(ProtocolError::Overflow(what), budget));
        }
        self.expire(now_ms, budget);
        let Some((client_id, remainder)) = split_payload(payload) else {
            return Err(self.fail(ProtocolError::Invalid, budget));
        };
        if let Some(message) = read(remainder) {
            let remainders = vec![remainder.to_string()];
            return Ok(Some((client_id.to_string(), remainders, message)));
        }
        let Some((message_id, index, total, _)) = parse_fragment(remainder) else {
            return Err(self.fail(ProtocolError::Invalid, budget));
        };
        if total > MAX_FRAGMENTS as u64 {
            return Err(self.fail(ProtocolError::Overflow("fragments"), budget));
        }
        if total == 0 || index >= total {
            return Err(self.fail(ProtocolError::Invalid, budget));
        }
        let key = format!("{client_id}\n{message_id}");
        let existing = self.pending.get(&key);
        if existing.is_none() && budget.buffers >= MAX_FRAGMENT_BUFFERS {
            return Err(self.fail(ProtocolError::Overflow("fragments"), budget));
        }
        let fits = match existing {
            None => true,
            Some(p) => p.total == total && p.pieces[index as usize].is_none(),
        };
        if !fits {
            return Err(self.fail(ProtocolError::Invalid, budget));
        }
        let retained = remainder.len() + if existing.is_some() { 0 } else { key.len() };
        if budget.bytes + retained > self.max_buffered {
            return Err(self.fail(ProtocolError::Overflow("fragments"), budget));
        }
        let pending = self.pending.entry(key.clone()).or_insert_with(|| {
            budget.buffers += 1;
            Pending {
                pieces: vec![None; total as usize],
                missing: total as usize,
                total,
                started_ms: now_ms,
                retained: 0,
            }
        });
        pending.pieces[index as usize] = Some(remainder.to_string());
        pending.missing -= 1;
        pending.retained += retained;
        self.bytes += retained;
        budget.bytes += retained;
        if pending.missing > 0 {
            return Ok(None);
        }
        let done = self.pending.remove(&key).expect("just inserted");
        budget.buffers -= 1;
        budget.bytes -= done.retained;
        self.bytes -= done.retained;
        let remainders: Vec<String> = done.pieces.into_iter().flatten().collect();
        let mut whole = String::new();
        for r in &remainders {
            if let Some((_, _, _, piece)) = parse_fragment(r) {
                whole.push_str(piece);
            }
        }
        match read(&whole) {
            Some(message) => Ok(Some((client_id.to_string(), remainders, message))),
            None => Err(self.fail(ProtocolError::Invalid, budget)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fragments_split_and_reassemble() {
        let remainder = "[\"abc\",3,[[{\"t\":[{\"r\":[{\"c\":[\"\u{1F600}é long text\",\"NjEtLV-----67WEb\"]}]}]}],[{}],1]]";
        let payloads = make_payloads("", remainder, Some(8));
        assert!(payloads.len() > 5);
        let mut budget = FragmentBudget::default();
        let mut decoder = PayloadDecoder::new(1000);
        let mut out = None;
        // Out of order delivery still reassembles.
        for p in payloads.iter().rev() {
            if let Some(d) = decoder.decode(p, 0, &mut budget).unwrap() {
                out = Some(d);
            }
        }
        let d = out.unwrap();
        assert_eq!(d.message.encode(), remainder);
        assert_eq!(d.remainders.len(), payloads.len());
        assert_eq!(budget, FragmentBudget::default());
    }

    #[test]
    fn fragment_errors() {
        let mut budget = FragmentBudget::default();
        let mut d = PayloadDecoder::new(1000);
        assert_eq!(
            d.decode("\nAAAAAAAAAAAAAAAA\n0\n1001\nx", 0, &mut budget),
            Err(ProtocolError::Overflow("fragments"))
        );
        let mut d = PayloadDecoder::new(1000);
        assert!(
            d.decode("\nAAAAAAAAAAAAAAAA\n0\n2\n[", 0, &mut budget)
                .unwrap()
                .is_none()
        );
        assert_eq!(
            d.decode("\nAAAAAAAAAAAAAAAA\n0\n2\n[", 0, &mut budget),
            Err(ProtocolError::Invalid)
        );
        assert_eq!(budget, FragmentBudget::default());
        let mut d = PayloadDecoder::new(1000);
        for i in 0..MAX_FRAGMENT_BUFFERS {
            let id = format!("{:A>16}", i);
            let id: String = id.chars().map(|c| if c == ' ' { 'A' } else { c }).collect();
            assert!(
                d.decode(&format!("\n{id}\n0\n2\nx"), 0, &mut budget)
                    .unwrap()
                    .is_none()
            );
        }
        assert_eq!(
            d.decode("\nBBBBBBBBBBBBBBBB\n0\n2\nx", 0, &mut budget),
            Err(ProtocolError::Overflow("fragments"))
        );
        // Expiry returns the budget.
        let mut d = PayloadDecoder::new(1000);
        let mut budget = FragmentBudget::default();
        assert!(
            d.decode("\nAAAAAAAAAAAAAAAA\n0\n2\nx", 0, &mut budget)
                .unwrap()
                .is_none()
        );
        d.expire(1000, &mut budget);
        assert_eq!(budget, FragmentBudget::default());
    }
}
