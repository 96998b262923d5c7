//! The `tinybase` subprotocol: control frames, channel frames and channel paths.

use super::*;

/// A control request of the `tinybase` subprotocol.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum Control {
    /// Opens the session; body = protocol version, echoed by the server.
    Hello = 0,
    /// Joins a channel; echoed by the server.
    Subscribe = 1,
    /// Leaves a channel; not acknowledged.
    Unsubscribe = 2,
}

/// A parsed control frame.
#[derive(Clone, Debug, PartialEq)]
pub struct ControlFrame {
    /// Its request id (`None` for Unsubscribe).
    pub request_id: Option<String>,
    /// Which control.
    pub control: Control,
    /// Hello: the version; Subscribe/Unsubscribe: the channel id.
    pub body: Json,
}

impl ControlFrame {
    /// The channel id of a Subscribe or Unsubscribe.
    pub fn channel(&self) -> Option<&str> {
        self.body.as_str()
    }
}

/// Whether a channel id is longer than [`MAX_CHANNEL_ID_BYTES`].
pub fn is_channel_id_too_large(channel: &str) -> bool {
    channel.len() > MAX_CHANNEL_ID_BYTES
}

/// A channel id's structure: non-empty, no `\n \r ? #`, `/`-separated segments that are not
/// empty, `.` or `..`.
pub fn is_channel_id_valid(channel: &str) -> bool {
    !channel.is_empty()
        && !channel.contains(['\n', '\r', '?', '#'])
        && channel
            .split('/')
            .all(|p| !p.is_empty() && p != "." && p != "..")
}

/// `S\n[requestId,-1,[control,body]]`.
pub fn control_payload(request_id: Option<&str>, control: Control, body: &Json) -> String {
    let mut out = String::from("S\n[");
    match request_id {
        Some(id) => json::write_string(&mut out, id),
        None => out.push_str("null"),
    }
    out.push_str(",-1,[");
    out.push_str(&(control as u8).to_string());
    out.push(',');
    json::write_value(&mut out, body);
    out.push_str("]]");
    out
}

/// Parses a control frame (`ifMultipleControlPayloadValid`).
///
/// TinyBase compares the message number, the control and Hello's version with JavaScript's
/// `==`, so it also accepts, say, `["…","-1",["0",[1]]]` as a Hello; so does this. (Its echo
/// carries the control as sent, where [`control_payload`] writes the number.)
pub fn parse_control(payload: &str) -> Option<ControlFrame> {
    let (client, remainder) = split_payload(payload)?;
    if client != SERVER_CLIENT_ID {
        return None;
    }
    let frame = control_from_json(json::parse(remainder).ok()?)?;
    if let Some(widened) = widen_infinite_elements(remainder) {
        control_from_json(json::parse(&widened).ok()?)?;
    }
    Some(frame)
}

fn control_from_json(parsed: Json) -> Option<ControlFrame> {
    let Json::Array(mut parts) = parsed else {
        return None;
    };
    if parts.len() != 3 || !js_loosely_equals(&parts[1], -1.0) {
        return None;
    }
    let request_id = request_id_of(&parts[0]).ok()?;
    let Json::Array(mut cb) = parts.pop()? else {
        return None;
    };
    if cb.len() != 2 {
        return None;
    }
    let body = cb.pop()?;
    let channel_ok = |b: &Json| {
        matches!(b, Json::String(s) if !is_undefined(b)
            && (is_channel_id_too_large(s) || is_channel_id_valid(s)))
    };
    let control = if js_loosely_equals(&cb[0], 0.0) {
        (request_id.is_some() && js_loosely_equals(&body, MULTIPLEX_VERSION as f64))
            .then_some(Control::Hello)
    } else if js_loosely_equals(&cb[0], 1.0) {
        (request_id.is_some() && channel_ok(&body)).then_some(Control::Subscribe)
    } else if js_loosely_equals(&cb[0], 2.0) {
        (request_id.is_none() && channel_ok(&body)).then_some(Control::Unsubscribe)
    } else {
        None
    }?;
    Some(ControlFrame {
        request_id,
        control,
        body,
    })
}

/// JavaScript's `value == n` for a parsed value (`"\u{FFFC}"` being `undefined`) and a number.
/// An object never equals (JavaScript throws: TinyBase's objects have no prototype).
fn js_loosely_equals(value: &Json, n: f64) -> bool {
    let x = match value {
        Json::Number(x) => x.as_f64().unwrap_or(f64::NAN),
        Json::Bool(b) => f64::from(u8::from(*b)),
        Json::String(s) if s != UNDEFINED_MARKER => js::string_to_number(s),
        Json::Array(items) => js_array_to_number(items),
        Json::String(_) | Json::Null | Json::Object(_) => return false,
    };
    x == n
}

