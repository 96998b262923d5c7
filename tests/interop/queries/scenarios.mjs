// Runs the query scenarios of core/tests/it/queries.rs through real TinyBase 10.0.1 and prints
// what each step observed as JSON (see README.md). Keep the two files in step.
import {createStore, createMergeableStore} from 'tinybase';
import {createQueries} from 'tinybase/queries';

const out = {};
const pets = () =>
  createStore().setTables({
    pets: {
      fido: {species: 'dog', price: 5, sold: false, owner: 'alice'},
      felix: {species: 'cat', price: 4, sold: true, owner: 'bob'},
      cujo: {species: 'dog', price: 6, sold: false},
      tom: {species: 'cat', price: 2, sold: false, owner: 'alice'},
    },
    species: {dog: {legs: 4, classId: 'mammal'}, cat: {legs: 4, classId: 'mammal'}, parrot: {legs: 2, classId: 'bird'}},
    classes: {mammal: {name: 'Mammal'}, bird: {name: 'Bird'}},
    owners: {alice: {city: 'Paris'}, bob: {city: 'Rome'}},
  });
const snap = (q, id) => ({
  table: q.getResultTable(id),
  rowIds: q.getResultRowIds(id),
  cellIds: q.getResultTableCellIds(id),
});

// 1. The spec example.
{
  const store = createStore().setTable('pets', {fido: {species: 'dog', price: 5}, felix: {species: 'cat', price: 4}})
    .setTable('species', {dog: {legs: 4}, cat: {legs: 4}});
  const q = createQueries(store).setQueryDefinition('q', 'pets', ({select, join, group}) => {
    select('species'); join('species', 'species'); select('species', 'legs'); group('price', 'sum').as('total');
  });
  out.spec_example = [snap(q, 'q'), q.getResultSortedRowIds('q', 'total', true)];
}

// 2. Selects, calculated selects, and row-level updates.
{
  const store = pets();
  const q = createQueries(store).setQueryDefinition('q', 'pets', ({select}) => {
    select('price'); select('owner').as('who');
    select((getTableCell, rowId) => (getTableCell('price') ?? 0) * 2 + rowId.length).as('calc');
  });
  const steps = [snap(q, 'q')];
  store.setCell('pets', 'fido', 'price', 7); steps.push(snap(q, 'q'));
  store.delCell('pets', 'felix', 'owner'); steps.push(snap(q, 'q'));
  store.delRow('pets', 'cujo'); steps.push(snap(q, 'q'));
  store.setRow('pets', 'rex', {species: 'dog'}); steps.push(snap(q, 'q'));
  store.setCell('pets', 'tom', 'owner', 'carol'); steps.push(snap(q, 'q'));
  out.selects = steps;
}

// 3. Joins: direct, through an intermediate table, calculated, and their updates.
{
  const store = pets();
  const q = createQueries(store).setQueryDefinition('q', 'pets', ({select, join}) => {
    select('species');
    join('species', 'species');
    join('classes', 'species', 'classId').as('cls');
    join('owners', (getCell) => getCell('owner')).as('own');
    select('species', 'legs');
    select('cls', 'name');
    select('own', 'city');
  });
  const steps = [snap(q, 'q')];
  store.setCell('species', 'dog', 'legs', 3); steps.push(snap(q, 'q'));
  store.setCell('species', 'cat', 'classId', 'bird'); steps.push(snap(q, 'q'));
  store.setCell('pets', 'fido', 'species', 'parrot'); steps.push(snap(q, 'q'));
  store.delRow('classes', 'bird'); steps.push(snap(q, 'q'));
  store.setCell('owners', 'bob', 'city', 'Oslo'); steps.push(snap(q, 'q'));
  store.setCell('pets', 'felix', 'species', 7); steps.push(snap(q, 'q'));
  store.setRow('classes', 'bird', {name: 'Avian'}); steps.push(snap(q, 'q'));
  out.joins = steps;
}

