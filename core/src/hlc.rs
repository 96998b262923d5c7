//! Hybrid logical clock: TinyBase's 16-character HLC strings and the clock that issues them.
//!
//! An HLC is 7 digits of logical time (ms, 42 bits), 4 digits of counter (24 bits) and a 5-digit
//! client id, each digit one of 64 ASCII-ordered characters. Because the alphabet is in ASCII
//! order, comparing two HLC strings bytewise orders them by (time, counter, client id): that is
//! the whole last-writer-wins rule, so HLCs are never parsed to be compared.
//!
//! ```
//! use tinystore_core::hlc::{Hlc, HlcClock};
//! let clock = HlcClock::new(Some("client1"), Some(Box::new(|| 1_700_000_000_000)));
//! assert_eq!(clock.next().as_str(), "NjEtLV-----mmxrx");
//! assert_eq!(clock.next().as_str(), "NjEtLV----0mmxrx");
//! assert!(Hlc::parse("NjEtLV----0mmxrx").unwrap() > Hlc::EMPTY);
//! ```

use std::fmt;
use std::time::{SystemTime, UNIX_EPOCH};

use parking_lot::Mutex;

use crate::hash::fnv1a;

/// The 64 digits, in ASCII order so that string order is numeric order.
pub const ALPHABET: &[u8; 64] = crate::js::ALPHABET;

/// How far in the future (ms) a remote HLC may be before it is rejected: 5 minutes.
pub const MAX_FUTURE_OFFSET_MS: u64 = 300_000;

/// Largest logical time an HLC can carry (42 bits).
pub const MAX_TIME: u64 = (1 << 42) - 1;

/// Counter values per millisecond (24 bits).
const COUNTER_LIMIT: u64 = 1 << 24;

/// Each byte's digit value (0 for bytes that are not digits).
const DIGIT_VALUES: [u8; 256] = {
    let mut table = [0u8; 256];
    let mut i = 0;
    while i < 64 {
        table[ALPHABET[i] as usize] = i as u8;
        i += 1;
    }
    table
};

#[inline]
fn digit_value(b: u8) -> Option<u64> {
    Some(match b {
        b'-' => 0,
        b'0'..=b'9' => (b - b'0') as u64 + 1,
        b'A'..=b'Z' => (b - b'A') as u64 + 11,
        b'_' => 37,
        b'a'..=b'z' => (b - b'a') as u64 + 38,
        _ => return None,
    })
}

/// One HLC, or the empty HLC (never written / written as a default), which sorts before all
/// others.
///
/// Stored inline as 16 bytes: the empty HLC is all zeros, which compares below every real HLC
/// because the smallest digit is `-` (0x2D).
///
/// ```
/// use tinystore_core::hlc::Hlc;
/// let earlier = Hlc::parse("NjEtLV-----mmxrx").unwrap();
/// let later = Hlc::parse("NjEtLV----0aaaaa").unwrap();
/// // The counter decides before the client id does.
/// assert!(earlier < later);
/// assert!(Hlc::EMPTY < earlier);
/// assert_eq!(later.to_string(), "NjEtLV----0aaaaa");
/// ```
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Hlc([u8; 16]);

impl Hlc {
    /// The empty HLC `""`.
    pub const EMPTY: Hlc = Hlc([0; 16]);

    /// Parses a 16-digit HLC or `""`; anything else is `None`.
    ///
    /// ```
    /// use tinystore_core::hlc::Hlc;
    /// assert_eq!(Hlc::parse(""), Some(Hlc::EMPTY));
    /// assert!(Hlc::parse("NjEtLV----0mmxrx").is_some());
    /// assert_eq!(Hlc::parse("NjEtLV----0mmxr"), None);
    /// assert_eq!(Hlc::parse("NjEtLV----0mmxr!"), None);
    /// ```
    pub fn parse(s: &str) -> Option<Hlc> {
        if s.is_empty() {
            return Some(Hlc::EMPTY);
        }
        let bytes: [u8; 16] = s.as_bytes().try_into().ok()?;
        bytes
            .iter()
            .all(|b| digit_value(*b).is_some())
            .then_some(Hlc(bytes))
    }

