// Contract between the viewer and Hasura: every GraphQL document in src/queries.ts must work for the anonymous
// role under the metadata in deploy/hasura. There is no Hasura binary here (REFERENCE §1), so this reads the
// metadata statically: root fields must be tracked tables/views (t, t_aggregate, t_by_pk, t_stream), every
// column selected, filtered on, ordered or distinct'ed by must be in the role's select permission, relationships
// resolve to their remote table (checked the same way), and _aggregate needs allow_aggregations.
// Subscriptions (sent over the websocket): Hasura allows one root field per subscription; t_stream exists only
// under subscription_root and needs batch_size and a cursor on one permitted column. A select permission is all a
// role needs to subscribe (streaming included), unless the permission narrows root field visibility
// (query_root_fields / subscription_root_fields), which is checked too.
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { Kind, parse, type ArgumentNode, type FieldNode, type SelectionSetNode, type TypeNode, type ValueNode, visit } from 'graphql';
import * as queries from '../src/queries';
import { loadFunctions, loadSqlFunctions, loadTables, type FunctionMeta, type SqlFunction, type TableMeta } from './hasura-metadata';

const HERE = dirname(fileURLToPath(import.meta.url));
// HASURA_METADATA_DIR: to check the viewer against another metadata tree (or to see the missing-metadata failure).
const METADATA = process.env.HASURA_METADATA_DIR ?? resolve(HERE, '../../deploy/hasura/metadata');
const MIGRATIONS = resolve(HERE, '../../schema/migrations');

/**
 * Tracked functions, each with its SQL signature: a root field <fn>(args: {…}) is the return table's list field
 * over the function's rows (Hasura v2), so its columns and where/order_by are checked against the return table's
 * permission, and args' keys against the function's argument names.
 */
interface Fn extends FunctionMeta { sql: SqlFunction | undefined }
function functions(): Map<string, Fn> {
  const sql = loadSqlFunctions(MIGRATIONS);
  return new Map([...loadFunctions(METADATA)].map(([k, f]) => [k, { ...f, sql: sql.get(f.name) }]));
}

/**
 * Every exported document the anonymous role sends: exported strings, and strings inside exported objects
 * (PERFTOOL_QUERIES); OPERATOR_DOCUMENTS, sent only by a signed-in operator, are checked against role operator.
 */
function documents(): [string, string][] {
  const out: [string, string][] = [];
  for (const [name, v] of Object.entries(queries)) {
    if (name === 'OPERATOR_DOCUMENTS') continue;
    if (typeof v === 'string') out.push([name, v]);
    else if (v && typeof v === 'object') for (const [k, s] of Object.entries(v)) if (typeof s === 'string') out.push([`${name}.${k}`, s]);
  }
  return out;
}

const OPERATORS = new Set(['_eq', '_neq', '_gt', '_gte', '_lt', '_lte', '_in', '_nin', '_is_null', '_like', '_nlike',
  '_ilike', '_nilike', '_similar', '_nsimilar', '_regex', '_iregex', '_contains', '_contained_in', '_has_key',
  '_has_keys_any', '_has_keys_all', '_cast']);

/**
 * A Hasura action (actions.graphql's Query and Mutation fields, actions.yaml's permissions): whether it is a query
 * action (read only: the statistics of sink api) or a mutation, its arguments, its roles and the fields its output
 * type has.
 */
interface Action { op: 'query' | 'mutation'; args: Set<string>; required: Set<string>; roles: Set<string>; fields: Set<string> }

