//! One synchronizer message `[requestId, message, body]`: decoding (with TinyBase's reading
//! of out-of-range numbers) and encoding.

use super::*;

/// One synchronizer message `[requestId, message, body]`, validated. The body is kept as JSON
/// in TinyBase's encoded form (tombstones as the string `"\u{FFFC}"`, object/array cells as
/// `"\u{FFFD}…"` strings).
#[derive(Clone, Debug, PartialEq)]
pub struct Message {
    /// The request (or transaction) id; `None` is JSON `null`.
    pub request_id: Option<String>,
    /// What the message is.
    pub message: MessageType,
    /// The body, valid for `message`.
    pub body: Json,
}

impl Message {
    /// A message, if `body` is valid for `message`.
    pub fn new(request_id: Option<String>, message: MessageType, body: Json) -> Option<Message> {
        is_body_valid(message, &body).then_some(Message {
            request_id,
            message,
            body,
        })
    }

    /// Whether the message writes: content hashes, changes, or a response that carries
    /// content (not hashes). A read-only client may not send these.
    ///
    /// ```
    /// use tinystore_core::sync::protocol::decode_message;
    /// assert!(decode_message(r#"["t",2,[1,2]]"#).unwrap().is_write());
    /// assert!(!decode_message(r#"["t",0,[1,2]]"#).unwrap().is_write());
    /// ```
    pub fn is_write(&self) -> bool {
        match self.message {
            MessageType::ContentHashes | MessageType::ContentDiff => true,
            MessageType::Response => !is_body_valid(MessageType::ContentHashes, &self.body),
            _ => false,
        }
    }

    /// The JSON remainder `[requestId, message, body]`, exactly as TinyBase writes it.
    pub fn encode(&self) -> String {
        let mut body = String::new();
        json::write_value(&mut body, &self.body);
        encode_message(self.request_id.as_deref(), self.message, &body)
    }
}

/// `[requestId, message, body]` with an already serialised body (what a synchronizer sends
/// without building a JSON tree first).
pub fn encode_message(request_id: Option<&str>, message: MessageType, body_json: &str) -> String {
    let mut out = String::with_capacity(body_json.len() + 32);
    out.push('[');
    match request_id {
        Some(id) => json::write_string(&mut out, id),
        None => out.push_str("null"),
    }
    out.push(',');
    out.push_str(&message.number().to_string());
    out.push(',');
    out.push_str(body_json);
    out.push(']');
    out
}

/// The message type of a remainder, read from its start (`[requestId,type,`) without parsing
/// the rest: what a server's metrics label an outgoing message with. `None` when the start is
/// not that of a message (a later fragment, garbage).
///
/// ```
/// use tinystore_core::sync::protocol::{MessageType, message_type_of};
/// assert_eq!(message_type_of(r#"["r\"1",3,[{},{},1]]"#), Some(MessageType::ContentDiff));
/// assert_eq!(message_type_of("[null,1,\"\"]"), Some(MessageType::GetContentHashes));
/// assert_eq!(message_type_of("3,[{},{},1]]"), None);
/// ```
pub fn message_type_of(remainder: &str) -> Option<MessageType> {
    let (_, i) = message_head(remainder)?;
    let digits = remainder[i..]
        .bytes()
        .take_while(u8::is_ascii_digit)
        .count();
    MessageType::from_number(remainder.get(i..i + digits)?.parse().ok()?)
}

/// JSON's whitespace.
pub(super) fn is_json_ws(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | b'\r')
}

/// The start of a message's text, `[id,type,…`, read without parsing the rest: the request id
/// as written (`null` or a JSON string) and where the type's number starts.
pub(super) fn message_head(text: &str) -> Option<(&str, usize)> {
    let bytes = text.as_bytes();
    let skip_ws = |mut i: usize| {
        while bytes.get(i).is_some_and(|b| is_json_ws(*b)) {
            i += 1;
        }
        i
    };
    let mut i = skip_ws(0);
    if bytes.get(i) != Some(&b'[') {
        return None;
    }
    i = skip_ws(i + 1);
    let id_start = i;
    match bytes.get(i)? {
        b'n' if text[i..].starts_with("null") => i += 4,
        b'"' => {
            i += 1;
            loop {
                match bytes.get(i)? {
                    b'\\' => i += 2,
                    b'"' => break,
                    _ => i += 1,
                }
            }
            i += 1;
        }
        _ => return None,
    }
    let id = text.get(id_start..i)?;
    i = skip_ws(i);
    if bytes.get(i) != Some(&b',') {
        return None;
    }
    Some((id, skip_ws(i + 1)))
}

/// Parses and validates a remainder (TinyBase's `decodeProtocolMessage`); `None` if it is not a
/// valid message.
pub fn decode_message(remainder: &str) -> Option<Message> {
    let parsed = json::parse(remainder).ok()?;
    let message = message_from_json(parsed)?;
    if let Some(widened) = widen_infinite_elements(remainder) {
        message_from_json(json::parse(&widened).ok()?)?;
    }
    Some(message)
}

