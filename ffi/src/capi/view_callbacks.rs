//! The C callbacks of view definitions as Rust closures: the borrowed reader, result and
//! builder pointers they are given (checked against the calls in progress on the thread, so a
//! stale pointer is an error, not a dangling access), and the failure rule: a callback that
//! returns false raises [`CallbackFailure`], which the core carries to the writer.

use super::*;
use tinystore_core::views::GetCell;
use tinystore_core::views::queries::{RowCells, TableCells};

thread_local! {
    /// The addresses of the readers, results and builders lent to C callbacks running now.
    static LENT: RefCell<Vec<usize>> = const { RefCell::new(Vec::new()) };
    /// The message a failing callback left with `tinystore_callback_set_error`.
    static CALLBACK_ERROR: RefCell<Option<String>> = const { RefCell::new(None) };
}

/// Removes a lent address when the call ends, unwinding included.
struct Lend(usize);

impl Lend {
    fn new<T>(p: *const T) -> Lend {
        LENT.with(|l| l.borrow_mut().push(p as usize));
        Lend(p as usize)
    }
}

impl Drop for Lend {
    fn drop(&mut self) {
        let _ = LENT.try_with(|l| {
            let mut l = l.borrow_mut();
            if let Some(i) = l.iter().rposition(|&p| p == self.0) {
                l.remove(i);
            }
        });
    }
}

/// A pointer C gives back: valid only while its callback runs on this thread.
pub(crate) fn lent<'a, T>(p: *const T, name: &str) -> R<&'a T> {
    let p = lent_ptr(p.cast_mut(), name)?;
    // SAFETY: the address is that of a live value lent for the running callback.
    Ok(unsafe { &*p })
}

/// [`lent`] for the results a callback writes (lent as a unique pointer).
pub(crate) fn lent_ptr<T>(p: *mut T, name: &str) -> R<*mut T> {
    if p.is_null() {
        return Err(err(ErrorKind::NullArgument, format!("{name} is NULL")));
    }
    if !LENT.with(|l| l.borrow().contains(&(p as usize))) {
        return Err(err(
            ErrorKind::InvalidHandle,
            format!("{name} is not lent to a callback running on this thread"),
        ));
    }
    Ok(p)
}

/// What a callback reads.
pub(crate) enum Reader<'a> {
    Row(&'a GetCell<'a>),
    Table(&'a TableCells<'a>),
    Cells(&'a RowCells<'a>),
}

impl Reader<'_> {
    pub(crate) fn cell(&self, cell_id: &str) -> Option<Cell> {
        match self {
            Reader::Row(get) => get(cell_id),
            Reader::Table(cells) => cells.cell(cell_id),
            Reader::Cells(cells) => cells.get(cell_id),
        }
    }

    pub(crate) fn joined(&self, id: &str, is_query: bool, cell_id: &str) -> R<Option<Cell>> {
        match self {
            Reader::Table(cells) if is_query => Ok(cells.query(id, cell_id)),
            Reader::Table(cells) => Ok(cells.joined(id, cell_id)),
            _ => Err(err(
                ErrorKind::InvalidArgument,
                "joined cells can be read only in a calculated select or a where callback",
            )),
        }
    }
}

/// What a callback answered.
#[derive(Default)]
pub(crate) struct Answer {
    pub(crate) cell: Option<Cell>,
    pub(crate) ids: Vec<String>,
}

impl Answer {
    fn string(self) -> Option<String> {
        match self.cell {
            Some(Cell::String(s)) => Some(s.to_string()),
            _ => None,
        }
    }

    fn truthy(&self) -> bool {
        matches!(self.cell, Some(Cell::Boolean(true)))
    }

    fn ordering(&self) -> std::cmp::Ordering {
        match self.cell {
            Some(Cell::Number(n)) if n < 0.0 => std::cmp::Ordering::Less,
            Some(Cell::Number(n)) if n > 0.0 => std::cmp::Ordering::Greater,
            _ => std::cmp::Ordering::Equal,
        }
    }
}

