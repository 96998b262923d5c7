//! Fuzz target: the synchronizer wire protocol's decoders (`sync::protocol`) on arbitrary
//! UTF-8 input: `decode_message`, `parse_control`, `parse_channel_frame`, and two
//! `PayloadDecoder`s sharing a budget over the payloads the input holds (split at U+001E; a
//! leading U+0002 picks the second decoder, a leading U+0003 advances the clock past the
//! fragment timeout).
//!
//! Beyond "no panic", `tinystore_fuzz::protocol::check_protocol` checks that accepted
//! messages and frames are written back to text that decodes to the same, that messages survive
//! fragmentation and reassembly, and that the decoders' shared budget stays within TinyBase's
//! limits and returns to zero.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        tinystore_fuzz::protocol::check_protocol(text);
    }
});
