//! A check of Yjs v1 update bytes before yrs decodes them.
//!
//! yrs 0.28 decodes `Any` values recursively, and integrates an update's client entries with
//! one recursive call per entry without blocks: a few kilobytes of nested arrays, or a few
//! hundred kilobytes of empty client entries, overflow the stack and abort the process (a
//! 2 MB thread stack gives out below 1,000 levels). This walks the same format without
//! recursion, following yrs's decoder field by field, and refuses such updates before yrs
//! sees them. Neither Yjs nor yrs writes either shape.
//!
//! It also refuses two things yrs gets wrong: legacy JSON content (written by Yjs before 13),
//! which yrs reads with one string more than it writes, so that an update holding it
//! misparses and, kept as pending, makes every later encoding of the doc panic; client ids
//! beyond 53 bits (Yjs's are 32-bit), which yrs asserts against; and clocks that do not fit
//! the 32 bits yrs adds them in.

use crate::persist::PersistError;

/// The deepest nesting of `Any` arrays and maps accepted: serde_json's limit, which yrs also
/// applies to JSON content.
pub(super) const MAX_ANY_DEPTH: usize = 128;

/// Item info bits, as yrs and Yjs define them.
const HAS_ORIGIN: u8 = 0b1000_0000;
const HAS_RIGHT_ORIGIN: u8 = 0b0100_0000;
const HAS_PARENT_SUB: u8 = 0b0010_0000;
/// Block kinds compared with the whole info byte (yrs's `decode_block`).
const GC: u8 = 0;
const SKIP: u8 = 10;

/// The client ids yrs can hold.
const MAX_CLIENT: u64 = (1 << 53) - 1;

#[derive(Debug)]
enum Problem {
    Malformed(&'static str),
    TooDeep,
    EmptyClient,
}

struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl Reader<'_> {
    fn byte(&mut self) -> Result<u8, Problem> {
        let b = *self
            .bytes
            .get(self.at)
            .ok_or(Problem::Malformed("it ends early"))?;
        self.at += 1;
        Ok(b)
    }

    /// A variable-length integer (signed ones end the same way).
    fn var(&mut self) -> Result<u64, Problem> {
        let mut value = 0u64;
        for shift in (0..70).step_by(7) {
            let b = self.byte()?;
            if shift < 64 {
                value |= u64::from(b & 0x7f) << shift;
            }
            if b & 0x80 == 0 {
                return Ok(value);
            }
        }
        Err(Problem::Malformed("a number is too long"))
    }

    fn skip(&mut self, n: u64) -> Result<(), Problem> {
        let end = usize::try_from(n)
            .ok()
            .and_then(|n| self.at.checked_add(n))
            .filter(|&end| end <= self.bytes.len())
            .ok_or(Problem::Malformed("it ends early"))?;
        self.at = end;
        Ok(())
    }

    /// A length-prefixed string or buffer.
    fn buf(&mut self) -> Result<(), Problem> {
        let len = self.var()?;
        self.skip(len)
    }

    fn client(&mut self) -> Result<(), Problem> {
        if self.var()? > MAX_CLIENT {
            return Err(Problem::Malformed("a client id is beyond 53 bits"));
        }
        Ok(())
    }

    fn clock(&mut self) -> Result<u64, Problem> {
        let clock = self.var()?;
        if clock > u64::from(u32::MAX) {
            return Err(Problem::Malformed("a clock is beyond 32 bits"));
        }
        Ok(clock)
    }

    /// An item id: client and clock.
    fn id(&mut self) -> Result<(), Problem> {
        self.client()?;
        self.clock().map(drop)
    }

    /// A length-prefixed string or buffer; its length.
    fn sized(&mut self) -> Result<u64, Problem> {
        let len = self.var()?;
        self.skip(len)?;
        Ok(len)
    }

    /// One `Any` value, containers walked with a stack of their remaining members.
    fn any(&mut self) -> Result<(), Problem> {
        // (is a map, members left)
        let mut open: Vec<(bool, u64)> = Vec::new();
        loop {
            match self.byte()? {
                120 | 121 | 126 | 127 => {}
                125 => drop(self.var()?),
                124 => self.skip(4)?,
                122 | 123 => self.skip(8)?,
                116 | 119 => self.buf()?,
                tag @ (117 | 118) => {
                    let len = self.var()?;
                    if open.len() == MAX_ANY_DEPTH {
                        return Err(Problem::TooDeep);
                    }
                    open.push((tag == 118, len));
                }
                _ => return Err(Problem::Malformed("a value of unknown kind")),
            }
            loop {
                let Some((is_map, left)) = open.last_mut() else {
                    return Ok(());
                };
                if *left == 0 {
                    open.pop();
                    continue;
                }
                *left -= 1;
                if *is_map {
                    self.buf()?;
                }
                break;
            }
        }
    }

