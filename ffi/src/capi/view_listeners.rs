//! What the five view objects share at the ABI edge: their handles (created over a store
//! handle, looked up by kind, freed once), their listener ids, and the one view-event struct
//! every view listener receives.

use super::*;
use tinystore_core::store::IdChanges;
use tinystore_core::views::queries::QueryListenerId;
use tinystore_core::views::{Checkpoints, Indexes, Metrics, Relationships};

/// A view object in the handle registry.
pub(crate) trait ViewObject: Clone + Sized {
    /// "indexes", "queries", … (argument names and messages).
    const NAME: &'static str;
    fn create(store: &Store) -> Self;
    fn pick(object: &Object) -> Option<&Self>;
    fn wrap(self) -> Object;
}

macro_rules! view_objects {
    ($($ty:ident, $variant:ident, $name:literal, $create:expr;)*) => {$(
        impl ViewObject for $ty {
            const NAME: &'static str = $name;
            fn create(store: &Store) -> Self {
                $create(store)
            }
            fn pick(object: &Object) -> Option<&Self> {
                match object {
                    Object::$variant(v) => Some(v),
                    _ => None,
                }
            }
            fn wrap(self) -> Object {
                Object::$variant(self)
            }
        }
    )*};
}

view_objects! {
    Indexes, Indexes, "indexes", Indexes::new;
    Relationships, Relationships, "relationships", Relationships::new;
    Metrics, Metrics, "metrics", Metrics::new;
    Queries, Queries, "queries", tinystore_core::create_queries;
    Checkpoints, Checkpoints, "checkpoints", Checkpoints::new;
}

/// Creates a view over a store handle (a plain store or a MergeableStore) into `*out`.
pub(crate) fn view_new<V: ViewObject, H>(store: *mut tinystore_store_t, out: *mut *mut H) -> R<()> {
    let out = Out::new(out, "out")?;
    let view = with_store(store, |s| Ok(V::create(&s.store)))?;
    out.set(register(view.wrap()) as *mut H);
    Ok(())
}

/// Runs `f` on the view a handle stands for (an error for NULL, unknown, freed or other
/// handles).
pub(crate) fn with_view<V: ViewObject, H, T>(handle: *mut H, f: impl FnOnce(&V) -> R<T>) -> R<T> {
    let object = lookup(handle as usize, V::NAME)?;
    let view = V::pick(&object).ok_or_else(|| wrong_kind(V::NAME, V::NAME, &object))?;
    f(view)
}

/// Runs a view method whose result (the view itself, for chaining) C does not need.
pub(crate) fn view_do<V: ViewObject, H>(handle: *mut H, f: impl FnOnce(&V)) -> R<()> {
    with_view(handle, |v| {
        f(v);
        Ok(())
    })
}

/// Frees a view handle. Dropping the view's last reference (at once, or when calls running
/// on other threads return) removes its definitions and store listeners without calling its
/// listeners, unlike TinyBase's `destroy`, which calls the id listeners once per definition:
/// a C program may have released their `user_data` already.
pub(crate) fn view_free<V: ViewObject, H>(handle: *mut H) -> R<()> {
    unregister(handle as usize, V::NAME, V::NAME, |o| V::pick(o).is_some())?;
    Ok(())
}

/// A query listener id as one number: param listeners have bit 32 set.
pub(crate) fn query_listener_id(id: QueryListenerId) -> u64 {
    match id {
        QueryListenerId::Result(n) => u64::from(n),
        QueryListenerId::Param(n) => (1 << 32) | u64::from(n),
    }
}

pub(crate) fn from_query_listener_id(id: u64) -> R<QueryListenerId> {
    let n = u32::try_from(id & 0xffff_ffff).unwrap_or_default();
    match id >> 32 {
        0 => Ok(QueryListenerId::Result(n)),
        1 => Ok(QueryListenerId::Param(n)),
        _ => Err(err(
            ErrorKind::NotFound,
            format!("no queries listener {id}"),
        )),
    }
}

pub(crate) fn view_listener_id(id: u64) -> R<ListenerId> {
    u32::try_from(id)
        .map(ListenerId)
        .map_err(|_| err(ErrorKind::NotFound, format!("no listener {id}")))
}

/// Sets `*out_id` to the id `add` gives a listener.
pub(crate) fn listener_out<V: ViewObject, H>(
    handle: *mut H,
    out_id: *mut tinystore_listener_id_t,
    add: impl FnOnce(&V) -> R<u64>,
) -> R<()> {
    let out = Out::new(out_id, "out_id")?;
    let id = with_view(handle, add)?;
    out.set(id);
    Ok(())
}

/// Sets `*out_json` to a view's listener stats as a JSON object.
pub(crate) fn stats_out<V: ViewObject, H>(
    handle: *mut H,
    out_json: *mut *mut c_char,
    stats: impl FnOnce(&V) -> Vec<(&'static str, usize)>,
) -> R<()> {
    string_out(out_json, || {
        with_view(handle, |v: &V| {
            let map: serde_json::Map<String, Json> = stats(v)
                .into_iter()
                .map(|(k, n)| (k.to_string(), Json::from(n)))
                .collect();
            Ok(Json::Object(map).to_string())
        })
    })
}

/// An event before conversion.
#[derive(Default)]
pub(crate) struct ViewEvent<'a> {
    pub(crate) id: Option<&'a str>,
    pub(crate) sub_id: Option<&'a str>,
    pub(crate) cell_id: Option<&'a str>,
    pub(crate) flag: bool,
    pub(crate) count: usize,
    pub(crate) new: Option<&'a Cell>,
    pub(crate) old: Option<&'a Cell>,
    pub(crate) id_changes: Option<&'a IdChanges>,
    pub(crate) ids: &'a [String],
    pub(crate) json: Option<String>,
}

