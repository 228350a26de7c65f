// Reads the Hasura metadata directory (config v3) the way the CLI does: databases/databases.yaml, then the tables
// it includes. Includes are strings "!include <path>" (what `hasura metadata export` writes) or YAML tags
// `!include <path>`, resolved against the including file's directory.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { parse } from 'yaml';

export interface TableMeta {
  name: string;
  schema: string;
  file: string;
  /** The role has a select permission on the table. */
  permitted: boolean;
  /** The role's select columns ('*' = all, which Hasura allows but we can't check column by column). */
  columns: Set<string> | '*';
  allowAggregations: boolean;
  limit: number | null;
  /**
   * Root field visibility (Hasura ≥ 2.8): which of select, select_by_pk, select_aggregate the role gets under
   * query_root, and which of those and select_stream under subscription_root. null (absent) = all of them.
   */
  queryRootFields: Set<string> | null;
  subscriptionRootFields: Set<string> | null;
  relationships: Map<string, { kind: 'object' | 'array'; remote: string }>;
}

const INCLUDE = /^!include\s+(.+)$/;

const includeTag = {
  tag: '!include',
  resolve: (s: string) => `!include ${s}`,
};

function load(file: string): unknown {
  return expand(parse(readFileSync(file, 'utf8'), { customTags: [includeTag] }), dirname(file));
}

function expand(v: unknown, dir: string): unknown {
  if (typeof v === 'string') {
    const m = INCLUDE.exec(v.trim());
    return m ? load(resolve(dir, m[1].trim())) : v;
  }
  if (Array.isArray(v)) return v.flatMap((x) => {
    const e = expand(x, dir);
    // An included list inside a list (tables.yaml entries are single tables, but be lenient) is spliced in.
    return Array.isArray(e) && typeof x === 'string' ? e : [e];
  });
  if (v && typeof v === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v)) out[k] = expand(x, dir);
    return out;
  }
  return v;
}

export class MetadataMissing extends Error {}

type Rel = { name: string; using: { manual_configuration?: { remote_table: { name: string } | string }; foreign_key_constraint_on?: unknown } };

/** Tracked tables by GraphQL root name (public schema: the table name; else schema_table), for role. */
export function loadTables(metadataDir: string, role = 'anonymous'): Map<string, TableMeta> {
  const dbFile = resolve(metadataDir, 'databases/databases.yaml');
  if (!existsSync(dbFile)) throw new MetadataMissing(`deploy/hasura metadata missing: ${dbFile} not found`);
  const sources = load(dbFile) as { name: string; tables?: unknown }[];
  const out = new Map<string, TableMeta>();
  for (const src of sources ?? []) {
    for (const t of (src.tables as Record<string, any>[]) ?? []) {
      const name: string = t.table.name;
      const schema: string = t.table.schema ?? 'public';
      const gqlName: string = t.configuration?.custom_name ?? (schema === 'public' ? name : `${schema}_${name}`);
      const perm = (t.select_permissions ?? []).find((p: { role: string }) => p.role === role)?.permission;
      const cols: Set<string> | '*' = perm?.columns === '*' ? '*' : new Set<string>(perm?.columns ?? []);
      const rels = new Map<string, { kind: 'object' | 'array'; remote: string }>();
      for (const [kind, list] of [['object', t.object_relationships], ['array', t.array_relationships]] as const) {
        for (const r of (list as Rel[]) ?? []) {
          const rt = r.using.manual_configuration?.remote_table;
          if (!rt) throw new Error(`${gqlName}.${r.name}: only manual relationships are understood by this test`);
          rels.set(r.name, { kind, remote: typeof rt === 'string' ? rt : rt.name });
        }
      }
      out.set(gqlName, {
        name, schema, file: src.name, permitted: !!perm, columns: cols, allowAggregations: !!perm?.allow_aggregations,
        limit: perm?.limit ?? null, relationships: rels,
        queryRootFields: Array.isArray(perm?.query_root_fields) ? new Set<string>(perm.query_root_fields) : null,
        subscriptionRootFields: Array.isArray(perm?.subscription_root_fields) ? new Set<string>(perm.subscription_root_fields) : null,
      });
    }
  }
  return out;
}

export interface FunctionMeta {
  name: string;
  schema: string;
  /** The role is in the function's permissions (may call it). */
  permitted: boolean;
}

/** Tracked functions by GraphQL root name (public schema: the function name), for role. */
export function loadFunctions(metadataDir: string, role = 'anonymous'): Map<string, FunctionMeta> {
  const dbFile = resolve(metadataDir, 'databases/databases.yaml');
  if (!existsSync(dbFile)) throw new MetadataMissing(`deploy/hasura metadata missing: ${dbFile} not found`);
  const sources = load(dbFile) as { name: string; functions?: unknown }[];
  const out = new Map<string, FunctionMeta>();
  for (const src of sources ?? []) {
    for (const f of (src.functions as Record<string, any>[]) ?? []) {
      const name: string = f.function.name;
      const schema: string = f.function.schema ?? 'public';
      const permitted = (f.permissions ?? []).some((p: { role: string }) => p.role === role);
      out.set(schema === 'public' ? name : `${schema}_${name}`, { name, schema, permitted });
    }
  }
  return out;
}

export interface SqlFunction {
  /** Input argument names, in order. */
  args: string[];
  /** The table it returns a set of. */
  returns: string;
}

/**
 * The set-returning SQL functions the migrations create (CREATE FUNCTION name(arg type [DEFAULT …], …) RETURNS
 * SETOF table): what Hasura reads from the database when it tracks a function, read here from the SQL since no
 * database runs in these tests.
 */
export function loadSqlFunctions(migrationsDir: string): Map<string, SqlFunction> {
  const out = new Map<string, SqlFunction>();
  for (const f of readdirSync(migrationsDir).filter((n) => n.endsWith('.sql')).sort()) {
    const sql = readFileSync(resolve(migrationsDir, f), 'utf8');
    for (const m of sql.matchAll(/CREATE (?:OR REPLACE )?FUNCTION (\w+)\s*\(([^)]*)\)\s*RETURNS SETOF (\w+)/gi)) {
      const args = m[2].split(',').map((a) => a.trim().split(/\s+/)[0]).filter((a) => a && !/^(OUT|IN)$/i.test(a));
      out.set(m[1], { args, returns: m[3] });
    }
  }
  return out;
}