    /// Encodes a time, counter and 5-digit client id (as TinyBase's `encodeHlc`).
    ///
    /// ```
    /// use tinystore_core::hlc::Hlc;
    /// assert_eq!(Hlc::encode(1_700_000_000_000, 5, b"mmxrx").as_str(), "NjEtLV----4mmxrx");
    /// ```
    pub fn encode(time: u64, counter: u64, client_id: &[u8; 5]) -> Hlc {
        let mut out = [0u8; 16];
        for (i, shift) in [36, 30, 24, 18, 12, 6, 0].into_iter().enumerate() {
            out[i] = ALPHABET[((time >> shift) & 63) as usize];
        }
        for (i, shift) in [18, 12, 6, 0].into_iter().enumerate() {
            out[7 + i] = ALPHABET[((counter >> shift) & 63) as usize];
        }
        out[11..].copy_from_slice(client_id);
        Hlc(out)
    }

    /// `(time, counter, client id)`; the empty HLC decodes to `(0, 0, "")`.
    ///
    /// ```
    /// use tinystore_core::hlc::Hlc;
    /// let hlc = Hlc::parse("NjEtLV----0mmxrx").unwrap();
    /// assert_eq!(hlc.decode(), (1_700_000_000_000, 1, "mmxrx"));
    /// assert_eq!(Hlc::EMPTY.decode(), (0, 0, ""));
    /// ```
    pub fn decode(&self) -> (u64, u64, &str) {
        if self.is_empty() {
            return (0, 0, "");
        }
        let digits = |range: std::ops::Range<usize>| {
            self.0[range]
                .iter()
                .fold(0u64, |acc, b| (acc << 6) | digit_value(*b).unwrap_or(0))
        };
        (digits(0..7), digits(7..11), self.client_id())
    }

    /// The logical time in ms.
    ///
    /// ```
    /// use tinystore_core::hlc::Hlc;
    /// assert_eq!(Hlc::encode(1234, 9, b"abcde").time(), 1234);
    /// ```
    pub fn time(&self) -> u64 {
        self.decode().0
    }

    /// The 5-digit client id (empty for the empty HLC).
    ///
    /// ```
    /// use tinystore_core::hlc::Hlc;
    /// assert_eq!(Hlc::encode(1234, 9, b"abcde").client_id(), "abcde");
    /// assert_eq!(Hlc::EMPTY.client_id(), "");
    /// ```
    pub fn client_id(&self) -> &str {
        if self.is_empty() {
            ""
        } else {
            // Only valid digits (ASCII) are ever stored.
            std::str::from_utf8(&self.0[11..]).unwrap_or("")
        }
    }

    /// Whether this is the empty HLC.
    ///
    /// ```
    /// use tinystore_core::hlc::Hlc;
    /// assert!(Hlc::default().is_empty());
    /// assert!(!Hlc::encode(0, 0, b"-----").is_empty());
    /// ```
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.0[0] == 0
    }

    /// The HLC string (`""` when empty).
    ///
    /// ```
    /// use tinystore_core::hlc::Hlc;
    /// assert_eq!(Hlc::EMPTY.as_str(), "");
    /// assert_eq!(Hlc::encode(0, 0, b"-----").as_str(), "----------------");
    /// ```
    #[inline]
    pub fn as_str(&self) -> &str {
        if self.is_empty() {
            ""
        } else {
            std::str::from_utf8(&self.0).unwrap_or("")
        }
    }
}

/// An [`Hlc`] in 13 bytes, for the leaves of a stamp tree: a presence byte (0 for the empty
/// HLC), then the 16 six-bit digit values as one big-endian 96-bit number. Byte order is HLC
/// order, so packed HLCs compare exactly as their strings do.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default, Hash)]
pub(crate) struct PackedHlc([u8; 13]);

impl PackedHlc {
    pub(crate) const EMPTY: PackedHlc = PackedHlc([0; 13]);

    #[inline]
    pub(crate) fn pack(hlc: &Hlc) -> PackedHlc {
        if hlc.is_empty() {
            return PackedHlc::EMPTY;
        }
        // Two halves of 8 digits (48 bits each) in plain u64 arithmetic: merges pack every
        // incoming HLC. Only valid digits are ever stored in an Hlc.
        let half = |digits: &[u8]| {
            digits
                .iter()
                .fold(0u64, |n, b| (n << 6) | DIGIT_VALUES[*b as usize] as u64)
        };
        let (high, low) = (half(&hlc.0[..8]), half(&hlc.0[8..]));
        let mut out = [1u8; 13];
        out[1..7].copy_from_slice(&high.to_be_bytes()[2..]);
        out[7..].copy_from_slice(&low.to_be_bytes()[2..]);
        PackedHlc(out)
    }