/// Runs a C callback with a fresh result: its answer, or when it returns false the message it
/// left with `tinystore_callback_set_error` (else one naming `what`).
pub(crate) fn try_answer(
    what: &str,
    call: impl FnOnce(*mut tinystore_callback_result_t) -> bool,
) -> Result<Answer, String> {
    let mut answer = Answer::default();
    let p: *mut Answer = &mut answer;
    let ok = {
        let _lend = Lend::new(p);
        CALLBACK_ERROR.with(|e| e.borrow_mut().take());
        call(p.cast())
    };
    if ok {
        Ok(answer)
    } else {
        Err(failure_message(what))
    }
}

/// The message a callback left with `tinystore_callback_set_error`, if any.
pub(crate) fn take_failure_message() -> Option<String> {
    CALLBACK_ERROR.with(|e| e.borrow_mut().take())
}

/// The message of a callback that just returned false.
pub(crate) fn failure_message(what: &str) -> String {
    take_failure_message().unwrap_or_else(|| format!("the {what} callback reported a failure"))
}

/// Forgets a message left by an earlier callback, before calling the next one.
pub(crate) fn clear_failure_message() {
    CALLBACK_ERROR.with(|e| e.borrow_mut().take());
}

/// Runs a C callback with a fresh result; false (failure) raises [`CallbackFailure`].
fn answer(what: &str, call: impl FnOnce(*mut tinystore_callback_result_t) -> bool) -> Answer {
    try_answer(what, call).unwrap_or_else(|message| CallbackFailure::raise(message))
}

/// A C row callback with its user data (kept as an integer: the caller vouches that it may be
/// used from the threads the store is written on).
#[derive(Clone, Copy)]
pub(crate) struct RowCallback {
    f: unsafe extern "C" fn(
        *mut c_void,
        *const tinystore_row_reader_t,
        *const c_char,
        *mut tinystore_callback_result_t,
    ) -> bool,
    user_data: usize,
    what: &'static str,
}

impl RowCallback {
    pub(crate) fn new(
        f: tinystore_row_fn_t,
        user_data: *mut c_void,
        what: &'static str,
    ) -> R<Self> {
        let f = f.ok_or_else(|| err(ErrorKind::NullArgument, format!("{what} is NULL")))?;
        Ok(RowCallback {
            f,
            user_data: user_data as usize,
            what,
        })
    }

    pub(crate) fn call(&self, reader: Reader<'_>, row_id: Option<&str>) -> Answer {
        let row_id = row_id.map(to_cstring);
        let reader_p: *const Reader<'_> = &reader;
        let _lend = Lend::new(reader_p);
        answer(self.what, |result| {
            // SAFETY: the registered callback; the pointers live until it returns.
            unsafe {
                (self.f)(
                    self.user_data as *mut c_void,
                    reader_p.cast(),
                    row_id.as_ref().map_or(ptr::null(), |r| r.as_ptr()),
                    result,
                )
            }
        })
    }

    pub(crate) fn slice_ids(self) -> impl Fn(&GetCell<'_>, &str) -> Vec<String> + Send + Sync {
        move |get, row| {
            let mut a = self.call(Reader::Row(get), Some(row));
            let mut ids = std::mem::take(&mut a.ids);
            ids.extend(a.string());
            ids
        }
    }

    pub(crate) fn cell(self) -> impl Fn(&GetCell<'_>, &str) -> Option<Cell> + Send + Sync {
        move |get, row| self.call(Reader::Row(get), Some(row)).cell
    }

    pub(crate) fn id(self) -> impl Fn(&GetCell<'_>, &str) -> Option<String> + Send + Sync {
        move |get, row| self.call(Reader::Row(get), Some(row)).string()
    }

    pub(crate) fn select(self) -> impl Fn(&TableCells<'_>, &str) -> Option<Cell> + Send + Sync {
        move |cells, row| self.call(Reader::Table(cells), Some(row)).cell
    }

    pub(crate) fn join(self) -> impl Fn(&RowCells<'_>, &str) -> Option<String> + Send + Sync {
        move |cells, row| self.call(Reader::Cells(cells), Some(row)).string()
    }

    pub(crate) fn where_(self) -> impl Fn(&TableCells<'_>) -> bool + Send + Sync {
        move |cells| self.call(Reader::Table(cells), None).truthy()
    }

    pub(crate) fn having(self) -> impl Fn(&RowCells<'_>) -> bool + Send + Sync {
        move |cells| self.call(Reader::Cells(cells), None).truthy()
    }
}