// 4. A query on another query's result, and a join against a query's result.
{
  const store = pets();
  const queries = createQueries(store);
  queries.setQueryDefinition('base', 'pets', ({select, where}) => {
    select('species'); select('price'); where('sold', false);
  });
  queries.setQueryDefinition('dogs', true, 'base', ({select, where}) => {
    select('price'); where('species', 'dog');
  });
  queries.setQueryDefinition('owned', 'owners', ({select, join}) => {
    select('city');
    join(true, 'base', (getCell, rowId) => (rowId == 'alice' ? 'fido' : 'felix')).as('b');
    select(true, 'b', 'price').as('price');
  });
  const s = () => [snap(queries, 'dogs'), snap(queries, 'owned')];
  const steps = [s()];
  store.setCell('pets', 'cujo', 'price', 9); steps.push(s());
  store.setCell('pets', 'felix', 'sold', false); steps.push(s());
  store.setCell('pets', 'fido', 'species', 'cat'); steps.push(s());
  store.setCell('pets', 'fido', 'price', 1); steps.push(s());
  out.query_on_query = steps;
}

// 5. Where, both forms.
{
  const store = pets();
  const queries = createQueries(store);
  queries.setQueryDefinition('a', 'pets', ({select, where}) => { select('price'); where('sold', false); });
  queries.setQueryDefinition('b', 'pets', ({select, join, where}) => {
    select('price'); join('owners', 'owner'); where('owners', 'city', 'Paris');
  });
  queries.setQueryDefinition('c', 'pets', ({select, where}) => {
    select('price'); where((getTableCell) => getTableCell('price') > 4);
  });
  queries.setQueryDefinition('d', 'pets', ({select, where}) => { select('owner'); where('pets', 'species', 'cat'); });
  const s = () => ['a', 'b', 'c', 'd'].map((id) => snap(queries, id));
  const steps = [s()];
  store.setCell('pets', 'felix', 'sold', false); steps.push(s());
  store.setCell('owners', 'bob', 'city', 'Paris'); steps.push(s());
  store.setCell('pets', 'tom', 'price', 10); steps.push(s());
  out.wheres = steps;
}

// 6. Group with every aggregate.
{
  const store = pets();
  const queries = createQueries(store).setQueryDefinition('g', 'pets', ({select, group}) => {
    select('species'); select('price');
    group('price', 'count').as('n'); group('price', 'sum').as('sum'); group('price', 'avg').as('avg');
    group('price', 'min').as('min'); group('price', 'max').as('max');
  });
  const steps = [snap(queries, 'g')];
  store.setCell('pets', 'fido', 'price', 1); steps.push(snap(queries, 'g'));
  store.setCell('pets', 'cujo', 'species', 'cat'); steps.push(snap(queries, 'g'));
  store.setRow('pets', 'rex', {species: 'dog', price: 10}); steps.push(snap(queries, 'g'));
  store.delRow('pets', 'fido'); steps.push(snap(queries, 'g'));
  store.setCell('pets', 'tom', 'price', 'x'); steps.push(snap(queries, 'g'));
  store.delCell('pets', 'felix', 'price'); steps.push(snap(queries, 'g'));
  store.setRow('pets', 'bird', {species: 'parrot', price: 'a'}); steps.push(snap(queries, 'g'));
  store.setRow('pets', 'bird2', {species: 'parrot', price: 'b'}); steps.push(snap(queries, 'g'));
  store.delTable('pets'); steps.push(snap(queries, 'g'));
  store.setRow('pets', 'z', {species: 'dog', price: 3}); steps.push(snap(queries, 'g'));
  out.group_aggregates = steps;
}

// 7. A custom aggregate with incremental hooks; each call is logged.
{
  const store = pets();
  const log = [];
  const queries = createQueries(store).setQueryDefinition('g', 'pets', ({select, group}) => {
    select('species'); select('price');
    group('price',
      (cells, length) => { log.push(['all', cells, length]); return cells.reduce((a, b) => a + b, 0) * 10; },
      (metric, add, length) => { log.push(['add', metric, add, length]); return metric + add * 10; },
      (metric, remove, length) => { log.push(['remove', metric, remove, length]); return length > 2 ? metric - remove * 10 : undefined; },
      (metric, add, remove, length) => { log.push(['replace', metric, add, remove, length]); return metric + (add - remove) * 10; },
    ).as('t');
  });
  const steps = [[snap(queries, 'g'), log.splice(0)]];
  store.setCell('pets', 'fido', 'price', 8); steps.push([snap(queries, 'g'), log.splice(0)]);
  store.setRow('pets', 'rex', {species: 'dog', price: 1}); steps.push([snap(queries, 'g'), log.splice(0)]);
  store.delRow('pets', 'cujo'); steps.push([snap(queries, 'g'), log.splice(0)]);
  store.delRow('pets', 'rex'); steps.push([snap(queries, 'g'), log.splice(0)]);
  out.custom_aggregate = steps;
}