    #[inline]
    pub(crate) fn unpack(&self) -> Hlc {
        if self.is_empty() {
            return Hlc::EMPTY;
        }
        let half = |bytes: &[u8]| {
            let mut be = [0u8; 8];
            be[2..].copy_from_slice(bytes);
            u64::from_be_bytes(be)
        };
        let (high, low) = (half(&self.0[1..7]), half(&self.0[7..]));
        let mut out = [0u8; 16];
        let (first, second) = out.split_at_mut(8);
        for (i, (x, y)) in first.iter_mut().zip(second).enumerate() {
            let shift = 6 * (7 - i);
            *x = ALPHABET[((high >> shift) & 63) as usize];
            *y = ALPHABET[((low >> shift) & 63) as usize];
        }
        Hlc(out)
    }

    #[inline]
    pub(crate) fn is_empty(&self) -> bool {
        self.0[0] == 0
    }
}

impl fmt::Debug for PackedHlc {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.unpack(), f)
    }
}

impl fmt::Debug for Hlc {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Hlc({:?})", self.as_str())
    }
}

impl fmt::Display for Hlc {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// TinyBase's `isHlc(hlc, maxTime)`: `""`, or 16 valid digits whose time is at most `max_time`.
///
/// ```
/// use tinystore_core::hlc::is_valid_hlc;
/// assert!(is_valid_hlc("", 0));
/// assert!(is_valid_hlc("NjEtLV-----mmxrx", 1_700_000_000_000));
/// assert!(!is_valid_hlc("NjEtLV-----mmxrx", 1_699_999_999_999));
/// assert!(!is_valid_hlc("not an hlc", u64::MAX));
/// ```
pub fn is_valid_hlc(s: &str, max_time: u64) -> bool {
    Hlc::parse(s).is_some_and(|h| h.is_empty() || h.time() <= max_time)
}

/// The client id a unique id maps to: the low 30 bits of its FNV-1a hash, as 5 digits.
///
/// ```
/// assert_eq!(&tinystore_core::hlc::client_id_of("client1"), b"mmxrx");
/// ```
pub fn client_id_of(unique_id: &str) -> [u8; 5] {
    let h = fnv1a(unique_id.as_bytes());
    let mut out = [0u8; 5];
    for (i, shift) in [24, 18, 12, 6, 0].into_iter().enumerate() {
        out[i] = ALPHABET[((h >> shift) & 63) as usize];
    }
    out
}

fn wall_clock_nanos() -> u128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0)
}

/// Milliseconds since the Unix epoch, the default clock.
///
/// ```
/// use tinystore_core::hlc::{MAX_TIME, wall_clock_ms};
/// let now = wall_clock_ms();
/// // After 2020-01-01, and still representable in an HLC.
/// assert!(now > 1_577_836_800_000 && now <= MAX_TIME);
/// ```
pub fn wall_clock_ms() -> u64 {
    (wall_clock_nanos() / 1_000_000) as u64
}

/// A source of "now" in ms; injectable so tests are deterministic.
pub type GetNow = Box<dyn Fn() -> u64 + Send + Sync>;

struct ClockState {
    last_time: u64,
    /// -1 before the first event of a millisecond.
    last_counter: i64,
}

/// The clock of one MergeableStore: issues strictly increasing HLCs and moves past every remote
/// HLC it has seen.
///
/// ```
/// use tinystore_core::hlc::HlcClock;
/// let clock = HlcClock::new(Some("client1"), Some(Box::new(|| 1_700_000_000_000)));
/// let first = clock.next();
/// // The same millisecond: the counter keeps the HLCs increasing.
/// assert!(clock.next() > first);
/// ```
pub struct HlcClock {
    client_id: [u8; 5],
    get_now: GetNow,
    state: Mutex<ClockState>,
}

impl fmt::Debug for HlcClock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = self.state.lock();
        f.debug_struct("HlcClock")
            .field("client_id", &String::from_utf8_lossy(&self.client_id))
            .field("last_time", &s.last_time)
            .field("last_counter", &s.last_counter)
            .finish()
    }
}