/** The actions of the metadata: Query and Mutation fields of actions.graphql with the roles actions.yaml permits. */
function loadActions(dir: string): Map<string, Action> {
  const out = new Map<string, Action>();
  const sdl = readFileSync(join(dir, 'actions.graphql'), 'utf8');
  const yaml = parseYaml(readFileSync(join(dir, 'actions.yaml'), 'utf8')) as { actions?: { name: string; permissions?: { role: string }[] }[] } | null;
  const roles = new Map((yaml?.actions ?? []).map((a) => [a.name, new Set((a.permissions ?? []).map((p) => p.role))]));
  if (!sdl.trim()) return out;
  const defs = parse(sdl).definitions;
  // The output types' fields, from every definition and extension of each object type.
  const types = new Map<string, Set<string>>();
  for (const d of defs) {
    if (d.kind !== Kind.OBJECT_TYPE_DEFINITION && d.kind !== Kind.OBJECT_TYPE_EXTENSION) continue;
    const set = types.get(d.name.value) ?? new Set<string>();
    for (const f of d.fields ?? []) set.add(f.name.value);
    types.set(d.name.value, set);
  }
  const named = (t: TypeNode): string => (t.kind === Kind.NAMED_TYPE ? t.name.value : named(t.type));
  for (const d of defs) {
    if (d.kind !== Kind.OBJECT_TYPE_DEFINITION && d.kind !== Kind.OBJECT_TYPE_EXTENSION) continue;
    const op = d.name.value === 'Query' ? 'query' : d.name.value === 'Mutation' ? 'mutation' : null;
    if (!op) continue;
    for (const f of d.fields ?? []) {
      const args = f.arguments ?? [];
      out.set(f.name.value, {
        op,
        args: new Set(args.map((a) => a.name.value)),
        required: new Set(args.filter((a) => a.type.kind === Kind.NON_NULL_TYPE).map((a) => a.name.value)),
        roles: roles.get(f.name.value) ?? new Set(),
        fields: types.get(named(f.type)) ?? new Set(),
      });
    }
  }
  return out;
}

