/**
 * Runs subscription operations for both transports (WebSocket, src/subscriptions/ws.ts;
 * Server-Sent Events, src/subscriptions/sse.ts), the same way:
 *
 * 1. before anything opens, the document meets the limits of every query
 *    (bytes, tokens, depth, aliases, directives, cost; introspection and
 *    control characters as over HTTP), must be a subscription, and the
 *    subscriber is authenticated from their stored credential;
 * 2. the per-connection and per-user caps are checked;
 * 3. the field's `subscribe` resolver runs behind its permission rule
 *    (graphql-shield wraps it) and checks what it is given (an order the
 *    subscriber may not see is refused like a missing one): any refusal is
 *    answered as errors, and no stream opens;
 * 4. for every event, the credential is authenticated again, the root
 *    field's rule asked again against the subscriber as they are now, and
 *    the event's selection executed in that fresh scope (fresh loaders, so
 *    nothing is read from an earlier event). A refusal is sent as a coded
 *    error and ends the stream.
 */
import {
  createSourceEventStream,
  execute,
  getOperationAST,
  GraphQLError,
  Kind,
  NoSchemaIntrospectionCustomRule,
  OperationTypeNode,
  parse,
  specifiedRules,
  validate,
  type DocumentNode,
  type ExecutionArgs,
  type ExecutionResult,
  type FieldNode,
  type GraphQLFormattedError,
  type GraphQLSchema,
  type OperationDefinitionNode,
} from 'graphql';

import { AuthenticationError, authenticate } from '../auth/authenticate.js';
import type { Viewer } from '../auth/viewer.js';
import type { OperationAuthorizer } from '../authz/operation-authorization.js';
import type { QueryLimitsConfig } from '../config/config.js';
import { errorCodes, isErrorCode } from '../errors/codes.js';
import { AppError, appError } from '../errors/errors.js';
import { formatError, originalError } from '../errors/format.js';
import { createContext, type GraphQLContext } from '../graphql/context.js';
import { inputHygieneRule } from '../graphql/input-hygiene.js';
import { requestedCost } from '../limits/cost.js';
import type { CostLimiter } from '../limits/cost-limiter.js';
import { principalOf } from '../limits/cost.plugin.js';
import { countRateLimitRefusal } from '../observability/metrics.js';
import { checkDocumentText, checkRequestJson, documentLimitRules, queryTooComplex } from '../limits/query-limits.js';
import { documentHash, type TrustedDocuments } from '../limits/trusted-documents.js';
import type { AppLoaders } from '../modules/registry.js';
import { RequestStats } from '../observability/request-stats.js';
import type { Change } from '../scope/change-feed.js';
import { attachLive, type LiveOperation } from '../scope/live.js';
import { buildScope, type RequestMeta, type ScopeDeps, type ScopeLogger } from '../scope/scope.js';
import type { LiveHub } from './hub.js';
import { liveMetrics } from './metrics.js';

/** One transport connection (a WebSocket, or one SSE stream). */
export interface LiveConnection {
  /** `Bearer <access token or API key>` as sent at connection_init or on the request; `undefined`: anonymous. */
  authorization: string | undefined;
  meta: RequestMeta;
  /** Aborted when the connection ends or the server shuts down: its streams end. */
  signal: AbortSignal;
  /** Subscriptions open on it now. */
  active: number;
}

export interface SubscriptionLimits {
  perConnection: number;
  perUser: number;
}

export interface LiveOperationsOptions {
  schema: GraphQLSchema;
  /** The permission rules of root fields, asked again for every event; absent when authorization is off (benchmarks only). */
  authorizeOperation: OperationAuthorizer | undefined;
  deps: ScopeDeps<AppLoaders>;
  log: ScopeLogger;
  hub: LiveHub;
  queryLimits: QueryLimitsConfig;
  limits: SubscriptionLimits;
  knownDirectives: ReadonlySet<string>;
  introspection: boolean;
  /** Trusted-documents mode (TRUSTED_DOCUMENTS_FILE): only listed documents subscribe, as over HTTP. */
  trusted?: TrustedDocuments;
  /** The query-cost budgets: a subscribe is charged its requested cost, like an operation over HTTP. */
  limiter?: CostLimiter;
}