// 8. Having, both forms; a hidden group keeps its row id.
{
  const store = pets();
  const queries = createQueries(store);
  queries.setQueryDefinition('h1', 'pets', ({select, group, having}) => {
    select('species'); select('price'); group('price', 'sum').as('total'); having('total', 11);
  });
  queries.setQueryDefinition('h2', 'pets', ({select, group, having}) => {
    select('species'); select('price'); group('price', 'max').as('top');
    having((getCell) => getCell('top') >= 5);
  });
  const s = () => [snap(queries, 'h1'), snap(queries, 'h2')];
  const steps = [s()];
  store.setCell('pets', 'tom', 'price', 5); steps.push(s());
  store.setCell('pets', 'fido', 'price', 1); steps.push(s());
  store.setCell('pets', 'fido', 'price', 5); steps.push(s());
  store.setCell('pets', 'tom', 'price', 7); steps.push(s());
  out.having = steps;
}

// 9. Params and their listeners.
{
  const store = pets();
  const queries = createQueries(store);
  const log = [];
  queries.setQueryDefinition('p', 'pets', ({select, where, param}) => {
    select('price'); where('species', param('sp')); where((getTableCell) => getTableCell('price') >= (param('min') ?? 0));
  }, {sp: 'dog'});
  queries.addParamValuesListener('p', (_q, id, values) => log.push(['values', id, values]));
  queries.addParamValueListener(null, 'sp', (_q, id, paramId, value) => log.push(['value', id, paramId, value]));
  queries.addResultRowIdsListener('p', (_q, id) => log.push(['rowIds', id, queries.getResultRowIds(id)]));
  const steps = [[snap(queries, 'p'), queries.getParamValues('p'), queries.getParamValue('p', 'sp')]];
  queries.setParamValue('p', 'sp', 'cat'); steps.push([snap(queries, 'p'), queries.getParamValues('p')]);
  queries.setParamValues('p', {sp: 'dog', min: 6}); steps.push([snap(queries, 'p'), queries.getParamValues('p')]);
  queries.setParamValue('nope', 'sp', 'cat'); steps.push([queries.getParamValues('nope')]);
  queries.setParamValues('p', {}); steps.push([snap(queries, 'p'), queries.getParamValues('p')]);
  steps.push(log.splice(0));
  steps.push(queries.getListenerStats());
  out.params = steps;
}