function checker(tables: Map<string, TableMeta>, fns: Map<string, Fn> = new Map(), role = 'anonymous', actions: Map<string, Action> = new Map()) {
  const problems: string[] = [];

  const column = (t: TableMeta, tname: string, col: string, where: string) => {
    if (t.columns !== '*' && !t.columns.has(col)) problems.push(`${where}: column ${tname}.${col} is not in ${role}'s select permission`);
  };
  const table = (name: string, where: string): TableMeta | null => {
    const t = tables.get(name);
    if (!t) problems.push(`${where}: ${name} is not a tracked table or view`);
    else if (!t.permitted) problems.push(`${where}: ${role} has no select permission on ${name}`);
    return t && t.permitted ? t : null;
  };

  /** A boolean expression object (where, _and items): keys are columns, relationships, or _and/_or/_not. */
  const boolExp = (t: TableMeta, tname: string, v: ValueNode, where: string) => {
    if (v.kind === Kind.VARIABLE) return; // typed by Hasura as <t>_bool_exp; its columns are the permitted ones
    if (v.kind === Kind.LIST) return v.values.forEach((x) => boolExp(t, tname, x, where));
    if (v.kind !== Kind.OBJECT) return;
    for (const f of v.fields) {
      const k = f.name.value;
      if (k === '_and' || k === '_or' || k === '_not') boolExp(t, tname, f.value, where);
      else if (t.relationships.has(k)) {
        const rt = table(t.relationships.get(k)!.remote, where);
        if (rt) boolExp(rt, t.relationships.get(k)!.remote, f.value, where);
      } else {
        column(t, tname, k, `${where} (filter)`);
        if (f.value.kind === Kind.OBJECT) for (const op of f.value.fields) if (!OPERATORS.has(op.name.value)) problems.push(`${where}: unknown operator ${op.name.value}`);
      }
    }
  };
  const keysOf = (t: TableMeta, tname: string, v: ValueNode, where: string) => {
    if (v.kind === Kind.LIST) return v.values.forEach((x) => keysOf(t, tname, x, where));
    if (v.kind === Kind.OBJECT) for (const f of v.fields) column(t, tname, f.name.value, where);
    if (v.kind === Kind.ENUM) column(t, tname, v.value, where);
  };
  const args = (t: TableMeta, tname: string, list: readonly ArgumentNode[] | undefined, where: string, byPk: boolean) => {
    for (const a of list ?? []) {
      const n = a.name.value;
      if (n === 'where') boolExp(t, tname, a.value, where);
      else if (n === 'order_by') keysOf(t, tname, a.value, `${where} (order_by)`);
      else if (n === 'distinct_on') keysOf(t, tname, a.value, `${where} (distinct_on)`);
      else if (n === 'cursor' && a.value.kind === Kind.OBJECT) {
        const iv = a.value.fields.find((f) => f.name.value === 'initial_value');
        if (iv) keysOf(t, tname, iv.value, `${where} (cursor)`);
      } else if (byPk) column(t, tname, n, `${where} (_by_pk key)`);
    }
  };
  /**
   * t_stream(batch_size: Int!, cursor: [t_stream_cursor_input]!, where): both required; the cursor names exactly one
   * column in initial_value (Hasura streams on one column) with ordering ASC or DESC; a literal batch_size must
   * not exceed the role's row limit. Columns themselves are checked by args().
   */
  const streamArgs = (t: TableMeta, tname: string, list: readonly ArgumentNode[] | undefined, where: string) => {
    const arg = (n: string) => list?.find((a) => a.name.value === n);
    const batch = arg('batch_size');
    if (!batch) problems.push(`${where}: ${tname}_stream needs batch_size`);
    else if (batch.value.kind === Kind.INT && t.limit != null && Number(batch.value.value) > t.limit) {
      problems.push(`${where}: batch_size ${batch.value.value} exceeds anonymous's limit ${t.limit} on ${tname}`);
    }
    const cursor = arg('cursor');
    if (!cursor) return problems.push(`${where}: ${tname}_stream needs a cursor`);
    if (cursor.value.kind !== Kind.OBJECT) return; // a variable or a list: typed by Hasura
    const iv = cursor.value.fields.find((f) => f.name.value === 'initial_value');
    if (!iv) problems.push(`${where}: the cursor needs an initial_value`);
    else if (iv.value.kind === Kind.OBJECT && iv.value.fields.length !== 1) problems.push(`${where}: the cursor must name exactly one column`);
    const ord = cursor.value.fields.find((f) => f.name.value === 'ordering');
    if (ord && !(ord.value.kind === Kind.ENUM && (ord.value.value === 'ASC' || ord.value.value === 'DESC')) && ord.value.kind !== Kind.VARIABLE) {
      problems.push(`${where}: cursor ordering must be ASC or DESC`);
    }
  };
  /** A call of an action: the role may call it, its arguments exist and the required ones are given, its output has the fields selected. */
  const action = (docName: string, sel: FieldNode, a: Action) => {
    const name = sel.name.value;
    if (!a.roles.has(role)) problems.push(`${docName}: ${role} has no permission on action ${name}`);
    const given = new Set((sel.arguments ?? []).map((x) => x.name.value));
    for (const g of given) if (!a.args.has(g)) problems.push(`${docName}: action ${name} has no argument ${g}`);
    for (const r of a.required) if (!given.has(r)) problems.push(`${docName}: action ${name} needs argument ${r}`);
    for (const f of sel.selectionSet?.selections ?? []) {
      if (f.kind === Kind.FIELD && f.name.value !== '__typename' && !a.fields.has(f.name.value)) problems.push(`${docName}: action ${name}'s output has no field ${f.name.value}`);
    }
  };
  const selection = (t: TableMeta, tname: string, set: SelectionSetNode | undefined, where: string) => {
    if (!set) return;
    for (const s of set.selections) {
      if (s.kind !== Kind.FIELD) {
        problems.push(`${where}: fragments are not used by the viewer; inline the fields`);
        continue;
      }
      const n = s.name.value;
      if (n === '__typename') continue;
      const rel = t.relationships.get(n);
      // <rel>_aggregate: Hasura's aggregate over an array relationship, when the remote table allows aggregations.
      const aggRel = /^(.+)_aggregate$/.exec(n)?.[1];
      if (rel) {
        const rt = table(rel.remote, `${where}.${n}`);
        if (rt) {
          args(rt, rel.remote, s.arguments, `${where}.${n}`, false);
          selection(rt, rel.remote, s.selectionSet, `${where}.${n}`);
        }
      } else if (aggRel && t.relationships.get(aggRel)) {
        const r = t.relationships.get(aggRel)!;
        if (r.kind !== 'array') problems.push(`${where}: ${n} aggregates the object relationship ${aggRel}; Hasura has <rel>_aggregate for array relationships only`);
        const rt = table(r.remote, `${where}.${n}`);
        if (rt) {
          args(rt, r.remote, s.arguments, `${where}.${n}`, false);
          aggregate(rt, r.remote, s.selectionSet, `${where}.${n}`);
        }
      } else {
        column(t, tname, n, where);
        if (s.selectionSet) problems.push(`${where}: ${tname}.${n} is a column but has a selection set`);
      }
    }
  };
  const aggregate = (t: TableMeta, tname: string, set: SelectionSetNode | undefined, where: string) => {
    if (!t.allowAggregations) problems.push(`${where}: anonymous may not aggregate ${tname} (allow_aggregations)`);
    for (const s of set?.selections ?? []) {
      if (s.kind !== Kind.FIELD) continue;
      if (s.name.value === 'nodes') selection(t, tname, s.selectionSet, `${where}.nodes`);
      else if (s.name.value === 'aggregate') {
        for (const a of s.selectionSet?.selections ?? []) {
          if (a.kind !== Kind.FIELD || a.name.value === 'count' || a.name.value === '__typename') continue;
          for (const c of a.selectionSet?.selections ?? []) if (c.kind === Kind.FIELD) column(t, tname, c.name.value, `${where}.aggregate.${a.name.value}`);
        }
      } else if (s.name.value !== '__typename') problems.push(`${where}: unknown aggregate field ${s.name.value}`);
    }
  };

  return {
    problems,
    check(docName: string, text: string) {
      const doc = parse(text);
      // Values must travel as variables: a string literal in a document is a value pasted into query text.
      visit(doc, { StringValue: (node) => { problems.push(`${docName}: string literal "${node.value}" in the document; use a variable`); } });
      for (const def of doc.definitions) {
        if (def.kind !== Kind.OPERATION_DEFINITION) {
          problems.push(`${docName}: only operations are expected`);
          continue;
        }
        if (!def.name) problems.push(`${docName}: operation has no name`);
        const op = def.operation;
        if (op === 'mutation') {
          // The viewer's only writes are the operator API's actions (launchJobs, stopJobs), as the operator.
          for (const sel of def.selectionSet.selections) {
            if (sel.kind !== Kind.FIELD) continue;
            const a = actions.get(sel.name.value);
            if (!a || a.op !== 'mutation') { problems.push(`${docName}: ${sel.name.value} is not an action; the viewer writes nothing else`); continue; }
            action(docName, sel, a);
          }
          continue;
        }
        if (op === 'subscription' && def.selectionSet.selections.length !== 1) {
          problems.push(`${docName}: a subscription must have exactly one root field (Hasura refuses more)`);
        }
        /** Root field visibility: may the role use this kind of root field in this kind of operation? */
        const visible = (t: TableMeta, tname: string, kind: string, where: string) => {
          const allowed = op === 'subscription' ? t.subscriptionRootFields : t.queryRootFields;
          if (allowed && !allowed.has(kind)) {
            problems.push(`${where}: ${kind} on ${tname} is not in anonymous's ${op === 'subscription' ? 'subscription' : 'query'}_root_fields`);
          }
        };
        for (const sel of def.selectionSet.selections) {
          if (sel.kind !== Kind.FIELD) continue;
          const root = sel.name.value;
          const where = `${docName} ${root}`;
          let m: RegExpExecArray | null;
          const fn = fns.get(root);
          const qa = actions.get(root);
          if (qa?.op === 'query' && op === 'query') {
            action(docName, sel, qa);
          } else if (fn) {
            if (!fn.permitted) problems.push(`${where}: anonymous has no permission on function ${root}`);
            if (!fn.sql) { problems.push(`${where}: function ${root} is tracked but no migration creates it RETURNS SETOF a table`); continue; }
            const argsArg = sel.arguments?.find((a) => a.name.value === 'args');
            if (argsArg?.value.kind === Kind.OBJECT) {
              for (const f of argsArg.value.fields) if (!fn.sql.args.includes(f.name.value)) problems.push(`${where}: function ${root} has no argument ${f.name.value}`);
            }
            const t = table(fn.sql.returns, where);
            if (t) {
              visible(t, fn.sql.returns, 'select', where);
              args(t, fn.sql.returns, sel.arguments?.filter((a) => a.name.value !== 'args'), where, false);
              selection(t, fn.sql.returns, sel.selectionSet, where);
            }
          } else if ((m = /^(.+)_aggregate$/.exec(root)) && !tables.has(root)) {
            const t = table(m[1], where);
            if (t) { visible(t, m[1], 'select_aggregate', where); args(t, m[1], sel.arguments, where, false); aggregate(t, m[1], sel.selectionSet, where); }
          } else if ((m = /^(.+)_by_pk$/.exec(root)) && !tables.has(root)) {
            const t = table(m[1], where);
            if (t) { visible(t, m[1], 'select_by_pk', where); args(t, m[1], sel.arguments, where, true); selection(t, m[1], sel.selectionSet, where); }
          } else if ((m = /^(.+)_stream$/.exec(root)) && !tables.has(root)) {
            if (op !== 'subscription') problems.push(`${where}: _stream exists only on subscriptions`);
            const t = table(m[1], where);
            if (t) {
              visible(t, m[1], 'select_stream', where);
              streamArgs(t, m[1], sel.arguments, where);
              args(t, m[1], sel.arguments, where, false);
              selection(t, m[1], sel.selectionSet, where);
            }
          } else {
            const t = table(root, where);
            if (t) { visible(t, root, 'select', where); args(t, root, sel.arguments, where, false); selection(t, root, sel.selectionSet, where); }
          }
        }
      }
    },
  };
}

