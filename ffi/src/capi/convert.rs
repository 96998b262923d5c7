//! Memory handed to C (`malloc`ed strings and lists) and the arguments C hands in (strings,
//! JSON, cells, out-parameters).

use super::*;

// ============================================================================ memory

unsafe extern "C" {
    pub(crate) fn malloc(size: usize) -> *mut c_void;
    pub(crate) fn free(ptr: *mut c_void);
}

/// A `malloc`ed, NUL-terminated copy of `bytes` (freed by `tinystore_string_free`).
pub(crate) fn alloc_bytes(bytes: &[u8]) -> *mut c_char {
    // SAFETY: malloc of len + 1 bytes; the copy and the terminator stay inside them.
    unsafe {
        let p = malloc(bytes.len() + 1).cast::<u8>();
        if p.is_null() {
            panic!("out of memory ({} bytes)", bytes.len() + 1);
        }
        ptr::copy_nonoverlapping(bytes.as_ptr(), p, bytes.len());
        *p.add(bytes.len()) = 0;
        p.cast::<c_char>()
    }
}

pub(crate) fn alloc_str(s: &str) -> *mut c_char {
    alloc_bytes(s.as_bytes())
}

/// A C string for `s`, cut at its first NUL (ids given to C as plain `char *`).
pub(crate) fn to_cstring(s: &str) -> CString {
    let bytes = s.as_bytes();
    let end = bytes.iter().position(|&b| b == 0).unwrap_or(bytes.len());
    CString::new(&bytes[..end]).unwrap_or_default()
}

pub(crate) fn string_list(items: &[String]) -> tinystore_string_list_t {
    if items.is_empty() {
        return tinystore_string_list_t {
            items: ptr::null_mut(),
            len: 0,
        };
    }
    // SAFETY: an array of `len` pointers, each filled below.
    unsafe {
        let array = malloc(items.len() * size_of::<*mut c_char>()).cast::<*mut c_char>();
        if array.is_null() {
            panic!("out of memory ({} strings)", items.len());
        }
        for (i, item) in items.iter().enumerate() {
            *array.add(i) = alloc_str(item);
        }
        tinystore_string_list_t {
            items: array,
            len: items.len(),
        }
    }
}

// ============================================================================ arguments

/// A required string argument.
pub(crate) unsafe fn str_arg<'a>(p: *const c_char, name: &str) -> R<&'a str> {
    if p.is_null() {
        return Err(err(ErrorKind::NullArgument, format!("{name} is NULL")));
    }
    // SAFETY: the caller passes a NUL-terminated string, live during the call.
    let bytes = unsafe { CStr::from_ptr(p) }.to_bytes();
    std::str::from_utf8(bytes).map_err(|e| {
        err(
            ErrorKind::InvalidUtf8,
            format!("{name} is not valid UTF-8 ({e})"),
        )
    })
}

/// An optional string argument (NULL: none, e.g. a wildcard id).
pub(crate) unsafe fn opt_str_arg<'a>(p: *const c_char, name: &str) -> R<Option<&'a str>> {
    if p.is_null() {
        Ok(None)
    } else {
        // SAFETY: as for `str_arg`.
        unsafe { str_arg(p, name) }.map(Some)
    }
}

/// A JSON argument, parsed with JavaScript's `JSON.parse` rules.
pub(crate) unsafe fn json_arg(p: *const c_char, name: &str) -> R<Json> {
    // SAFETY: as for `str_arg`.
    let text = unsafe { str_arg(p, name) }?;
    Ok(content::parse_json(text)?)
}

/// An out-parameter, checked for NULL before anything is done; written only on success.
pub(crate) struct Out<T>(*mut T);

impl<T> Out<T> {
    pub(crate) fn new(p: *mut T, name: &str) -> R<Out<T>> {
        if p.is_null() {
            Err(err(ErrorKind::NullArgument, format!("{name} is NULL")))
        } else {
            Ok(Out(p))
        }
    }

    pub(crate) fn set(self, value: T) {
        // SAFETY: checked non-NULL; the caller provides writable storage for a T.
        unsafe { ptr::write(self.0, value) }
    }
}

pub(crate) unsafe fn cell_text<'a>(raw: &RawCell, name: &str) -> R<&'a str> {
    if raw.string.is_null() {
        if raw.string_len == 0 {
            return Ok("");
        }
        return Err(err(
            ErrorKind::NullArgument,
            format!("{name}.string is NULL"),
        ));
    }
    // SAFETY: the caller passes `string_len` readable bytes.
    let bytes = unsafe { std::slice::from_raw_parts(raw.string.cast::<u8>(), raw.string_len) };
    std::str::from_utf8(bytes).map_err(|e| {
        err(
            ErrorKind::InvalidUtf8,
            format!("{name}.string is not valid UTF-8 ({e})"),
        )
    })
}