export interface SubscriptionRequest {
  query: unknown;
  variables?: unknown;
  operationName?: unknown;
}

/** A subscription's results; `return` ends it at once (the client completed, the connection closed). */
export type LiveStream = AsyncIterableIterator<ExecutionResult> & { return(value?: unknown): Promise<IteratorResult<ExecutionResult>> };

export type Prepared =
  | { ok: true; args: ExecutionArgs; stream: LiveStream }
  | { ok: false; errors: GraphQLFormattedError[]; status: number };

const effects = { apply: () => undefined };

function formatted(error: unknown): GraphQLFormattedError {
  const graphqlError = error instanceof GraphQLError ? error : new GraphQLError(error instanceof Error ? error.message : 'error', { originalError: error instanceof Error ? error : undefined, extensions: error instanceof AppError ? error.extensions : {} });
  return formatError(graphqlError.toJSON(), graphqlError);
}

function codeOf(error: GraphQLFormattedError): string {
  const code = error.extensions?.['code'];
  return typeof code === 'string' ? code : 'INTERNAL_SERVER_ERROR';
}

function refusal(errors: readonly GraphQLFormattedError[]): Prepared {
  const first = errors[0];
  const code = first ? codeOf(first) : 'BAD_REQUEST';
  const status = isErrorCode(code) ? errorCodes[code].status : 400;
  return { ok: false, errors: [...errors], status: status < 400 ? 403 : status };
}

export class LiveOperations {
  private readonly perUser = new Map<string, number>();
  private readonly rules;

  constructor(private readonly options: LiveOperationsOptions) {
    this.rules = [...specifiedRules, ...documentLimitRules(options.queryLimits), ...(options.introspection ? [] : [NoSchemaIntrospectionCustomRule]), inputHygieneRule];
  }

  /** The subscriber as they are now; a credential that no longer authenticates is an UNAUTHENTICATED AppError. */
  async viewerOf(connection: LiveConnection): Promise<Viewer | null> {
    const scope = buildScope({ deps: this.options.deps, request: connection.meta, log: this.options.log });
    try {
      return await authenticate(scope, connection.authorization);
    } catch (error) {
      if (error instanceof AuthenticationError) throw appError('UNAUTHENTICATED', error.description);
      throw error;
    }
  }

  private context(connection: LiveConnection, viewer: Viewer | null): GraphQLContext<AppLoaders> {
    const scope = buildScope({ deps: this.options.deps, request: connection.meta, log: this.options.log, viewer });
    return createContext(scope, new RequestStats(), effects);
  }

  /** Checks a subscription and opens its stream, or answers why not (nothing opened then). */
  async prepare(connection: LiveConnection, request: SubscriptionRequest): Promise<Prepared> {
    // Slots are taken before anything is awaited, so a burst of subscribe messages cannot overshoot the caps.
    const { perConnection } = this.options.limits;
    if (connection.active >= perConnection) {
      return refusal([formatted(appError('SUBSCRIPTION_LIMIT_REACHED', `At most ${perConnection} subscriptions may be open on one connection.`, { limit: perConnection }))]);
    }
    connection.active += 1;
    let userKey: string | undefined;
    const releaseSlots = () => {
      connection.active -= 1;
      if (userKey === undefined) return;
      const left = (this.perUser.get(userKey) ?? 1) - 1;
      if (left > 0) this.perUser.set(userKey, left);
      else this.perUser.delete(userKey);
    };
    const takeUserSlot = (key: string) => {
      const { perUser } = this.options.limits;
      if ((this.perUser.get(key) ?? 0) >= perUser) throw appError('SUBSCRIPTION_LIMIT_REACHED', `At most ${perUser} subscriptions may be open for one user.`, { limit: perUser });
      this.perUser.set(key, (this.perUser.get(key) ?? 0) + 1);
      userKey = key;
    };
    let prepared: Prepared;
    try {
      prepared = await this.open(connection, request, takeUserSlot, releaseSlots);
    } catch (error) {
      if (!(error instanceof AppError || error instanceof GraphQLError)) {
        releaseSlots();
        throw error;
      }
      prepared = refusal([formatted(error)]);
    }
    if (!prepared.ok) releaseSlots();
    return prepared;
  }