    /// An item's content, by the low four bits of its info (yrs's `ItemContent::decode`); at
    /// least as many clock ticks as the item takes (a string's bytes bound its UTF-16 units).
    fn content(&mut self, info: u8) -> Result<u64, Problem> {
        let mut len = 1;
        match info & 0b1111 {
            // Deleted: a length.
            1 => len = self.var()?,
            2 => {
                return Err(Problem::Malformed(
                    "legacy JSON content, which yrs misreads",
                ));
            }
            // Binary, Embed (JSON text).
            3 | 5 => self.buf()?,
            4 => len = self.sized()?,
            // Format: key and JSON text.
            6 => {
                self.buf()?;
                self.buf()?;
            }
            // A shared type: an XML element carries its name. Weak links (7) need yrs's
            // `weak` feature, which tinystore does not enable.
            7 => match self.byte()? {
                3 => self.buf()?,
                0..=2 | 4..=6 | 9 | 15 => {}
                _ => return Err(Problem::Malformed("a shared type of unknown kind")),
            },
            8 => {
                len = self.var()?;
                for _ in 0..len {
                    self.any()?;
                }
            }
            // A subdocument: its guid and options.
            9 => {
                self.buf()?;
                self.any()?;
            }
            _ => return Err(Problem::Malformed("an item of unknown kind")),
        }
        Ok(len)
    }

    /// One block; its length in clock ticks (at least).
    fn block(&mut self) -> Result<u64, Problem> {
        let info = self.byte()?;
        if info == GC || info == SKIP {
            return self.var();
        }
        if info & HAS_ORIGIN != 0 {
            self.id()?;
        }
        if info & HAS_RIGHT_ORIGIN != 0 {
            self.id()?;
        }
        if info & (HAS_ORIGIN | HAS_RIGHT_ORIGIN) == 0 {
            if self.var()? == 1 {
                self.buf()?;
            } else {
                self.id()?;
            }
            if info & HAS_PARENT_SUB != 0 {
                self.buf()?;
            }
        }
        self.content(info)
    }

    fn update(&mut self) -> Result<(), Problem> {
        for _ in 0..self.var()? {
            let blocks = self.var()?;
            if blocks == 0 {
                return Err(Problem::EmptyClient);
            }
            self.client()?;
            let mut clock = self.clock()?;
            for _ in 0..blocks {
                clock = fits(clock, self.block()?)?;
            }
        }
        // The delete set: per client, its ranges of (clock, length).
        for _ in 0..self.var()? {
            self.client()?;
            for _ in 0..self.var()? {
                let start = self.clock()?;
                fits(start, self.var()?)?;
            }
        }
        Ok(())
    }
}

/// `clock + len`, if it stays within 32 bits.
fn fits(clock: u64, len: u64) -> Result<u64, Problem> {
    clock
        .checked_add(len)
        .filter(|&end| end <= u64::from(u32::MAX))
        .ok_or(Problem::Malformed("clocks run beyond 32 bits"))
}