/// Calls a C function over borrowed views of some cells.
fn with_cells<T>(cells: &[Option<&Cell>], f: impl FnOnce(&[tinystore_cell_t]) -> T) -> T {
    let mut keep = Vec::new();
    let views: Vec<tinystore_cell_t> = cells.iter().map(|c| cell_view(*c, &mut keep)).collect();
    f(&views)
}

/// A C sorter with its user data.
#[derive(Clone, Copy)]
pub(crate) struct SorterCallback {
    f: unsafe extern "C" fn(
        *mut c_void,
        *const tinystore_cell_t,
        *const tinystore_cell_t,
        *const c_char,
        *mut tinystore_callback_result_t,
    ) -> bool,
    user_data: usize,
}

impl SorterCallback {
    pub(crate) fn new(f: tinystore_sorter_fn_t, user_data: *mut c_void) -> Option<Self> {
        f.map(|f| SorterCallback {
            f,
            user_data: user_data as usize,
        })
    }

    fn compare(
        &self,
        a: Option<&Cell>,
        b: Option<&Cell>,
        slice: Option<&str>,
    ) -> std::cmp::Ordering {
        let slice = slice.map(to_cstring);
        with_cells(&[a, b], |cells| {
            answer("sorter", |result| {
                // SAFETY: the registered callback; the pointers live until it returns.
                unsafe {
                    (self.f)(
                        self.user_data as *mut c_void,
                        &cells[0],
                        &cells[1],
                        slice.as_ref().map_or(ptr::null(), |s| s.as_ptr()),
                        result,
                    )
                }
            })
            .ordering()
        })
    }

    pub(crate) fn slice_sorter(self) -> tinystore_core::views::SliceIdSorter {
        Arc::new(move |a, b| {
            let (a, b) = (Cell::String(a.into()), Cell::String(b.into()));
            self.compare(Some(&a), Some(&b), None)
        })
    }

    pub(crate) fn row_sorter(self) -> tinystore_core::views::RowIdSorter {
        Arc::new(move |a, b, slice| self.compare(a, b, Some(slice)))
    }
}

/// A C custom aggregate with its user data.
#[derive(Clone, Copy)]
pub(crate) struct AggregateCallbacks(tinystore_aggregate_t);

// SAFETY: the caller vouches that its functions and user data may be used from any thread the
// store is written on (the header's contract for every callback).
unsafe impl Send for AggregateCallbacks {}
unsafe impl Sync for AggregateCallbacks {}

type StepFn = unsafe extern "C" fn(
    *mut c_void,
    *const tinystore_cell_t,
    *const tinystore_cell_t,
    *const tinystore_cell_t,
    usize,
    *mut tinystore_callback_result_t,
) -> bool;

impl AggregateCallbacks {
    pub(crate) unsafe fn new(p: *const tinystore_aggregate_t) -> R<Self> {
        // SAFETY: the caller passes NULL or a readable aggregate.
        let a = unsafe { p.as_ref() }
            .ok_or_else(|| err(ErrorKind::NullArgument, "aggregate is NULL"))?;
        if a.aggregate.is_none() {
            return Err(err(ErrorKind::NullArgument, "aggregate->aggregate is NULL"));
        }
        Ok(AggregateCallbacks(*a))
    }

    pub(crate) fn full(&self, values: &[Cell]) -> Option<Cell> {
        let f = self.0.aggregate.expect("checked in new");
        let refs: Vec<Option<&Cell>> = values.iter().map(Some).collect();
        with_cells(&refs, |cells| {
            answer("aggregate", |result| {
                // SAFETY: the registered callback; the cells live until it returns.
                unsafe { f(self.0.user_data, slice_ptr(cells), cells.len(), result) }
            })
            .cell
        })
    }

    fn step(f: StepFn, ud: *mut c_void, cells: [Option<&Cell>; 3], len: usize) -> Option<Cell> {
        with_cells(&cells, |views| {
            let p = |i: usize| {
                if cells[i].is_some() {
                    &views[i] as *const _
                } else {
                    ptr::null()
                }
            };
            answer("aggregate step", |result| {
                // SAFETY: the registered callback; the cells live until it returns.
                unsafe { f(ud, p(0), p(1), p(2), len, result) }
            })
            .cell
        })
    }