impl HlcClock {
    /// A clock for `unique_id` (random client id if `None`) reading time from `get_now`
    /// (wall clock if `None`).
    ///
    /// ```
    /// use tinystore_core::hlc::{HlcClock, wall_clock_ms};
    /// let fixed = HlcClock::new(Some("client1"), Some(Box::new(|| 42)));
    /// assert_eq!((fixed.client_id(), fixed.now()), ("mmxrx", 42));
    /// let random = HlcClock::new(None, None);
    /// assert_eq!(random.client_id().len(), 5);
    /// assert!(random.now() >= wall_clock_ms() - 1000);
    /// ```
    pub fn new(unique_id: Option<&str>, get_now: Option<GetNow>) -> HlcClock {
        HlcClock {
            client_id: unique_id.map_or_else(crate::js::unique_id_bytes::<5>, client_id_of),
            get_now: get_now.unwrap_or_else(|| Box::new(wall_clock_ms)),
            state: Mutex::new(ClockState {
                last_time: 0,
                last_counter: -1,
            }),
        }
    }

    /// This clock's 5-digit client id.
    ///
    /// ```
    /// use tinystore_core::hlc::{HlcClock, client_id_of};
    /// let clock = HlcClock::new(Some("client1"), None);
    /// assert_eq!(clock.client_id().as_bytes(), &client_id_of("client1"));
    /// assert_eq!(clock.next().client_id(), clock.client_id());
    /// ```
    pub fn client_id(&self) -> &str {
        std::str::from_utf8(&self.client_id).unwrap_or("")
    }

    /// The current time from the clock source.
    ///
    /// ```
    /// use tinystore_core::hlc::HlcClock;
    /// let clock = HlcClock::new(Some("a"), Some(Box::new(|| 1_000)));
    /// assert_eq!(clock.now(), 1_000);
    /// ```
    pub fn now(&self) -> u64 {
        (self.get_now)()
    }

    /// Takes a remote HLC into account (`None` for a local event). HLCs that are invalid or more
    /// than five minutes ahead of now are ignored.
    ///
    /// ```
    /// use tinystore_core::hlc::{Hlc, HlcClock, MAX_FUTURE_OFFSET_MS};
    /// let clock = HlcClock::new(Some("client1"), Some(Box::new(|| 1_700_000_000_000)));
    /// clock.seen(Some(&Hlc::encode(1_700_000_000_000, 7, b"zzzzz")));
    /// // The next local HLC comes after the remote one: same time, counter 8.
    /// assert_eq!(clock.next().decode(), (1_700_000_000_000, 8, "mmxrx"));
    /// let too_far = Hlc::encode(1_700_000_000_000 + MAX_FUTURE_OFFSET_MS + 1, 0, b"zzzzz");
    /// clock.seen(Some(&too_far));
    /// assert_eq!(clock.next().time(), 1_700_000_000_000);
    /// ```
    pub fn seen(&self, remote: Option<&Hlc>) {
        let now = self.now();
        let mut s = self.state.lock();
        Self::seen_locked(&mut s, remote, now);
    }

    fn seen_locked(s: &mut ClockState, remote: Option<&Hlc>, now: u64) {
        let (rt, rc) = match remote {
            Some(h) if !h.is_empty() => {
                let (t, c, _) = h.decode();
                if t > now.saturating_add(MAX_FUTURE_OFFSET_MS) {
                    return;
                }
                (t, c as i64)
            }
            _ => (0, 0),
        };
        let prev = s.last_time;
        s.last_time = prev.max(rt).max(now);
        s.last_counter = if s.last_time == prev {
            if s.last_time == rt {
                s.last_counter.max(rc)
            } else {
                s.last_counter
            }
        } else if s.last_time == rt {
            rc
        } else {
            -1
        };
    }