// 10. Listener kinds, arguments and order over one transaction; ids and stats.
{
  const store = pets();
  const queries = createQueries(store);
  const log = [];
  const ids = [];
  queries.setQueryDefinition('q', 'pets', ({select}) => { select('species'); select('price'); });
  ids.push(queries.addQueryIdsListener(() => log.push(['queryIds', queries.getQueryIds()])));
  ids.push(queries.addResultTableListener('q', (_q, id) => log.push(['table', id])));
  ids.push(queries.addResultTableCellIdsListener('q', (_q, id) => log.push(['tableCellIds', id])));
  ids.push(queries.addResultRowCountListener('q', (_q, id, count) => log.push(['rowCount', id, count])));
  ids.push(queries.addResultRowIdsListener(null, (_q, id) => log.push(['rowIds*', id])));
  ids.push(queries.addResultSortedRowIdsListener('q', 'price', true, 1, 2, (_q, id, cellId, desc, offset, limit, sorted) =>
    log.push(['sortedRowIds', id, cellId, desc, offset, limit, sorted])));
  ids.push(queries.addResultRowListener('q', null, (_q, id, rowId) => log.push(['row', id, rowId])));
  ids.push(queries.addResultCellIdsListener('q', null, (_q, id, rowId) => log.push(['cellIds', id, rowId])));
  ids.push(queries.addResultCellListener(null, null, 'price', (_q, id, rowId, cellId, n, o) => log.push(['cell', id, rowId, cellId, n, o ?? null])));
  store.addDidFinishTransactionListener(() => log.push(['storeDidFinish']));
  const steps = [];
  store.transaction(() => {
    store.setCell('pets', 'fido', 'price', 9);
    store.setRow('pets', 'rex', {species: 'dog', price: 1, extra: true});
    store.delRow('pets', 'felix');
    store.setCell('pets', 'tom', 'species', 'lion');
  });
  steps.push(log.splice(0));
  queries.setQueryDefinition('r', 'pets', ({select}) => { select('price'); });
  steps.push(log.splice(0));
  store.setCell('pets', 'tom', 'price', 3);
  steps.push(log.splice(0));
  store.setCell('pets', 'tom', 'owner', 'x');
  steps.push(log.splice(0));
  steps.push(ids, queries.getListenerStats());
  queries.delListener(ids[4]);
  steps.push(queries.addResultRowListener('q', 'fido', () => 0), queries.getListenerStats());
  out.listeners = steps;
}

// 11. Deleting a definition, destroying.
{
  const store = pets();
  const queries = createQueries(store);
  const log = [];
  queries.setQueryDefinition('a', 'pets', ({select}) => select('price'));
  queries.setQueryDefinition('b', 'pets', ({select}) => select('species'));
  queries.addQueryIdsListener(() => log.push(['queryIds', queries.getQueryIds()]));
  queries.addResultRowCountListener(null, (_q, id, n) => log.push(['rowCount', id, n]));
  queries.delQueryDefinition('a');
  const steps = [[queries.getQueryIds(), snap(queries, 'a'), queries.hasQuery('a'), queries.getTableId('b') ?? null], log.splice(0)];
  store.setCell('pets', 'fido', 'price', 1);
  steps.push(log.splice(0));
  queries.destroy();
  steps.push([queries.getQueryIds(), snap(queries, 'b')], log.splice(0));
  store.setRow('pets', 'x', {species: 'y', price: 1});
  steps.push(log.splice(0));
  out.del_and_destroy = steps;
}

// 12. selectAll: root, joined with a prefix, and grouped.
{
  const store = pets();
  const queries = createQueries(store);
  queries.setQueryDefinition('a', 'pets', ({selectAll, join, select}) => {
    selectAll(); join('species', 'species'); selectAll('species', 'sp_'); select('owner').as('who');
  });
  queries.setQueryDefinition('g', 'pets', ({selectAll, group}) => { selectAll(); group('price', 'sum').as('price'); });
  const s = () => [snap(queries, 'a'), snap(queries, 'g')];
  const steps = [s()];
  store.setCell('pets', 'fido', 'color', 'brown'); steps.push(s());
  store.setCell('species', 'dog', 'legs', 5); steps.push(s());
  store.delCell('pets', 'tom', 'owner'); steps.push(s());
  out.select_all = steps;
}

// 13. Transactions: net effects once; a rolled-back transaction changes nothing.
{
  const store = pets();
  const queries = createQueries(store);
  const log = [];
  queries.setQueryDefinition('g', 'pets', ({select, group}) => { select('species'); select('price'); group('price', 'sum').as('t'); });
  queries.addResultCellListener('g', null, null, (_q, id, r, c, n, o) => log.push([id, r, c, n, o ?? null]));
  store.transaction(() => { store.setCell('pets', 'fido', 'price', 100); store.setCell('pets', 'fido', 'price', 5); });
  const steps = [log.splice(0)];
  store.transaction(() => { store.setCell('pets', 'fido', 'price', 100); store.delRow('pets', 'tom'); }, () => true);
  steps.push([snap(queries, 'g'), log.splice(0)]);
  store.transaction(() => { store.setCell('pets', 'fido', 'price', 10); store.setCell('pets', 'tom', 'price', 3); });
  steps.push([snap(queries, 'g'), log.splice(0)]);
  out.transactions = steps;
}