    /// The hooks for queries: `(add, remove, replace)`.
    pub(crate) fn query(self) -> tinystore_core::views::queries::CustomAggregate {
        let mut custom =
            tinystore_core::views::queries::CustomAggregate::new(move |v, _| self.full(v));
        let ud = self.0.user_data as usize;
        if let Some(f) = self.0.add {
            custom = custom.with_add(move |cur, add, len| {
                Self::step(f, ud as *mut c_void, [Some(cur), Some(add), None], len)
            });
        }
        if let Some(f) = self.0.remove {
            custom = custom.with_remove(move |cur, rem, len| {
                Self::step(f, ud as *mut c_void, [Some(cur), None, Some(rem)], len)
            });
        }
        if let Some(f) = self.0.replace {
            custom = custom.with_replace(move |cur, add, rem, len| {
                Self::step(f, ud as *mut c_void, [Some(cur), Some(add), Some(rem)], len)
            });
        }
        custom
    }

    /// The hooks for metrics (numbers).
    pub(crate) fn metric(self) -> tinystore_core::views::CustomAggregate {
        let n = |x: f64| Cell::Number(x);
        let num = |c: Option<Cell>| match c {
            Some(Cell::Number(x)) => Some(x),
            _ => None,
        };
        let mut custom = tinystore_core::views::CustomAggregate::new(move |v, _| {
            num(self.full(&v.iter().map(|x| n(*x)).collect::<Vec<_>>()))
        });
        let ud = self.0.user_data as usize;
        if let Some(f) = self.0.add {
            custom.add = Some(Arc::new(move |cur, add, len| {
                num(Self::step(
                    f,
                    ud as *mut c_void,
                    [Some(&n(cur)), Some(&n(add)), None],
                    len,
                ))
            }));
        }
        if let Some(f) = self.0.remove {
            custom.remove = Some(Arc::new(move |cur, rem, len| {
                num(Self::step(
                    f,
                    ud as *mut c_void,
                    [Some(&n(cur)), None, Some(&n(rem))],
                    len,
                ))
            }));
        }
        if let Some(f) = self.0.replace {
            custom.replace = Some(Arc::new(move |cur, add, rem, len| {
                let cells = [Some(&n(cur)), Some(&n(add)), Some(&n(rem))];
                num(Self::step(f, ud as *mut c_void, cells, len))
            }));
        }
        custom
    }
}

/// A C cell-id mapper with its user data.
#[derive(Clone, Copy)]
pub(crate) struct MapIdCallback {
    f: unsafe extern "C" fn(*mut c_void, *const c_char, *mut tinystore_callback_result_t) -> bool,
    user_data: usize,
}

impl MapIdCallback {
    pub(crate) fn new(f: tinystore_map_id_fn_t, user_data: *mut c_void) -> R<Self> {
        let f = f.ok_or_else(|| err(ErrorKind::NullArgument, "mapper is NULL"))?;
        Ok(MapIdCallback {
            f,
            user_data: user_data as usize,
        })
    }

    pub(crate) fn map(&self, id: &str) -> String {
        let c_id = to_cstring(id);
        answer("cell id mapper", |result| {
            // SAFETY: the registered callback; the id lives until it returns.
            unsafe { (self.f)(self.user_data as *mut c_void, c_id.as_ptr(), result) }
        })
        .string()
        .unwrap_or_else(|| id.to_string())
    }
}

/// Runs a query's C build callback over the builder.
#[derive(Clone, Copy)]
pub(crate) struct BuildCallback {
    f: unsafe extern "C" fn(*mut c_void, *mut tinystore_query_builder_t) -> bool,
    user_data: usize,
}

impl BuildCallback {
    pub(crate) fn new(f: tinystore_query_build_fn_t, user_data: *mut c_void) -> R<Self> {
        let f = f.ok_or_else(|| err(ErrorKind::NullArgument, "build is NULL"))?;
        Ok(BuildCallback {
            f,
            user_data: user_data as usize,
        })
    }