describe('GraphQL documents against deploy/hasura metadata (anonymous role)', () => {
  it('finds the documents', () => {
    expect(documents().length).toBeGreaterThanOrEqual(10);
  });

  it('every root field, argument column and selected column is allowed for anonymous', () => {
    // loadTables throws "deploy/hasura metadata missing" when the directory is not there: the test fails, it
    // never passes on an empty contract.
    const tables = loadTables(METADATA);
    expect(tables.size, 'deploy/hasura metadata missing: no tracked tables').toBeGreaterThan(0);
    const c = checker(tables, functions(), 'anonymous', loadActions(METADATA));
    for (const [name, text] of documents()) c.check(name, text);
    expect(c.problems).toEqual([]);
  });

  it('checks function root fields against the function and its return table (self-test)', () => {
    const fns = functions();
    expect([...fns.keys()].sort()).toEqual(['device_latency_percentiles', 'run_latency_percentiles', 'runs_latency_distribution',
      'runs_latency_percentiles', 'tagged_latency_percentiles']);
    expect(fns.get('run_latency_percentiles')?.sql).toEqual({ args: ['run_id', 'from_time', 'to_time', 'include_warmup'], returns: 'latency_percentiles' });
    const c = checker(loadTables(METADATA), fns);
    c.check('bad', 'query Bad($id: uuid!) { run_latency_percentiles(args: {run: $id}, where: {nope: {_eq: 1}}) { p99_ms lat_p99_ms } }');
    const all = c.problems.join('\n');
    expect(all).toMatch(/function run_latency_percentiles has no argument run/);
    expect(all).toMatch(/latency_percentiles\.nope is not in anonymous's select permission/);
    expect(all).toMatch(/latency_percentiles\.lat_p99_ms is not in anonymous's select permission/);
    expect(all).not.toMatch(/latency_percentiles\.p99_ms is not/);
  });

  it('catches a column outside the permission and an untracked table (self-test)', () => {
    const c = checker(loadTables(METADATA));
    c.check('bad', 'query Bad { runs { run_id no_such_column } nope { x } runs_by_pk(run_id: "x") { run_id } }');
    expect(c.problems.join('\n')).toMatch(/runs\.no_such_column/);
    expect(c.problems.join('\n')).toMatch(/nope is not a tracked/);
    expect(c.problems.join('\n')).toMatch(/string literal/);
  });

  it('catches subscription mistakes (self-test)', () => {
    const tables = loadTables(METADATA);
    const c = checker(tables);
    c.check('two', 'subscription Two($id: uuid!) { runs_by_pk(run_id: $id) { status } runs { run_id } }');
    c.check('qstream', 'query QStream($s: bigint!) { samples_stream(batch_size: 10, cursor: {initial_value: {seq: $s}}) { seq } }');
    c.check('nocursor', 'subscription NoCursor { samples_stream(batch_size: 10) { seq } }');
    c.check('twocols', 'subscription TwoCols($s: bigint!, $r: uuid!) { samples_stream(batch_size: 10, cursor: {initial_value: {seq: $s, run_id: $r}, ordering: UP}) { seq nope } }');
    c.check('bigbatch', 'subscription BigBatch($s: bigint!) { samples_stream(batch_size: 100000000, cursor: {initial_value: {seq: $s}}) { seq } }');
    const all = c.problems.join('\n');
    expect(all).toMatch(/two: a subscription must have exactly one root field/);
    expect(all).toMatch(/qstream samples_stream: _stream exists only on subscriptions/);
    expect(all).toMatch(/nocursor samples_stream: samples_stream needs a cursor/);
    expect(all).toMatch(/twocols samples_stream: the cursor must name exactly one column/);
    expect(all).toMatch(/twocols samples_stream: cursor ordering must be ASC or DESC/);
    expect(all).toMatch(/samples\.nope is not in anonymous's select permission/);
    if (tables.get('samples')?.limit != null) expect(all).toMatch(/batch_size 100000000 exceeds/);

    // Root field visibility: a permission that hides select_stream from subscriptions.
    const narrowed = new Map(tables);
    narrowed.set('samples', { ...tables.get('samples')!, subscriptionRootFields: new Set(['select']), queryRootFields: new Set(['select_by_pk']) });
    const n = checker(narrowed);
    n.check('RUN_SAMPLES_STREAM', queries.RUN_SAMPLES_STREAM);
    n.check('RUN_SAMPLES_QUERY', queries.RUN_SAMPLES_QUERY);
    expect(n.problems.join('\n')).toMatch(/select_stream on samples is not in anonymous's subscription_root_fields/);
    expect(n.problems.join('\n')).toMatch(/select on samples is not in anonymous's query_root_fields/);
  });

  it('has the live-update subscriptions the run, agents and group pages use', () => {
    const ops = documents().map(([, text]) => parse(text).definitions[0]);
    const subs = ops.filter((d) => d.kind === Kind.OPERATION_DEFINITION && d.operation === 'subscription');
    expect(subs.map((d) => (d.kind === Kind.OPERATION_DEFINITION ? d.name?.value : '')).sort()).toEqual(['AgentsLive', 'GroupJobsLive', 'JobsLive', 'RunLive', 'RunSamplesStream']);
  });

  it('pages samples by no more than the anonymous row limit (a capped page would pass for the last one)', () => {
    const limit = loadTables(METADATA).get('samples')?.limit;
    expect(limit == null || queries.SAMPLES_PAGE_SIZE <= limit).toBe(true);
    expect(limit == null || queries.SAMPLES_STREAM_BATCH <= limit).toBe(true);
    const minutes = loadTables(METADATA).get('samples_1m')?.limit;
    expect(minutes == null || queries.MINUTES_PAGE_SIZE <= minutes).toBe(true);
    for (const t of ['cluster_node_samples', 'cluster_pool_samples']) {
      const l = loadTables(METADATA).get(t)?.limit;
      expect(l == null || queries.OBSERVATION_PAGE_SIZE <= l, `${t}: limit ${l}`).toBe(true);
    }
    for (const t of ['cluster_node_samples_1m', 'cluster_pool_samples_1m']) {
      const l = loadTables(METADATA).get(t)?.limit;
      expect(l == null || queries.CLUSTER_MINUTES_PAGE_SIZE <= l, `${t}: limit ${l}`).toBe(true);
    }
  });

  it('the operator\'s documents: the sign-in probe for role operator only, and the two actions with their arguments', () => {
    const actions = loadActions(METADATA);
    const op = checker(loadTables(METADATA, 'operator'), functions(), 'operator', actions);
    for (const [name, text] of Object.entries(queries.OPERATOR_DOCUMENTS)) op.check(name, text);
    expect(op.problems).toEqual([]);
    // The probe proves the operator role only because anonymous may not send it (nor the actions).
    const anon = checker(loadTables(METADATA), functions(), 'anonymous', actions);
    for (const [name, text] of Object.entries(queries.OPERATOR_DOCUMENTS)) anon.check(name, text);
    expect(anon.problems.sort()).toEqual([
      'LAUNCH_JOBS: anonymous has no permission on action launchJobs',
      'OPERATOR_PROBE jobs: anonymous has no select permission on jobs',
      'STOP_JOBS: anonymous has no permission on action stopJobs',
    ]);
  });

  it('catches a mutation that is no action, an unknown argument and a missing one (self-test)', () => {
    const actions = new Map<string, Action>([['launchJobs', { op: 'mutation', args: new Set(['kind', 'spec', 'all']), required: new Set(['kind', 'spec']), roles: new Set(['operator']), fields: new Set(['group_id']) }]]);
    const c = checker(loadTables(METADATA, 'operator'), new Map(), 'operator', actions);
    c.check('bad', 'mutation Bad($k: String!) { launchJobs(kind: $k, every: true) { group_id } insert_runs(objects: []) { affected_rows } }');
    expect(c.problems).toEqual([
      'bad: action launchJobs has no argument every', 'bad: action launchJobs needs argument spec',
      'bad: insert_runs is not an action; the viewer writes nothing else',
    ]);
  });

  it('the statistics are the two read-only query actions of sink api, open to anonymous (compareRuns, runHistory)', () => {
    const actions = loadActions(METADATA);
    for (const name of ['compareRuns', 'runHistory']) {
      const a = actions.get(name);
      expect(a, `action ${name} in actions.graphql`).toBeDefined();
      expect(a!.op, name).toBe('query');
      expect(a!.roles.has('anonymous'), `${name} permitted for anonymous in actions.yaml`).toBe(true);
      expect([...a!.fields], name).toEqual(['report']);
    }
    const c = checker(loadTables(METADATA), functions(), 'anonymous', actions);
    c.check('COMPARE_VERDICTS_QUERY', queries.COMPARE_VERDICTS_QUERY);
    c.check('RUN_HISTORY_QUERY', queries.RUN_HISTORY_QUERY);
    expect(c.problems).toEqual([]);
  });

  it('catches a query action call with a missing or unknown argument, an unknown output field, or no permission (self-test)', () => {
    const actions = new Map<string, Action>([
      ['compareRuns', { op: 'query', args: new Set(['baseline', 'candidate', 'confidence']), required: new Set(['baseline', 'candidate']), roles: new Set(['anonymous']), fields: new Set(['report']) }],
      ['secret', { op: 'query', args: new Set(), required: new Set(), roles: new Set(['operator']), fields: new Set(['x']) }],
      ['launchJobs', { op: 'mutation', args: new Set(), required: new Set(), roles: new Set(['anonymous']), fields: new Set(['x']) }],
    ]);
    const c = checker(loadTables(METADATA), new Map(), 'anonymous', actions);
    c.check('bad', 'query Bad($b: uuid!, $m: String) { compareRuns(baseline: $b, max_regression: $m) { report verdicts } secret { x } launchJobs { x } }');
    expect(c.problems).toEqual([
      'bad: action compareRuns has no argument max_regression', 'bad: action compareRuns needs argument candidate',
      'bad: action compareRuns\'s output has no field verdicts', 'bad: anonymous has no permission on action secret',
      'bad launchJobs: launchJobs is not a tracked table or view',
    ]);
  });

  it('sends no admin secret or role header anywhere in the app', () => {
    const files: string[] = [];
    const walk = (d: string) => readdirSync(d).forEach((f: string) => (statSync(join(d, f)).isDirectory() ? walk(join(d, f)) : files.push(join(d, f))));
    walk(resolve(HERE, '../src'));
    walk(resolve(HERE, '../public'));
    for (const f of files) expect(readFileSync(f, 'utf8'), f).not.toMatch(/x-hasura-(admin-secret|role)|admin_secret|adminSecret/i);
  });
});
