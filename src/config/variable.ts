/**
 * What declaring one environment variable takes: its schema, its default
 * (fixed, or computed from a few other settings) and its documentation,
 * side by side, so the reference generated from them cannot drift.
 */
import type { VariableSchema } from './coerce.js';
import type { NodeEnv, OtlpProtocol } from './types.js';

/** Headings of the generated reference, in order. */
export const SECTIONS = [
  'Runtime',
  'Database',
  'Logging',
  'GraphQL',
  'REST',
  'HTTP',
  'Shutdown',
  'Authentication',
  'Redis',
  'Login limits',
  'Query limits and cost budgets',
  'Persisted and trusted documents',
  'Payments',
  'Response cache',
  'Live updates',
  'Metrics',
  'Tracing',
  'Job worker',
  'Webhooks',
] as const;
export type Section = (typeof SECTIONS)[number];

/**
 * The settings other variables' defaults or ranges depend on. Each is read
 * (and checked) once, whichever variable asks first.
 */
export interface Dependencies {
  readonly nodeEnv: NodeEnv;
  readonly databasePoolMax: number;
  /** GRAPHQL_SANDBOX when set and valid. */
  readonly graphqlSandbox: boolean | undefined;
  readonly otlpProtocol: OtlpProtocol;
  readonly otelSdkDisabled: boolean;
  /** Whether a variable is set (not empty), valid or not. */
  isSet(name: string): boolean;
}

interface Documented {
  section: Section;
  /** What the variable does (Markdown, one paragraph). */
  about: string;
  /** A value to show in .env.example when there is no default to show. */
  example?: string;
  /** May hold a secret: never echoed, and `<NAME>_FILE` may name a file holding it instead. */
  fromFile?: true;
}

/** How a fixed default is written in .env.example: `4000`, `a,b`; empty for an empty list. */
function plain(value: unknown): string {
  return Array.isArray(value) ? value.map(String).join(',') : String(value);
}

export interface Variable<T, Kind extends 'setting' | 'optional' = 'setting' | 'optional'> extends Documented {
  kind: Kind;
  /** The schema reading the variable's text, given the settings it may depend on. */
  schema: (dependencies: Dependencies) => VariableSchema<T>;
  /** Unset, invalid or ignored: this value (an optional variable has none). */
  fallback: (dependencies: Dependencies) => Kind extends 'optional' ? undefined : T;
  /** The fixed default as written in .env.example, when there is one. */
  fixedDefault: string | undefined;
  /** The default in words, where it is computed. */
  defaultText: string | undefined;
  /** What the variable accepts, where the schema is computed (else the schema says it). */
  accepts: string | undefined;
  /** The schema, where it is fixed (the reference reads what it accepts from it). */
  fixedSchema: VariableSchema<T> | undefined;
  /** When this holds the variable is not read at all (and its default stands). */
  ignoredWhen: ((dependencies: Dependencies) => boolean) | undefined;
}

interface Reading {
  ignoredWhen?: (dependencies: Dependencies) => boolean;
}

/** A fixed schema and default. */
type Fixed<T> = { schema: VariableSchema<T>; default: NoInfer<T> };
/** A default that depends on other settings, said in words for the reference. */
type ComputedDefault<T> = { schema: VariableSchema<T>; defaultFrom: (dependencies: Dependencies) => NoInfer<T>; defaultText: string };
/** A range and default that depend on other settings, said in words for the reference. */
type ComputedRange<T> = {
  schemaFrom: (dependencies: Dependencies) => VariableSchema<T>;
  accepts: string;
  defaultFrom: (dependencies: Dependencies) => NoInfer<T>;
  defaultText: string;
};

/** A variable with a default. */
export function setting<T>(declaration: Documented & Reading & (Fixed<T> | ComputedDefault<T> | ComputedRange<T>)): Variable<T, 'setting'> {
  const { section, about, example, fromFile, ignoredWhen } = declaration;
  const documented: Documented = { section, about, ...(example === undefined ? {} : { example }), ...(fromFile ? { fromFile } : {}) };
  const common = { ...documented, kind: 'setting' as const, ignoredWhen };
  if ('schemaFrom' in declaration) {
    return {
      ...common,
      schema: declaration.schemaFrom,
      fallback: declaration.defaultFrom,
      fixedDefault: undefined,
      defaultText: declaration.defaultText,
      accepts: declaration.accepts,
      fixedSchema: undefined,
    };
  }
  const schema = declaration.schema;
  const computed = 'defaultFrom' in declaration;
  return {
    ...common,
    schema: () => schema,
    fallback: computed ? declaration.defaultFrom : () => declaration.default,
    fixedDefault: computed ? undefined : plain(declaration.default),
    defaultText: computed ? declaration.defaultText : undefined,
    accepts: undefined,
    fixedSchema: schema,
  };
}

/** A variable without a default: unset means `undefined`. */
export function optional<T>(declaration: Documented & { schema: VariableSchema<T> }): Variable<T, 'optional'> {
  const { schema, ...documented } = declaration;
  return {
    ...documented,
    kind: 'optional',
    schema: () => schema,
    fallback: () => undefined,
    fixedDefault: undefined,
    defaultText: undefined,
    accepts: undefined,
    fixedSchema: schema,
    ignoredWhen: undefined,
  };
}

/** The value a variable gives the configuration. */
export type ValueOf<V> = V extends Variable<infer T, 'optional'> ? T | undefined : V extends Variable<infer T, 'setting'> ? T : never;