/// A cell argument.
pub(crate) unsafe fn cell_arg(p: *const tinystore_cell_t, name: &str) -> R<Cell> {
    if p.is_null() {
        return Err(err(ErrorKind::NullArgument, format!("{name} is NULL")));
    }
    // SAFETY: same layout (checked at compile time); every bit pattern is a valid RawCell.
    let raw = unsafe { ptr::read(p.cast::<RawCell>()) };
    Ok(match raw.kind {
        1 => Cell::String(unsafe { cell_text(&raw, name) }?.into()),
        2 => Cell::Number(raw.number),
        3 => Cell::Boolean(raw.boolean != 0),
        4 => Cell::Null,
        5 => {
            let text = unsafe { cell_text(&raw, name) }?;
            let value = content::parse_json(text)?;
            if !(value.is_object() || value.is_array()) {
                return Err(err(
                    ErrorKind::InvalidArgument,
                    format!("{name}: a JSON cell holds an object or an array, not {text}"),
                ));
            }
            Cell::from_json(value)
        }
        0 => {
            return Err(err(
                ErrorKind::InvalidArgument,
                format!("{name} has type NONE, which cannot be written"),
            ));
        }
        other => {
            return Err(err(
                ErrorKind::InvalidArgument,
                format!("{name} has an unknown cell type {other}"),
            ));
        }
    })
}

pub(crate) fn empty_cell() -> tinystore_cell_t {
    tinystore_cell_t {
        r#type: tinystore_cell_type_t::TINYSTORE_CELL_TYPE_NONE,
        boolean: false,
        owned: false,
        number: 0.0,
        string: ptr::null(),
        string_len: 0,
    }
}

/// A cell's type, scalar fields and (for strings, objects, arrays) text.
pub(crate) fn cell_parts(cell: Option<&Cell>) -> (tinystore_cell_t, Option<&str>) {
    use tinystore_cell_type_t as T;
    let mut out = empty_cell();
    let mut text = None;
    match cell {
        None => {}
        Some(Cell::Null) => out.r#type = T::TINYSTORE_CELL_TYPE_NULL,
        Some(Cell::Boolean(b)) => {
            out.r#type = T::TINYSTORE_CELL_TYPE_BOOLEAN;
            out.boolean = *b;
        }
        Some(Cell::Number(n)) => {
            out.r#type = T::TINYSTORE_CELL_TYPE_NUMBER;
            out.number = *n;
        }
        Some(Cell::String(s)) => {
            out.r#type = T::TINYSTORE_CELL_TYPE_STRING;
            text = Some(s.as_str());
        }
        Some(Cell::Object(s) | Cell::Array(s)) => {
            out.r#type = T::TINYSTORE_CELL_TYPE_JSON;
            text = Some(s.as_str());
        }
    }
    (out, text)
}

/// An owned cell for an out-parameter.
pub(crate) fn cell_owned(cell: Option<&Cell>) -> tinystore_cell_t {
    let (mut out, text) = cell_parts(cell);
    if let Some(text) = text {
        out.string = alloc_str(text);
        out.string_len = text.len();
        out.owned = true;
    }
    out
}

/// A borrowed cell for a listener: its text lives in `keep` until the callback returns.
pub(crate) fn cell_view(cell: Option<&Cell>, keep: &mut Vec<Vec<u8>>) -> tinystore_cell_t {
    let (mut out, text) = cell_parts(cell);
    if let Some(text) = text {
        let mut bytes = Vec::with_capacity(text.len() + 1);
        bytes.extend_from_slice(text.as_bytes());
        bytes.push(0);
        out.string = bytes.as_ptr().cast::<c_char>();
        out.string_len = text.len();
        keep.push(bytes);
    }
    out
}

/// A C array pointer: NULL for an empty slice.
pub(crate) fn slice_ptr<T>(items: &[T]) -> *const T {
    if items.is_empty() {
        ptr::null()
    } else {
        items.as_ptr()
    }
}

/// Ids as C strings for an event: `items` points into `_strings`, so both live together.
pub(crate) struct CIds {
    _strings: Vec<CString>,
    pub(crate) items: Vec<*const c_char>,
}

pub(crate) fn c_ids<S: AsRef<str>>(ids: &[S]) -> CIds {
    let strings: Vec<CString> = ids.iter().map(|id| to_cstring(id.as_ref())).collect();
    let items = strings.iter().map(|id| id.as_ptr()).collect();
    CIds {
        _strings: strings,
        items,
    }
}

/// Added (+1) and removed (-1) ids for an event, as [`CIds`].
pub(crate) struct CIdChanges {
    _ids: CIds,
    pub(crate) items: Vec<tinystore_id_change_t>,
}

pub(crate) fn c_id_changes<S: AsRef<str>>(changes: &[(S, i8)]) -> CIdChanges {
    let ids = c_ids(
        &changes
            .iter()
            .map(|(id, _)| id.as_ref())
            .collect::<Vec<_>>(),
    );
    let items = ids
        .items
        .iter()
        .zip(changes)
        .map(|(id, (_, change))| tinystore_id_change_t {
            id: *id,
            change: i32::from(*change),
        })
        .collect();
    CIdChanges { _ids: ids, items }
}