    /// The next HLC for a local change.
    ///
    /// ```
    /// use tinystore_core::hlc::HlcClock;
    /// let clock = HlcClock::new(Some("client1"), Some(Box::new(|| 1_700_000_000_000)));
    /// assert_eq!(clock.next().as_str(), "NjEtLV-----mmxrx");
    /// assert_eq!(clock.next().as_str(), "NjEtLV----0mmxrx");
    /// ```
    pub fn next(&self) -> Hlc {
        let now = self.now();
        let mut s = self.state.lock();
        Self::seen_locked(&mut s, None, now);
        s.last_counter += 1;
        if s.last_counter as u64 >= COUNTER_LIMIT {
            s.last_time += 1;
            s.last_counter = 0;
        }
        Hlc::encode(s.last_time, s.last_counter as u64, &self.client_id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixed(now: u64) -> Option<GetNow> {
        Some(Box::new(move || now))
    }

    #[test]
    fn encodes_spec_examples() {
        let id = client_id_of("client1");
        assert_eq!(&id, b"mmxrx");
        assert_eq!(
            Hlc::encode(1_700_000_000_000, 0, &id).as_str(),
            "NjEtLV-----mmxrx"
        );
        assert_eq!(
            Hlc::encode(1_700_000_000_000, 5, &id).as_str(),
            "NjEtLV----4mmxrx"
        );
        assert_eq!(
            Hlc::encode(MAX_TIME, COUNTER_LIMIT - 1, &id).as_str(),
            "zzzzzzzzzzzmmxrx"
        );
        let h = Hlc::parse("NjEtLV----0mmxrx").unwrap();
        assert_eq!(h.decode(), (1_700_000_000_000, 1, "mmxrx"));
        assert_eq!(Hlc::parse(""), Some(Hlc::EMPTY));
        assert_eq!(Hlc::parse("NjEtLV----0mmxr"), None);
        assert_eq!(Hlc::parse("NjEtLV----0mmxr!"), None);
        assert!(Hlc::EMPTY < Hlc::parse("----------------").unwrap());
    }

    #[test]
    fn clock_counts_and_overflows() {
        let clock = HlcClock::new(Some("client1"), fixed(1_700_000_000_000));
        assert_eq!(clock.next().as_str(), "NjEtLV-----mmxrx");
        assert_eq!(clock.next().as_str(), "NjEtLV----0mmxrx");
        clock.state.lock().last_counter = COUNTER_LIMIT as i64 - 1;
        let h = clock.next();
        assert_eq!(h.decode(), (1_700_000_000_001, 0, "mmxrx"));
    }

    #[test]
    fn future_remote_is_ignored() {
        let clock = HlcClock::new(Some("a"), fixed(1000));
        let far = Hlc::encode(1000 + MAX_FUTURE_OFFSET_MS + 1, 0, b"zzzzz");
        clock.seen(Some(&far));
        assert_eq!(clock.next().time(), 1000);
        let near = Hlc::encode(1000 + MAX_FUTURE_OFFSET_MS, 7, b"zzzzz");
        clock.seen(Some(&near));
        assert_eq!(clock.next().decode().0, 1000 + MAX_FUTURE_OFFSET_MS);
        assert!(is_valid_hlc(near.as_str(), 1000 + MAX_FUTURE_OFFSET_MS));
        assert!(!is_valid_hlc(far.as_str(), 1000 + MAX_FUTURE_OFFSET_MS));
        assert!(is_valid_hlc("", 0));
    }

    #[test]
    fn packed_hlcs_round_trip_and_keep_order() {
        let mut hlcs = vec![
            Hlc::EMPTY,
            Hlc::parse("----------------").unwrap(),
            Hlc::parse("---------------0").unwrap(),
            Hlc::parse("NjEtLV-----mmxrx").unwrap(),
            Hlc::parse("NjEtLV----0aaaaa").unwrap(),
            Hlc::parse("NjEtLV----0mmxrx").unwrap(),
            Hlc::parse("zzzzzzzzzzzzzzzz").unwrap(),
            Hlc::encode(MAX_TIME, COUNTER_LIMIT - 1, b"-----"),
            Hlc::encode(1, 0, b"zzzzz"),
        ];
        let mut state = 0x9e37_79b9_7f4a_7c15u64;
        for _ in 0..2000 {
            let mut digits = [0u8; 16];
            for d in &mut digits {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                *d = ALPHABET[(state % 64) as usize];
            }
            hlcs.push(Hlc::parse(std::str::from_utf8(&digits).unwrap()).unwrap());
        }
        for a in &hlcs {
            let packed = PackedHlc::pack(a);
            assert_eq!(packed.unpack(), *a);
            assert_eq!(packed.is_empty(), a.is_empty());
            for b in hlcs.iter().take(40) {
                assert_eq!(packed.cmp(&PackedHlc::pack(b)), a.cmp(b), "{a:?} {b:?}");
            }
        }
    }

    #[test]
    fn random_client_ids_differ() {
        let a = HlcClock::new(None, None);
        let b = HlcClock::new(None, None);
        assert_eq!(a.client_id().len(), 5);
        assert_ne!(a.client_id(), b.client_id());
    }
}