  private async open(connection: LiveConnection, request: SubscriptionRequest, takeUserSlot: (userId: string) => void, releaseSlots: () => void): Promise<Prepared> {
    const { schema, queryLimits } = this.options;
    if (typeof request.query !== 'string') throw appError('BAD_REQUEST', 'Send the subscription document as `query`.');
    const variables = request.variables ?? {};
    if (typeof variables !== 'object' || variables === null || Array.isArray(variables)) throw appError('BAD_REQUEST', '`variables` must be an object.');
    const operationName = typeof request.operationName === 'string' ? request.operationName : undefined;
    if (this.options.trusted && !this.options.trusted.has(documentHash(request.query))) throw appError('DOCUMENT_NOT_TRUSTED');
    const tooBig = checkDocumentText(request.query, { ...queryLimits, knownDirectives: this.options.knownDirectives }) ?? checkRequestJson('variables', variables);
    if (tooBig) throw tooBig;
    let document: DocumentNode;
    try {
      document = parse(request.query, { maxTokens: queryLimits.maxTokens });
    } catch (error) {
      throw new GraphQLError(error instanceof Error ? error.message : 'Syntax Error', { extensions: { code: 'GRAPHQL_PARSE_FAILED' } });
    }
    const invalid = validate(schema, document, this.rules);
    if (invalid.length > 0) {
      return refusal(invalid.map((error) => formatted(originalError(error) instanceof AppError ? error : new GraphQLError(error.message, { nodes: error.nodes, extensions: { code: 'GRAPHQL_VALIDATION_FAILED' } }))));
    }
    const operation = getOperationAST(document, operationName);
    if (!operation) throw appError('BAD_REQUEST', 'Name the operation to run (`operationName`).');
    if (operation.operation !== OperationTypeNode.SUBSCRIPTION) {
      throw appError('SUBSCRIPTION_NOT_SUPPORTED', 'Only subscriptions run on this transport: send queries and mutations with POST /graphql.');
    }
    const cost = requestedCost({ schema, document, operation, variables: variables as Record<string, unknown> });
    if (cost > queryLimits.maxCost) throw queryTooComplex('cost', queryLimits.maxCost, cost);

    const viewer = await this.viewerOf(connection);
    if (viewer) takeUserSlot(viewer.userId);

    const args = { schema, document, variableValues: variables as Record<string, unknown>, operationName };
    const context = this.context(connection, viewer);
    await this.charge(context, cost);
    // Ended by the client (complete), the connection closing, or the server shutting down.
    const ended = new AbortController();
    const field = rootFieldName(operation);
    const live = this.liveOperation(connection, AbortSignal.any([connection.signal, ended.signal]), field, { document, operation, variables });
    attachLive(context, live);
    const source = await createSourceEventStream({ ...args, contextValue: context });
    if (!(Symbol.asyncIterator in source)) return refusal((source.errors ?? []).map(formatted));

    liveMetrics.subscriptions.inc({ field });
    const release = () => {
      releaseSlots();
      liveMetrics.subscriptions.dec({ field });
    };
    return { ok: true, args: { ...args, contextValue: context }, stream: endable(this.events(source, live, args, field, release), ended) };
  }

  /** Takes a subscribe's requested cost from the caller's budget (events are not charged); RATE_LIMITED when it does not fit. */
  private async charge(context: GraphQLContext<AppLoaders>, cost: number): Promise<void> {
    const { limiter } = this.options;
    if (!limiter) return;
    let result;
    try {
      result = await limiter.charge(principalOf(context), cost);
    } catch (error) {
      context.log.error({ err: error }, 'query-cost limiter failed; subscription runs uncharged');
      return;
    }
    if (result.allowed) return;
    countRateLimitRefusal('operation_cost');
    throw new AppError('RATE_LIMITED', `This subscription costs ${cost} points and ${result.remaining} are left in this window; retry after ${result.retryAfterSeconds} s.`, {
      retryAfterSeconds: result.retryAfterSeconds,
    });
  }

