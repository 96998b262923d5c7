//! A ContentDiff located in a message's text and read straight into its typed changes, for
//! relays that must not hold a JSON tree.

use super::*;

/// The body text of a ContentDiff message's text (`[requestId,3,body]`), located without
/// parsing the body; `None` for any other message or a text not of that shape. For messages
/// already validated (e.g. by [`decode_message`] before a relay), so the body can go straight
/// into a store without a JSON tree.
///
/// ```
/// use tinystore_core::sync::protocol::content_diff_body;
/// assert_eq!(content_diff_body(r#"["t\"x",3,[[{},""],[{},""],1]]"#), Some(r#"[[{},""],[{},""],1]"#));
/// assert_eq!(content_diff_body(r#"[null, 3 ,[]] "#), Some("[]"));
/// assert_eq!(content_diff_body(r#"["t",2,[1,2]]"#), None);
/// assert_eq!(content_diff_body(r#"["t",30,[1,2]]"#), None);
/// ```
pub fn content_diff_body(text: &str) -> Option<&str> {
    content_diff_parts(text).map(|(_, body)| body)
}

/// The request id's JSON (`null` or a string) and the body's text of a ContentDiff's text.
fn content_diff_parts(text: &str) -> Option<(&str, &str)> {
    let bytes = text.as_bytes();
    let skip_ws = |mut i: usize| {
        while i < bytes.len() && is_json_ws(bytes[i]) {
            i += 1;
        }
        i
    };
    let (id, mut i) = message_head(text)?;
    if bytes.get(i) != Some(&b'3') {
        return None;
    }
    i = skip_ws(i + 1);
    if bytes.get(i) != Some(&b',') {
        return None;
    }
    let start = skip_ws(i + 1);
    let mut end = text.len();
    while end > start && is_json_ws(bytes[end - 1]) {
        end -= 1;
    }
    if end <= start || bytes[end - 1] != b']' {
        return None;
    }
    end -= 1;
    while end > start && is_json_ws(bytes[end - 1]) {
        end -= 1;
    }
    (end > start).then(|| (id, &text[start..end]))
}

/// A ContentDiff whose changes were read straight from its text into their stamp tree while it
/// was validated (one parse, no JSON tree): what a server hands to a room's store.
///
/// ```
/// use tinystore_core::sync::protocol::ContentDiff;
/// let text = r#"["tx",3,[[{"t":[{"r":[{"c":[1,"NjEtLV-----mmxrx"]}]}]}],[{}],1]]"#;
/// let diff = ContentDiff::from_remainder(text).unwrap();
/// assert_eq!(diff.request_id.as_deref(), Some("tx"));
/// assert_eq!(diff.encode(), text);
/// assert!(ContentDiff::from_remainder(r#"["tx",3,[[{}],[{}],2]]"#).is_none());
/// ```
#[derive(Clone, Debug)]
pub struct ContentDiff {
    /// The transaction id; `None` is JSON `null`.
    pub request_id: Option<String>,
    /// The changes, in the stamp tree that merging consumes.
    pub changes: ReceivedChanges,
}

impl ContentDiff {
    /// Reads a message's text if it is a ContentDiff that [`decode_message`] accepts and that
    /// the one-pass reader takes (TinyBase's own output always is); `None` otherwise, and then
    /// [`decode_message`] decides. The changes' HLCs are checked against a clock by the store
    /// that applies them.
    pub fn from_remainder(remainder: &str) -> Option<ContentDiff> {
        let (id, body) = content_diff_parts(remainder)?;
        let request_id = match json::parse(id).ok()? {
            Json::Null => None,
            Json::String(s) if s != UNDEFINED_MARKER => Some(s),
            _ => return None,
        };
        // JavaScript reads a number literal beyond f64 as Infinity, which no stamp takes.
        if widen_infinite_elements(remainder).is_some() {
            return None;
        }
        let changes = ReceivedChanges::from_wire(body)?;
        Some(ContentDiff {
            request_id,
            changes,
        })
    }

    /// The message's text, `[requestId,3,changes]`, as TinyBase writes it.
    pub fn encode(&self) -> String {
        let body = self.changes.to_json_string();
        encode_message(self.request_id.as_deref(), MessageType::ContentDiff, &body)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_server_reads_content_diffs_into_their_tree_and_nothing_else() {
        let relayed = |remainder: &str| {
            PayloadDecoder::new(1000)
                .decode_relayed(&format!("\n{remainder}"), 0, &mut FragmentBudget::default())
                .unwrap()
                .unwrap()
        };
        let diff = relayed(r#"[null,3,[[{"t":[{"r":[{"c":[1]}]}]}],[{}],1]]"#);
        assert_eq!(
            (diff.message, diff.is_write),
            (MessageType::ContentDiff, true)
        );
        assert_eq!(
            diff.changes.unwrap().encode(),
            r#"[null,3,[[{"t":[{"r":[{"c":[1]}]}]}],[{}],1]]"#
        );
        // Valid, but not for the one-pass reader: validated as JSON, relayed as text.
        for unusual in [
            r#"["t",3,[[{"t":[{},""],"t":[{},""]}],[{}],1]]"#,
            r#"["t",3,[[{}],[{"v":[{"a":1}]}],1]]"#,
        ] {
            let d = relayed(unusual);
            assert!(
                d.changes.is_none() && d.message == MessageType::ContentDiff,
                "{unusual}"
            );
        }
        assert!(
            relayed(r#"["t",3,[[{}],[{"v":[null]}],1]]"#)
                .changes
                .is_some()
        );
        // What TinyBase refuses stays refused: hashes, Infinity, the undefined marker as id.
        for invalid in [
            r#"["t",3,[[{},"",0],[{}],1]]"#,
            r#"["t",3,[[{}],[{"v":[1e400]}],1]]"#,
            "[\"\u{FFFC}\",3,[[{}],[{}],1]]",
        ] {
            assert!(ContentDiff::from_remainder(invalid).is_none(), "{invalid}");
            assert!(decode_message(invalid).is_none(), "{invalid}");
        }
        let response = relayed(r#"["t",0,[1,2]]"#);
        assert!(!response.is_write && response.changes.is_none());
        assert!(relayed(r#"["t",0,[{}]]"#).is_write);
    }
}