    pub(crate) fn run(&self, builder: &tinystore_core::views::queries::QueryBuilder) {
        let p: *const tinystore_core::views::queries::QueryBuilder = builder;
        let _lend = Lend::new(p);
        CALLBACK_ERROR.with(|e| e.borrow_mut().take());
        // SAFETY: the registered callback; the builder lives until it returns.
        let ok = unsafe { (self.f)(self.user_data as *mut c_void, p.cast_mut().cast()) };
        if !ok {
            let message = CALLBACK_ERROR
                .with(|e| e.borrow_mut().take())
                .unwrap_or_else(|| "the query build callback reported a failure".to_string());
            CallbackFailure::raise(message);
        }
    }
}

// ---------------------------------------------------------------------------- entry points

/// Reads cell `cell_id` of the row a definition callback is evaluating into `*out` (NONE when
/// missing; free it with `tinystore_cell_free`). Only inside that callback.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tinystore_row_reader_get_cell(
    row: *const tinystore_row_reader_t,
    cell_id: *const c_char,
    out: *mut tinystore_cell_t,
) -> tinystore_status_t {
    guard(|| {
        let out = Out::new(out, "out")?;
        let cell_id = unsafe { str_arg(cell_id, "cell_id")? };
        let reader = lent(row.cast::<Reader<'_>>(), "row")?;
        out.set(cell_owned(reader.cell(cell_id).as_ref()));
        Ok(())
    })
}

/// Reads cell `cell_id` of the row joined as `joined_id` (its alias; the root table's id
/// names the root row), or with `joined_is_query` of the joined query result row: TinyQL's
/// `getTableCell(joinedTableId, cellId)`, only in a calculated select or a where callback
/// (`TINYSTORE_STATUS_INVALID_ARGUMENT` elsewhere).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tinystore_row_reader_get_joined_cell(
    row: *const tinystore_row_reader_t,
    joined_id: *const c_char,
    joined_is_query: bool,
    cell_id: *const c_char,
    out: *mut tinystore_cell_t,
) -> tinystore_status_t {
    guard(|| {
        let out = Out::new(out, "out")?;
        let (t, c) = unsafe {
            (
                str_arg(joined_id, "joined_id")?,
                str_arg(cell_id, "cell_id")?,
            )
        };
        let reader = lent(row.cast::<Reader<'_>>(), "row")?;
        out.set(cell_owned(reader.joined(t, joined_is_query, c)?.as_ref()));
        Ok(())
    })
}

/// Sets a callback's answer to a copy of `cell` (a slice id or remote row id is a STRING, a
/// metric number a NUMBER, a where/having answer a BOOLEAN).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tinystore_callback_result_set_cell(
    result: *mut tinystore_callback_result_t,
    cell: *const tinystore_cell_t,
) -> tinystore_status_t {
    guard(|| {
        let cell = unsafe { cell_arg(cell, "cell")? };
        let answer = lent_ptr(result.cast::<Answer>(), "result")?;
        // SAFETY: lent for this callback as a unique pointer the library does not touch until
        // the callback returns.
        unsafe { (*answer).cell = Some(cell) };
        Ok(())
    })
}

/// Adds a slice id to a slice-ids callback's answer (a row may be in several slices).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tinystore_callback_result_add_id(
    result: *mut tinystore_callback_result_t,
    id: *const c_char,
) -> tinystore_status_t {
    guard(|| {
        let id = unsafe { str_arg(id, "id")? };
        let answer = lent_ptr(result.cast::<Answer>(), "result")?;
        // SAFETY: as in `tinystore_callback_result_set_cell`.
        unsafe { (*answer).ids.push(id.to_string()) };
        Ok(())
    })
}

/// Sets the message of the failure a callback is about to report by returning false (the
/// caller of the write then gets `TINYSTORE_STATUS_CALLBACK` and this message; for a custom
/// persister's load or save callback, the load or save fails with `TINYSTORE_STATUS_STORAGE`
/// and a message carrying this one). A server auth callback returning
/// `TINYSTORE_AUTH_REJECT` may set the reason sent to the client the same way. Call it on the
/// callback's thread, just before returning.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tinystore_callback_set_error(
    message: *const c_char,
) -> tinystore_status_t {
    guard(|| {
        let message = unsafe { str_arg(message, "message")? };
        CALLBACK_ERROR.with(|e| *e.borrow_mut() = Some(message.to_string()));
        Ok(())
    })
}