// 14. Sorted result row ids with offset and limit; missing tables and cells.
{
  const store = pets();
  const queries = createQueries(store);
  queries.setQueryDefinition('s', 'pets', ({select}) => { select('price'); select('species'); });
  queries.setQueryDefinition('none', 'nothing', ({select}) => select('x'));
  queries.setQueryDefinition('nocell', 'pets', ({select}) => select('x'));
  queries.setQueryDefinition('empty', 'pets', () => {});
  out.sorted_and_missing = [
    queries.getResultSortedRowIds('s', 'price'),
    queries.getResultSortedRowIds('s', 'price', true),
    queries.getResultSortedRowIds('s', 'price', false, 1, 2),
    queries.getResultSortedRowIds('s', 'species', true, 3),
    queries.getResultSortedRowIds('s', undefined, false, 0, 3),
    queries.getResultSortedRowIds('s', 'price', false, 9),
    snap(queries, 'none'), snap(queries, 'nocell'), snap(queries, 'empty'),
    queries.getResultRowCount('nope'), queries.hasResultTable('s'), queries.hasResultRow('s', 'fido'),
    queries.hasResultCell('s', 'fido', 'price'), queries.getResultCellIds('s', 'fido'), queries.getResultRow('s', 'tom'),
  ];
}

// 15. A MergeableStore.
{
  const store = createMergeableStore('s1');
  const queries = createQueries(store).setQueryDefinition('q', 'pets', ({select, where}) => { select('price'); where('sold', false); });
  store.setRow('pets', 'a', {price: 1, sold: false});
  store.setRow('pets', 'b', {price: 2, sold: true});
  const steps = [snap(queries, 'q')];
  const other = createMergeableStore('s2');
  other.setRow('pets', 'c', {price: 3, sold: false});
  store.merge(other);
  steps.push(snap(queries, 'q'));
  out.mergeable = steps;
}

// 16. Redefining a query replaces its result in one change.
{
  const store = pets();
  const queries = createQueries(store);
  const log = [];
  queries.setQueryDefinition('q', 'pets', ({select}) => select('price'));
  queries.addResultRowIdsListener('q', (_q, id) => log.push(['rowIds', queries.getResultRowIds(id)]));
  queries.addResultCellListener('q', null, null, (_q, id, r, c, n, o) => log.push(['cell', r, c, n ?? null, o ?? null]));
  queries.setQueryDefinition('q', 'pets', ({select, where}) => { select('price'); where('species', 'dog'); });
  out.redefine = [snap(queries, 'q'), log.splice(0)];
}

// 17. A join whose key disappears leaves the joins made through it in place (TinyBase quirk).
{
  const store = createStore().setTables({pets: {cujo: {species: 'dog', price: 6}},
    species: {dog: {legs: 4, classId: 'mammal'}}, classes: {mammal: {name: 'Mammal'}}});
  const q = createQueries(store).setQueryDefinition('q', 'pets', ({select, join}) => {
    select('price'); join('species', 'species'); join('classes', 'species', 'classId').as('cls');
    select('species', 'legs'); select('cls', 'name');
  });
  const steps = [];
  store.delCell('pets', 'cujo', 'species'); steps.push(q.getResultTable('q'));
  store.setCell('classes', 'mammal', 'name', 'M2'); steps.push(q.getResultTable('q'));
  store.setCell('pets', 'cujo', 'species', 'dog'); steps.push(q.getResultTable('q'));
  out.stale_intermediate_join = steps;
}

// 18. More joins against query results: through one, from one, where on one, selectAll mapped.
{
  const store = pets();
  const queries = createQueries(store);
  queries.setQueryDefinition('base', 'pets', ({select}) => { select('species'); select('price'); select('owner'); });
  queries.setQueryDefinition('x', 'owners', ({select, selectAll, join, where}) => {
    select('city');
    join(true, 'base', (getCell, rowId) => (rowId == 'alice' ? 'fido' : 'felix')).as('b');
    join('species', 'b', 'species');
    join(true, 'base', 'b', (getCell) => (getCell('owner') == 'alice' ? 'tom' : 'cujo')).as('b2');
    select('species', 'legs');
    select(true, 'b2', 'price').as('price2');
    selectAll(true, 'b', (cellId) => 'b:' + cellId);
    where(true, 'b', 'species', 'dog');
  });
  const steps = [snap(queries, 'x')];
  store.setCell('pets', 'felix', 'species', 'dog'); steps.push(snap(queries, 'x'));
  store.setCell('pets', 'tom', 'price', 11); steps.push(snap(queries, 'x'));
  store.setCell('pets', 'fido', 'owner', 'bob'); steps.push(snap(queries, 'x'));
  store.setCell('species', 'dog', 'legs', 3); steps.push(snap(queries, 'x'));
  out.query_joins = steps;
}

