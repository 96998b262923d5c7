//! Support for the fuzz targets in `fuzz_targets/`: the oracles live in [`oracle`] and
//! [`protocol`], which `core/tests/decoders.rs` also includes (this file, by path) so that CI
//! checks the very same properties on generated inputs. Like `oracle.rs`, this file may use
//! nothing but `tinystore_core`, `serde_json` and `std`.

pub mod oracle;

/// What must hold for *any* text fed to the synchronizer protocol's decoders
/// (`tinystore_core::sync::protocol`): `decode_message`, `parse_control`,
/// `parse_channel_frame`, and `PayloadDecoder` over a sequence of payloads.
///
/// Every `check_*` function panics iff a decoder panicked or broke one of these properties:
///
/// - **no panic** on any input;
/// - **round trip**: an accepted message, control frame or channel frame is written back
///   (`Message::encode`, `control_payload`, `channel_payload`) to text that the same decoder
///   accepts as the same thing; a message also survives `make_payloads` with fragments
///   (within TinyBase's size and count bounds) and reassembly in reverse order;
/// - **decoder state**: a `PayloadDecoder` that failed refuses everything after, a message it
///   decodes is valid, the budget it shares with another decoder stays within the limits and
///   is back to zero once both are cleared.
pub mod protocol {
    use serde_json::Value as Json;
    use tinystore_core::json;
    use tinystore_core::sync::protocol::{
        ChannelFrame, Control, FragmentBudget, MAX_CHANNEL_ID_BYTES, MAX_FRAGMENT_BUFFERS,
        MAX_FRAGMENTS, MAX_PAYLOAD_BYTES, Message, PayloadDecoder, ProtocolError, channel_payload,
        control_payload, decode_message, is_body_valid, is_channel_id_valid, make_payloads,
        parse_channel_frame, parse_control, split_payload,
    };

    /// Separates the payloads of one input in [`check_payloads`].
    pub const PAYLOAD_SEPARATOR: char = '\u{1E}';
    /// A payload starting with this goes to the second decoder.
    pub const SECOND_DECODER: char = '\u{2}';
    /// A payload starting with this arrives one fragment timeout later.
    pub const LATER: char = '\u{3}';
    /// The fragment timeout of the decoders (ms).
    const TIMEOUT_MS: u64 = 1000;

    /// JavaScript's `===` on JSON trees (`-0` equals `0`, whatever the `serde_json` number).
    fn js_equal(a: &Json, b: &Json) -> bool {
        match (a, b) {
            (Json::Number(x), Json::Number(y)) => x.as_f64() == y.as_f64(),
            (Json::Array(x), Json::Array(y)) => {
                x.len() == y.len() && x.iter().zip(y).all(|(x, y)| js_equal(x, y))
            }
            (Json::Object(x), Json::Object(y)) => {
                x.len() == y.len()
                    && x.iter()
                        .all(|(k, v)| y.get(k).is_some_and(|w| js_equal(v, w)))
            }
            _ => a == b,
        }
    }

    /// Every check below on the same text.
    pub fn check_protocol(text: &str) {
        if let Some(message) = decode_message(text) {
            check_message(text, &message);
        }
        check_control(text);
        check_channel_frame(text);
        check_payloads(text);
    }

    /// A message `decode_message` accepted from `text`: valid, idempotent, and carried intact
    /// by fragments.
    fn check_message(text: &str, message: &Message) {
        assert!(
            is_body_valid(message.message, &message.body),
            "{text:?}: invalid body accepted"
        );
        assert!(
            json::parse(text).is_ok(),
            "{text:?}: accepted, but not JSON"
        );
        let again = check_idempotent(text, message);
        for size in [1, 7, 64] {
            check_fragments(&again, size);
        }
    }

    /// `message` (decoded from `text`) encodes to text that decodes to an equal message and
    /// encodes to the same text; returns that message.
    fn check_idempotent(text: &str, message: &Message) -> Message {
        let once = message.encode();
        let again = decode_message(&once)
            .unwrap_or_else(|| panic!("{once:?}, the encoding of {text:?}, is refused"));
        assert_eq!(again.request_id, message.request_id, "{text:?}");
        assert_eq!(again.message, message.message, "{text:?}");
        assert!(
            js_equal(&again.body, &message.body),
            "{text:?}: body changed"
        );
        assert_eq!(again.encode(), once, "{text:?}: encoding is not stable");
        again
    }