impl<'a> ViewEvent<'a> {
    /// An event about `id` (and `sub_id`), with a flag.
    pub(crate) fn of(id: &'a str, sub_id: Option<&'a str>, flag: bool) -> ViewEvent<'a> {
        ViewEvent {
            id: Some(id),
            sub_id,
            flag,
            ..Default::default()
        }
    }
}

/// A C view listener as a Rust closure's captures (see `CListener` for the user data rule).
#[derive(Clone, Copy)]
pub(crate) struct ViewListener {
    f: unsafe extern "C" fn(*mut c_void, *const tinystore_view_event_t),
    user_data: usize,
}

impl ViewListener {
    pub(crate) fn new(f: tinystore_view_listener_fn_t, user_data: *mut c_void) -> R<Self> {
        let f = f.ok_or_else(|| err(ErrorKind::NullArgument, "listener is NULL"))?;
        Ok(ViewListener {
            f,
            user_data: user_data as usize,
        })
    }

    pub(crate) fn fire(&self, kind: tinystore_view_event_kind_t, ev: ViewEvent<'_>) {
        let c = |s: Option<&str>| s.map(to_cstring);
        let p = |s: &Option<CString>| s.as_ref().map_or(ptr::null(), |s| s.as_ptr());
        let (id, sub_id, cell_id) = (c(ev.id), c(ev.sub_id), c(ev.cell_id));
        let json = ev.json.as_deref().map(to_cstring);
        let changes = c_id_changes(ev.id_changes.unwrap_or(&[]));
        let ids = c_ids(ev.ids);
        let mut keep = Vec::new();
        let event = tinystore_view_event_t {
            kind,
            id: p(&id),
            sub_id: p(&sub_id),
            cell_id: p(&cell_id),
            flag: ev.flag,
            count: ev.count,
            new_cell: cell_view(ev.new, &mut keep),
            old_cell: cell_view(ev.old, &mut keep),
            id_changes: slice_ptr(&changes.items),
            id_changes_len: changes.items.len(),
            ids: slice_ptr(&ids.items),
            ids_len: ids.items.len(),
            json: p(&json),
        };
        // SAFETY: the registered callback with its user data; `event` lives until it returns.
        unsafe { (self.f)(self.user_data as *mut c_void, &event) }
    }
}

// ---------------------------------------------------------------------------- getters

/// `*out` = a list a view getter returns.
pub(crate) fn view_ids<V: ViewObject, H>(
    handle: *mut H,
    out: *mut tinystore_string_list_t,
    get: impl FnOnce(&V) -> R<Vec<String>>,
) -> R<()> {
    ids_out(out, || with_view(handle, get))
}

/// `*out` = a value a view getter returns.
pub(crate) fn view_value<V: ViewObject, H, T>(
    handle: *mut H,
    out: *mut T,
    get: impl FnOnce(&V) -> R<T>,
) -> R<()> {
    let out = Out::new(out, "out")?;
    out.set(with_view(handle, get)?);
    Ok(())
}

/// `*out` = a `malloc`ed string, or NULL for none.
pub(crate) fn view_opt_string<V: ViewObject, H>(
    handle: *mut H,
    out: *mut *mut c_char,
    get: impl FnOnce(&V) -> R<Option<String>>,
) -> R<()> {
    view_value(handle, out, |v| {
        Ok(get(v)?.map_or(ptr::null_mut(), |s| alloc_str(&s)))
    })
}

/// A definition's source: the callback when given, else the cell id, else none.
pub(crate) unsafe fn source<T>(
    cell_id: *const c_char,
    name: &str,
    f: tinystore_row_fn_t,
    user_data: *mut c_void,
    what: &'static str,
    func: impl FnOnce(RowCallback) -> tinystore_core::views::Source<T>,
) -> R<Option<tinystore_core::views::Source<T>>> {
    if f.is_some() {
        return Ok(Some(func(RowCallback::new(f, user_data, what)?)));
    }
    let cell_id = unsafe { opt_str_arg(cell_id, name)? };
    Ok(cell_id.map(tinystore_core::views::Source::cell))
}

/// The two optional ids of a view listener.
pub(crate) unsafe fn listener_ids<'a>(
    a: *const c_char,
    b: *const c_char,
) -> R<(Option<&'a str>, Option<&'a str>)> {
    unsafe { Ok((opt_str_arg(a, "id")?, opt_str_arg(b, "sub_id")?)) }
}

pub(crate) fn bad_kind(kind: tinystore_view_event_kind_t, object: &str) -> Error {
    err(
        ErrorKind::InvalidArgument,
        format!("{kind:?} is not a listener kind of {object}"),
    )
}