// 19. select_all of query results in a renaming loop is refused; a plain loop is not.
{
  const store = pets();
  const queries = createQueries(store);
  queries.setQueryDefinition('a', 'pets', ({join, selectAll}) => {
    join(true, 'b', 'species').as('jb'); selectAll(true, 'jb', 'x_');
  });
  const attempt = (define) => { try { define(); return 'ok'; } catch (e) { return e.message; } };
  const steps = [];
  steps.push(attempt(() => queries.setQueryDefinition('b', 'species', ({join, selectAll}) => {
    join(true, 'a', (getCell, rowId) => rowId).as('ja'); selectAll(true, 'ja');
  })));
  steps.push(queries.getQueryIds());
  steps.push(attempt(() => queries.setQueryDefinition('c', 'species', ({join, selectAll}) => {
    join(true, 'd', (getCell, rowId) => rowId).as('jd'); selectAll(true, 'jd');
  })));
  steps.push(attempt(() => queries.setQueryDefinition('d', 'species', ({join, selectAll, select}) => {
    select('legs'); join(true, 'c', (getCell, rowId) => rowId).as('jc'); selectAll(true, 'jc');
  })));
  steps.push(queries.getQueryIds(), snap(queries, 'd'));
  out.select_all_cycle = steps;
}

// 20. A query on a query defined before it; the root query deleted and defined again.
{
  const store = pets();
  const queries = createQueries(store);
  const log = [];
  queries.setQueryDefinition('child', true, 'parent', ({select, where}) => { select('price'); where('species', 'cat'); });
  queries.addResultCellListener('child', null, null, (_q, id, r, c, n, o) => log.push([r, c, n ?? null, o ?? null]));
  const s = () => [snap(queries, 'child'), log.splice(0)];
  const steps = [s()];
  queries.setQueryDefinition('parent', 'pets', ({select}) => { select('species'); select('price'); }); steps.push(s());
  store.setCell('pets', 'felix', 'price', 40); steps.push(s());
  queries.delQueryDefinition('parent'); steps.push(s());
  store.setCell('pets', 'tom', 'price', 20); steps.push(s());
  queries.setQueryDefinition('parent', 'pets', ({select, where}) => { select('species'); select('price'); where('sold', false); });
  steps.push(s());
  store.setCell('pets', 'tom', 'price', 21); steps.push(s());
  out.query_before_its_root = steps;
}

// 21. Object and array cells: selected, grouped by, aggregated; numeric strings in aggregates.
{
  const store = createStore().setTables({t: {a: {o: {x: 1}, k: [1, 2], n: 1}, b: {o: {x: 1}, k: [1, 2], n: 2}, c: {k: [3], n: '5'}}});
  const queries = createQueries(store);
  queries.setQueryDefinition('s', 't', ({select}) => { select('o'); select('k'); });
  queries.setQueryDefinition('g', 't', ({select, group}) => {
    select('k'); select('n'); select('o');
    group('n', 'sum').as('sum'); group('o', 'count').as('c'); group('n', 'max').as('max'); group('n', 'avg').as('avg');
  });
  queries.setQueryDefinition('w', 't', ({select, where}) => { select('n'); where('o', {x: 1}); });
  const steps = [[snap(queries, 's'), snap(queries, 'g'), snap(queries, 'w')]];
  store.setCell('t', 'c', 'n', 7);
  steps.push([snap(queries, 'g')]);
  out.objects_and_arrays = steps;
}

console.log(JSON.stringify(out, null, 1));