    /// `make_payloads` with fragments of `size` bytes, reassembled in reverse order.
    fn check_fragments(message: &Message, size: usize) {
        let remainder = message.encode();
        let payloads = make_payloads("c", &remainder, Some(size));
        let bound = size.max(remainder.len().div_ceil(MAX_FRAGMENTS) + 3);
        assert!(!payloads.is_empty() && payloads.len() <= MAX_FRAGMENTS);
        if payloads.len() > 1 {
            for payload in &payloads {
                // "c\n" + 16-character id + "\n" + index + "\n" + total + "\n" + piece.
                let piece = payload.splitn(5, '\n').nth(4).unwrap_or_default();
                assert!(
                    piece.len() <= bound || piece.chars().count() == 1,
                    "a {}-byte fragment over {bound} bytes",
                    piece.len()
                );
            }
        }
        let mut decoder = PayloadDecoder::new(TIMEOUT_MS);
        let mut budget = FragmentBudget::default();
        let mut decoded = None;
        for payload in payloads.iter().rev() {
            assert!(decoded.is_none(), "decoded before the last fragment");
            decoded = decoder
                .decode(payload, 0, &mut budget)
                .unwrap_or_else(|e| panic!("own fragment {payload:?} refused: {e}"));
        }
        let decoded = decoded.unwrap_or_else(|| panic!("{remainder:?} not reassembled"));
        assert_eq!(&decoded.message, message);
        assert_eq!(decoded.client_id, "c");
        assert_eq!(decoded.remainders.len(), payloads.len());
        assert_eq!(budget, FragmentBudget::default());
    }

    /// `parse_control`: an accepted frame is `S\n…`, has a request id iff it is not an
    /// Unsubscribe, names a channel unless a Hello, and is written back to a frame that parses
    /// to the same.
    pub fn check_control(text: &str) {
        let Some(frame) = parse_control(text) else {
            return;
        };
        assert!(text.starts_with("S\n"), "{text:?}");
        assert_eq!(
            frame.request_id.is_none(),
            frame.control == Control::Unsubscribe,
            "{text:?}"
        );
        if frame.control != Control::Hello {
            let channel = frame
                .channel()
                .unwrap_or_else(|| panic!("{text:?}: no channel"));
            assert!(
                channel.len() > MAX_CHANNEL_ID_BYTES || is_channel_id_valid(channel),
                "{text:?}"
            );
        }
        let echo = control_payload(frame.request_id.as_deref(), frame.control, &frame.body);
        let again = parse_control(&echo)
            .unwrap_or_else(|| panic!("{echo:?}, the echo of {text:?}, is refused"));
        assert_eq!(again.request_id, frame.request_id, "{text:?}");
        assert_eq!(again.control, frame.control, "{text:?}");
        assert!(js_equal(&again.body, &frame.body), "{text:?}");
        assert_eq!(
            control_payload(again.request_id.as_deref(), again.control, &again.body),
            echo
        );
    }

    /// `parse_channel_frame`: a data frame is written back byte for byte; an oversized one
    /// has a channel id over the limit.
    pub fn check_channel_frame(text: &str) {
        match parse_channel_frame(text) {
            None => {}
            Some(ChannelFrame::Data { channel, payload }) => {
                assert!(
                    is_channel_id_valid(channel) && channel.len() <= MAX_CHANNEL_ID_BYTES,
                    "{text:?}"
                );
                assert_eq!(channel_payload(channel, payload), text);
            }
            Some(ChannelFrame::Oversized) => {
                let channel = text
                    .strip_prefix("M\n")
                    .and_then(|rest| split_payload(rest))
                    .map_or("", |(channel, _)| channel);
                assert!(channel.len() > MAX_CHANNEL_ID_BYTES, "{text:?}");
            }
        }
    }

    /// The payloads of `text` (split at [`PAYLOAD_SEPARATOR`]; [`SECOND_DECODER`] and
    /// [`LATER`] prefixes choose the decoder and the time) through two decoders sharing one
    /// budget, as the channels of one socket do.
    pub fn check_payloads(text: &str) {
        let mut decoders = [
            PayloadDecoder::new(TIMEOUT_MS),
            PayloadDecoder::new(TIMEOUT_MS),
        ];
        let mut failed = [false, false];
        let mut budget = FragmentBudget::default();
        let mut now = 0;
        for mut payload in text.split(PAYLOAD_SEPARATOR) {
            let mut which = 0;
            loop {
                if let Some(rest) = payload.strip_prefix(SECOND_DECODER) {
                    which = 1;
                    payload = rest;
                } else if let Some(rest) = payload.strip_prefix(LATER) {
                    now += TIMEOUT_MS;
                    payload = rest;
                } else {
                    break;
                }
            }
            let result = decoders[which].decode(payload, now, &mut budget);
            if failed[which] {
                assert_eq!(result, Err(ProtocolError::Invalid), "{payload:?}");
            }
            match result {
                Err(_) => {
                    failed[which] = true;
                    assert!(!decoders[which].is_valid());
                }
                Ok(Some(decoded)) => {
                    let message = &decoded.message;
                    assert!(is_body_valid(message.message, &message.body));
                    match decoded.remainders.as_slice() {
                        [] => panic!("{payload:?}: decoded from nothing"),
                        [only] => {
                            assert_eq!(split_payload(payload).map(|p| p.1), Some(only.as_str()));
                        }
                        _ => {}
                    }
                    check_idempotent(payload, message);
                }
                Ok(None) => {}
            }
            assert!(budget.buffers <= MAX_FRAGMENT_BUFFERS, "{budget:?}");
            assert!(budget.bytes <= MAX_PAYLOAD_BYTES, "{budget:?}");
        }
        for decoder in &mut decoders {
            decoder.clear(&mut budget);
        }
        assert_eq!(budget, FragmentBudget::default());
    }
}