/// `text` (valid JSON) with every array element that is a number literal beyond `f64` (which
/// JavaScript reads as ±Infinity) replaced by `null,null,null`; `None` if there is none.
///
/// [`json::parse`] reads such a literal as `null`, what `JSON.stringify` writes for it, but
/// TinyBase validates JavaScript's `Infinity`, and the two differ where a request id or a bare
/// cell or value may be `null`: there TinyBase refuses `Infinity`. Validating the widened text
/// instead gives TinyBase's answer: every array TinyBase checks has 1 to 3 elements (a message,
/// a stamp, content hashes, changes, a control frame and its `[control, body]`), and none of
/// them accepts `Infinity` as an element, so two more elements make it invalid exactly when
/// `Infinity` would; the other arrays are inside a cell or value (valid whatever they hold) or
/// compared with `==` (where `[Infinity]` and `[null,null,null]` both differ from every small
/// integer). Object members need no change: `null` and `Infinity` are both invalid as a hash or
/// a stamp, and both valid inside a cell or value.
pub(super) fn widen_infinite_elements(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    // Whether each open container is an array.
    let mut arrays: Vec<bool> = Vec::new();
    let mut out: Option<String> = None;
    let mut copied = 0;
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        match b {
            b'"' => {
                i += 1;
                while let Some(&c) = bytes.get(i) {
                    i += if c == b'\\' { 2 } else { 1 };
                    if c == b'"' {
                        break;
                    }
                }
                continue;
            }
            b'[' | b'{' => arrays.push(b == b'['),
            b']' | b'}' => drop(arrays.pop()),
            b'-' | b'0'..=b'9' => {
                let start = i;
                while bytes
                    .get(i)
                    .is_some_and(|c| matches!(c, b'-' | b'+' | b'.' | b'e' | b'E' | b'0'..=b'9'))
                {
                    i += 1;
                }
                let literal = text.get(start..i).unwrap_or_default();
                // Without an exponent, only a literal of over 300 digits can be that large.
                let may_overflow =
                    literal.len() > 300 || literal.bytes().any(|c| c == b'e' || c == b'E');
                if arrays.last() == Some(&true)
                    && may_overflow
                    && literal.parse::<f64>().is_ok_and(f64::is_infinite)
                {
                    let out = out.get_or_insert_with(|| String::with_capacity(text.len() + 16));
                    out.push_str(text.get(copied..start).unwrap_or_default());
                    out.push_str("null,null,null");
                    copied = i;
                }
                continue;
            }
            _ => {}
        }
        i += 1;
    }
    let mut out = out?;
    out.push_str(text.get(copied..).unwrap_or_default());
    Some(out)
}

fn message_from_json(parsed: Json) -> Option<Message> {
    let Json::Array(mut parts) = parsed else {
        return None;
    };
    if parts.len() != 3 {
        return None;
    }
    let request_id = request_id_of(&parts[0]).ok()?;
    let number = as_integer(&parts[1])?;
    let message = MessageType::from_number(number as i64)?;
    let body = parts.pop()?;
    Message::new(request_id, message, body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transcript_messages_round_trip() {
        for m in [
            r#"["XRI2_CxO_c4.R1gO",1,""]"#,
            r#"["y-Dbh_QbYQT",2,[467359372,0]]"#,
            r#"["yfaW6R_ukQY.SG6T",4,{}]"#,
            r#"["yfaW6R_ukQY.SG6T",0,[[{"pets":[{"fido":[{"species":["dog","NjEtLV-----67WEb"]}]}]}],{}]]"#,
            "[\"fmYAlzuwlW8\",3,[[{\"pets\":[{\"fido\":[{\"species\":[\"\u{FFFC}\",\"NjEtLV----15le2J\"]}]}]}],[{\"open\":[true,\"NjEtLV----05le2J\"]}],1]]",
            r#"[null,2,[0,4294967295]]"#,
        ] {
            let decoded = decode_message(m).unwrap_or_else(|| panic!("{m}"));
            assert_eq!(decoded.encode(), m);
        }
    }

    #[test]
    fn invalid_messages() {
        for m in [
            r#"["a",1,"x"]"#,
            r#"["a",1]"#,
            r#"["a",1,"",4]"#,
            r#"[1,1,""]"#,
            "[\"\u{FFFC}\",1,\"\"]",
            r#"["a",8,{}]"#,
            r#"["a",-1,{}]"#,
            r#"["a",1.5,""]"#,
            r#"["a",2,[1,-1]]"#,
            r#"["a",2,[1,4294967296]]"#,
            r#"["a",2,[1,2.5]]"#,
            r#"["a",3,[[{}],[{}],2]]"#,
            r#"["a",3,[[{}],[{}],"1"]]"#,
            r#"["a",3,[[{"t":[{"r":[{"c":[1,"bad"]}]}]}],[{}],1]]"#,
            r#"["a",4,{"t":"1"}]"#,
            r#"["a",5,{"t":1}]"#,
            r#"["a",6,{"t":{"r":1}}]"#,
            r#"["a",0,"x"]"#,
            "not json",
        ] {
            assert!(decode_message(m).is_none(), "{m}");
        }
        assert!(decode_message(r#"["a",1.0,""]"#).is_some());
    }
}
