/**
 * Execution with graphql-jit, plugged into Apollo Server through its
 * `gateway` option: Apollo still parses, validates, runs every plugin and
 * formats errors; only the execution step is ours. Apollo Server 5 has no
 * other executor seam (its `executor` option went in version 4; the
 * migration guide names `gateway` in its place): why, and the test that
 * fails if Apollo changes it, in
 * docs/architecture/decisions/2026-12-07-graphql-jit-seam.md.
 *
 * graphql-jit compiles an operation into a JavaScript function once and runs
 * that for every request with the same document, instead of graphql-js
 * walking the document and the schema on each request. It calls the
 * schema's own resolvers, so the graphql-shield wrappers (and every other
 * resolver wrapper) run exactly as with graphql-js.
 *
 * What is kept identical to graphql-js on purpose:
 * - variables are coerced by graphql-js's own `getVariableValues` first; a
 *   bad variable gets graphql-js's error (Apollo turns it into
 *   BAD_USER_INPUT), and graphql-jit only sees values that coerce;
 * - errors are rebuilt as graphql-js `GraphQLError`s with the same message,
 *   path, locations, original error and extensions, so error masking
 *   (`formatError`, which unwraps the resolver's original error) and the
 *   response plugin see what they saw before.
 * An operation graphql-jit cannot compile runs with graphql-js, and so
 * does a request whose `operationName` resolves no operation (graphql-js
 * answers it with an error and runs nothing).
 */
import type { ApolloServerOptionsWithGateway, BaseContext } from '@apollo/server';
import { execute, getVariableValues, GraphQLError, type DocumentNode, type ExecutionResult, type GraphQLSchema } from 'graphql';
import { compileQuery, isCompiledQuery, type CompiledQuery } from 'graphql-jit';

type Gateway = ApolloServerOptionsWithGateway<BaseContext>['gateway'];
type Executor = NonNullable<Awaited<ReturnType<Gateway['load']>>['executor']>;

/** How a document runs: compiled, or with graphql-js when it could not be compiled. */
type Runner = CompiledQuery | 'graphql-js';

/** What graphql-jit's own error class carries. */
interface JitError {
  message: string;
  path?: readonly (string | number)[];
  locations?: readonly { line: number; column: number }[];
  originalError?: unknown;
  extensions?: Record<string, unknown>;
}

/**
 * The same error as graphql-js would have made (its `locatedError`): a
 * GraphQLError that already has a path as it is, anything else wrapped in a
 * GraphQLError with the field's path and locations. graphql-jit's error
 * class inherits from GraphQLError's prototype without being one (no
 * `extensions` object, for one), so every error it returns is rebuilt.
 */
function asGraphQLError(error: JitError): GraphQLError {
  const original = error.originalError instanceof Error ? error.originalError : undefined;
  if (original instanceof GraphQLError && Array.isArray(original.path)) return original;
  const rebuilt = new GraphQLError(error.message, {
    ...(error.path ? { path: error.path } : {}),
    ...(original ? { originalError: original } : {}),
    // graphql-js takes an original error's extensions itself; without one, keep what graphql-jit set.
    ...(!original && error.extensions ? { extensions: error.extensions } : {}),
  });
  // graphql-js derives locations from AST nodes; graphql-jit has already computed them.
  if (error.locations) Object.defineProperty(rebuilt, 'locations', { value: error.locations, enumerable: true, writable: true });
  return rebuilt;
}

function withGraphQLErrors(result: ExecutionResult): ExecutionResult {
  if (!result.errors?.length) return result;
  return { ...result, errors: result.errors.map((error) => asGraphQLError(error as JitError)) };
}

/**
 * An Apollo Server `gateway` that serves one fixed schema and executes with
 * graphql-jit. Compiled operations are kept per parsed document (Apollo
 * keeps parsed documents in its document store, so the same query text
 * arrives as the same object) and dropped with it. `onRun` hears which
 * engine ran each operation (the seam's test listens there).
 */
export function jitExecutor(schema: GraphQLSchema, options: { onRun?: (engine: 'graphql-jit' | 'graphql-js') => void } = {}): Gateway {
  const { onRun } = options;
  const compiled = new WeakMap<DocumentNode, Map<string, Runner>>();

  const runnerFor = (document: DocumentNode, operationName: string | null): Runner => {
    let byOperation = compiled.get(document);
    if (!byOperation) {
      byOperation = new Map();
      compiled.set(document, byOperation);
    }
    const key = operationName ?? '';
    let runner = byOperation.get(key);
    if (runner === undefined) {
      let result: CompiledQuery | ExecutionResult | undefined;
      try {
        result = compileQuery<Record<string, unknown>, Record<string, unknown>>(schema, document, operationName ?? undefined);
      } catch {
        result = undefined;
      }
      runner = result !== undefined && isCompiledQuery(result) ? result : 'graphql-js';
      byOperation.set(key, runner);
    }
    return runner;
  };

  const executor: Executor = async ({ document, operation, operationName, request, context }) => {
    // No operation to run (`operationName` names none, or several and no name): graphql-js answers
    // with its error and runs nothing; Apollo reports it as OPERATION_RESOLUTION_FAILURE.
    // The operation's type says `operation` is always there; Apollo passes what it resolved, which may be nothing.
    if ((operation as typeof operation | undefined) === undefined) {
      onRun?.('graphql-js');
      return execute({ schema, document, contextValue: context, variableValues: request.variables ?? {}, operationName: request.operationName ?? null });
    }
    const variables = request.variables ?? {};
    const coerced = getVariableValues(schema, operation.variableDefinitions ?? [], variables, { maxErrors: 50 });
    if (coerced.errors) return { errors: coerced.errors };
    const runner = runnerFor(document, operationName);
    onRun?.(runner === 'graphql-js' ? 'graphql-js' : 'graphql-jit');
    if (runner === 'graphql-js') {
      return execute({ schema, document, contextValue: context, variableValues: variables, operationName });
    }
    return withGraphQLErrors(await runner.query(undefined, context, variables));
  };

  return {
    onSchemaLoadOrUpdate(callback) {
      callback({ apiSchema: schema, coreSupergraphSdl: '' });
      return () => undefined;
    },
    load: async () => ({ executor }),
    stop: async () => undefined,
  };
}