/// Refuses bytes that are not a Yjs v1 update, and updates yrs cannot decode and integrate
/// without overflowing the stack.
pub(super) fn check(update: &[u8]) -> Result<(), PersistError> {
    let mut reader = Reader {
        bytes: update,
        at: 0,
    };
    reader.update().map_err(|problem| {
        PersistError::content(match problem {
            Problem::Malformed(why) => {
                format!("not a Yjs update: {why} (at byte {})", reader.at)
            }
            Problem::TooDeep => format!(
                "the Yjs update nests values deeper than {MAX_ANY_DEPTH} levels (at byte {})",
                reader.at
            ),
            Problem::EmptyClient => format!(
                "the Yjs update lists a client without changes (at byte {})",
                reader.at
            ),
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use yrs::types::text::Text;
    use yrs::{
        Any, Array, ArrayPrelim, Doc, GetString, Map, MapPrelim, ReadTxn, StateVector, Transact,
        XmlElementPrelim, XmlFragment, XmlTextPrelim,
    };

    fn var(out: &mut Vec<u8>, mut n: u64) {
        loop {
            let b = (n & 0x7f) as u8;
            n >>= 7;
            if n == 0 {
                out.push(b);
                return;
            }
            out.push(b | 0x80);
        }
    }

    /// An update with one map entry holding `value`.
    fn with_value(value: Any) -> Vec<u8> {
        let doc = Doc::with_client_id(1);
        let map = doc.get_or_insert_map("m");
        map.insert(&mut doc.transact_mut(), "k", value);
        doc.transact()
            .encode_state_as_update_v1(&StateVector::default())
    }

    #[test]
    fn updates_of_every_content_kind_pass() {
        let doc = Doc::with_client_id(9);
        let map = doc.get_or_insert_map("m");
        let text = doc.get_or_insert_text("text");
        let xml = doc.get_or_insert_xml_fragment("xml");
        let array = doc.get_or_insert_array("a");
        {
            let mut txn = doc.transact_mut();
            map.insert(
                &mut txn,
                "any",
                Any::from_json(r#"{"a":[1,2.5,"x",null,true]}"#).unwrap(),
            );
            map.insert(&mut txn, "big", Any::Number(yrs::Number::Int(i64::MAX)));
            map.insert(&mut txn, "bin", Any::Buffer(Arc::from(vec![1u8, 2, 3])));
            map.insert(&mut txn, "nested", MapPrelim::from([("x", 1)]));
            map.insert(&mut txn, "list", ArrayPrelim::from([1, 2]));
            map.insert(&mut txn, "sub", Doc::new());
            text.insert(&mut txn, 0, "hello world");
            let bold = yrs::types::Attrs::from([(Arc::from("bold"), Any::Bool(true))]);
            text.format(&mut txn, 0, 5, bold);
            text.insert_embed(&mut txn, 3, Any::from_json(r#"{"img":"x.png"}"#).unwrap());
            let element = xml.push_back(&mut txn, XmlElementPrelim::empty("p"));
            element.push_back(&mut txn, XmlTextPrelim::new("hi"));
            array.insert_range(&mut txn, 0, [1, 2, 3]);
            array.remove_range(&mut txn, 0, 2);
            map.remove(&mut txn, "list");
        }
        assert!(text.get_string(&doc.transact()).contains("hello"));
        let full = doc
            .transact()
            .encode_state_as_update_v1(&StateVector::default());
        check(&full).unwrap();
        // A diff against a partial state (GC'd and deleted blocks, a delete set).
        let other = Doc::with_client_id(10);
        check(
            &doc.transact()
                .encode_state_as_update_v1(&other.transact().state_vector()),
        )
        .unwrap();
        check(
            &Doc::new()
                .transact()
                .encode_state_as_update_v1(&StateVector::default()),
        )
        .unwrap();
    }

    #[test]
    fn what_yrs_gets_wrong_is_refused() {
        use yrs::updates::decoder::Decode;
        // JSON content with a count of 0: yrs takes one string, and so decodes it.
        let mut json = Vec::new();
        for n in [1, 1, 7, 0] {
            var(&mut json, n);
        }
        json.extend_from_slice(&[HAS_PARENT_SUB | 2, 1, 1, b'm', 1, b'k', 0, 1, b'1', 0]);
        assert!(yrs::Update::decode_v1(&json).is_ok());
        assert!(
            check(&json)
                .unwrap_err()
                .to_string()
                .contains("JSON content")
        );
        let mut update = Vec::new();
        for n in [1, 1, 1 << 53, 0] {
            var(&mut update, n);
        }
        update.extend_from_slice(&[GC, 1, 0]);
        assert!(check(&update).unwrap_err().to_string().contains("53 bits"));
        // Clocks: an entry's blocks, and a deleted range, must end within 32 bits.
        let mut update = Vec::new();
        for n in [1, 1, 7, u64::from(u32::MAX)] {
            var(&mut update, n);
        }
        update.extend_from_slice(&[GC, 1, 0]);
        assert!(check(&update).unwrap_err().to_string().contains("32 bits"));
        let mut deleted = vec![0, 1];
        for n in [7, 1, u64::from(u32::MAX) - 1, 2] {
            var(&mut deleted, n);
        }
        assert!(check(&deleted).unwrap_err().to_string().contains("32 bits"));
        deleted.pop();
        deleted.push(1);
        check(&deleted).unwrap();
    }

    #[test]
    fn deep_values_and_empty_clients_are_refused() {
        let nested = |depth: usize| {
            let mut value = Any::Null;
            for _ in 0..depth {
                value = Any::Array(Arc::from(vec![value]));
            }
            value
        };
        check(&with_value(nested(MAX_ANY_DEPTH))).unwrap();
        let too_deep = check(&with_value(nested(MAX_ANY_DEPTH + 1))).unwrap_err();
        assert!(
            too_deep.to_string().contains("deeper than 128"),
            "{too_deep}"
        );
        let mut map = Any::Null;
        for _ in 0..MAX_ANY_DEPTH + 1 {
            map = Any::Map(Arc::new([("k".to_string(), map)].into_iter().collect()));
        }
        assert!(check(&with_value(map)).is_err());

        let mut empty = Vec::new();
        var(&mut empty, 2);
        for client in [1, 2] {
            var(&mut empty, 0);
            var(&mut empty, client);
            var(&mut empty, 0);
        }
        var(&mut empty, 0);
        let e = check(&empty).unwrap_err();
        assert!(e.to_string().contains("without changes"), "{e}");
    }

    #[test]
    fn truncated_and_garbage_bytes_are_refused() {
        let update = with_value(Any::from_json(r#"{"a":[1,"x"]}"#).unwrap());
        for len in 0..update.len() - 1 {
            assert!(check(&update[..len]).is_err(), "{len} bytes");
        }
        assert!(check(&[0xff; 11]).is_err());
        // Unknown value and item kinds.
        let mut bad = Vec::new();
        var(&mut bad, 1);
        var(&mut bad, 1);
        var(&mut bad, 1);
        var(&mut bad, 0);
        bad.extend_from_slice(&[0b0000_1111, 1, 1, b'm']);
        assert!(
            check(&bad)
                .unwrap_err()
                .to_string()
                .contains("unknown kind")
        );
    }
}