  private liveOperation(
    connection: LiveConnection,
    signal: AbortSignal,
    field: string,
    operation: { document: DocumentNode; operation: OperationDefinitionNode; variables: unknown },
  ): LiveOperation & { current: GraphQLContext<AppLoaders> | undefined; heardAt: number } {
    const { hub, authorizeOperation } = this.options;
    const live = {
      startedAt: new Date(),
      current: undefined as GraphQLContext<AppLoaders> | undefined,
      /** When the change behind the event being prepared was heard (performance.now()). */
      heardAt: 0,
      changes: <C extends Change>(entity: string, match: (change: C) => boolean) => {
        const changes = hub.stream((change): change is C => change.entity === entity && match(change as C), signal);
        const timed: AsyncIterableIterator<C> = {
          [Symbol.asyncIterator]: () => timed,
          next: async () => {
            const next = await changes.next();
            live.heardAt = performance.now();
            return next;
          },
          return: () => changes.return?.() ?? Promise.resolve({ done: true, value: undefined }),
        };
        return timed;
      },
      eventScope: async () => {
        const viewer = await this.viewerOf(connection);
        const context = this.context(connection, viewer);
        attachLive(context, live);
        if (authorizeOperation && (await authorizeOperation(context, operation)) === 'refused') {
          throw viewer ? appError('FORBIDDEN', 'You may no longer receive this subscription.') : appError('UNAUTHENTICATED');
        }
        live.current = context;
        return context;
      },
      skipped: () => {
        live.current = undefined;
        liveMetrics.events.inc({ field, outcome: 'skipped' });
      },
    };
    return live;
  }

  /** Each source payload executed in the event's fresh scope; a refusal is sent as errors and ends the stream. */
  private async *events(
    source: AsyncIterable<unknown>,
    live: { current: GraphQLContext<AppLoaders> | undefined; heardAt: number },
    args: Omit<ExecutionArgs, 'contextValue'>,
    field: string,
    release: () => void,
  ): AsyncGenerator<ExecutionResult> {
    try {
      for await (const payload of source) {
        const result = await execute({ ...args, rootValue: payload, contextValue: live.current });
        // The event's scope (its loaders and what they read) is not kept until the next event.
        live.current = undefined;
        liveMetrics.events.inc({ field, outcome: 'sent' });
        liveMetrics.lag.observe((performance.now() - live.heardAt) / 1000);
        yield result.errors ? { ...result, errors: result.errors.map((error) => toGraphQLError(formatted(error))) } : result;
      }
    } catch (error) {
      const answer = formatted(error instanceof AppError ? error : originalError(error));
      if (codeOf(answer) === 'INTERNAL_SERVER_ERROR') this.options.log.error({ err: error, field }, 'live updates: event failed');
      liveMetrics.events.inc({ field, outcome: 'ended' });
      yield { errors: [toGraphQLError(answer)] };
    } finally {
      release();
    }
  }
}

/**
 * The stream as the transports hold it. Returning an async generator waits
 * for the value it is computing, and a stream waits for the next change: so
 * `return` (the client completed, the socket closed) aborts the operation's
 * changes instead, which lets the generator finish and release its caps.
 */
function endable(events: AsyncGenerator<ExecutionResult>, ended: AbortController): LiveStream {
  const stream: LiveStream = {
    [Symbol.asyncIterator]: () => stream,
    next: () => events.next(),
    return: async () => {
      ended.abort();
      void events.return(undefined).catch(() => undefined);
      return { done: true, value: undefined };
    },
  };
  return stream;
}

/** A formatted error carried through a transport that formats GraphQLErrors itself. */
function toGraphQLError(error: GraphQLFormattedError): GraphQLError {
  return new GraphQLError(error.message, { extensions: error.extensions ?? {}, ...(error.path ? { path: error.path } : {}) });
}

function rootFieldName(operation: OperationDefinitionNode): string {
  const first = operation.selectionSet.selections.find((selection): selection is FieldNode => selection.kind === Kind.FIELD);
  return first?.name.value ?? 'unknown';
}