/// `Number(array)`: the number of the elements joined with `,` (`null` and `undefined` as
/// `""`).
fn js_array_to_number(mut items: &[Json]) -> f64 {
    loop {
        return match items {
            [] => 0.0,
            [Json::Null] => 0.0,
            [Json::String(s)] if s == UNDEFINED_MARKER => 0.0,
            [Json::String(s)] => js::string_to_number(s),
            // A number's string reads back as the same number.
            [Json::Number(x)] => x.as_f64().unwrap_or(f64::NAN),
            [Json::Array(inner)] => {
                items = inner;
                continue;
            }
            // "true", "false", a throw for an object, or a `,` in the joined string.
            _ => f64::NAN,
        };
    }
}

/// `M\n<channelId>\n<payload>`.
pub fn channel_payload(channel: &str, payload: &str) -> String {
    let mut out = String::with_capacity(channel.len() + payload.len() + 3);
    out.push_str("M\n");
    out.push_str(channel);
    out.push('\n');
    out.push_str(payload);
    out
}

/// What a multiplexed data frame holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ChannelFrame<'a> {
    /// Data for a channel.
    Data {
        /// The channel id.
        channel: &'a str,
        /// The inner payload (`<clientId>\n…`).
        payload: &'a str,
    },
    /// A channel id over the size limit (overflow: `channels`).
    Oversized,
}

/// Parses `M\n<channelId>\n<payload>` (`ifMultiplePayloadValid`); `None` when the frame is not
/// a valid data frame.
pub fn parse_channel_frame(payload: &str) -> Option<ChannelFrame<'_>> {
    let (client, rest) = split_payload(payload)?;
    if client != MULTIPLEX_CLIENT_ID {
        return None;
    }
    let (channel, inner) = split_payload(rest)?;
    if is_channel_id_too_large(channel) {
        Some(ChannelFrame::Oversized)
    } else if is_channel_id_valid(channel) {
        Some(ChannelFrame::Data {
            channel,
            payload: inner,
        })
    } else {
        None
    }
}

/// The room (path id) a request URL selects: the first match of `/\/([^?]*)/`, not decoded.
pub fn path_id_of_url(url: &str) -> Option<&str> {
    let start = url.find('/')? + 1;
    let rest = &url[start..];
    Some(rest.split('?').next().unwrap_or(""))
}

/// The server path of a channel of a multiplexed socket opened on `base`.
pub fn channel_path(base: &str, channel: &str) -> String {
    if base.is_empty() {
        channel.to_string()
    } else {
        format!("{base}/{channel}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_frames() {
        let hello = r#"S
["UvneNzz7kWw3pUec",-1,[0,1]]"#;
        let c = parse_control(hello).unwrap();
        assert_eq!(c.control, Control::Hello);
        assert_eq!(
            control_payload(c.request_id.as_deref(), c.control, &c.body),
            hello
        );
        let sub = "S\n[\"1jGyTONxPi-qG3-K\",-1,[1,\"chan1\"]]";
        assert_eq!(parse_control(sub).unwrap().channel(), Some("chan1"));
        assert!(parse_control("S\n[null,-1,[2,\"chan1\"]]").is_some());
        assert!(parse_control("S\n[null,-1,[1,\"chan1\"]]").is_none());
        assert!(parse_control("S\n[\"x\",-1,[1,\"a/../b\"]]").is_none());
        assert!(parse_control("S\n[\"x\",-1,[0,2]]").is_none());
        assert_eq!(
            parse_channel_frame("M\nchan1\n\n[\"x\",1,\"\"]"),
            Some(ChannelFrame::Data {
                channel: "chan1",
                payload: "\n[\"x\",1,\"\"]"
            })
        );
        assert!(parse_channel_frame("M\na#b\n\nx").is_none());
    }

    #[test]
    fn paths() {
        assert_eq!(path_id_of_url("/petShop"), Some("petShop"));
        assert_eq!(path_id_of_url("/a/b?x=1"), Some("a/b"));
        assert_eq!(path_id_of_url("/"), Some(""));
        assert_eq!(channel_path("base", "chan1"), "base/chan1");
        assert_eq!(channel_path("", "chan1"), "chan1");
        assert!(is_channel_id_valid("a/b"));
        assert!(!is_channel_id_valid("a//b"));
        assert!(!is_channel_id_valid(""));
    }
}
