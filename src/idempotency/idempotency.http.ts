import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { Kind, OperationTypeNode, parse, type DocumentNode, type OperationDefinitionNode, type SelectionSetNode } from 'graphql';
import type { Kysely } from 'kysely';

import type { OperationAuthorizer } from '../authz/operation-authorization.js';
import { beginUnit, isTransientFailure, type OpenUnit } from '../db/unit-of-work.js';
import type { Database } from '../db/database.js';
import { DATABASE_RETRY_AFTER_SECONDS, isDatabaseUnavailable, isRetryableDatabaseError, logRetryableDatabaseError } from '../db/faults.js';
import { requestError } from '../errors/errors.js';
import { operationRouteOf } from '../http/operation-route.js';
import type { ErrorCode } from '../errors/codes.js';
import { errorCodes } from '../errors/codes.js';
import { keyRequiredMutations, type AppLoaders } from '../modules/registry.js';
import { requestFingerprint } from './fingerprint.js';
import { createClaimUpkeep } from './claim-upkeep.js';
import { claimKey, credentialOf, newClaim, storeResponse, type Claim } from './idempotency.service.js';
import type { ResponseSealer } from './sealed-response.js';

/**
 * Idempotency keys at the HTTP edge (docs/architecture/decisions/0045-idempotency-keys-src-idempotency.md).
 *
 * For a POST whose operation is a mutation and that carries `Idempotency-Key`:
 * 1. preHandler (after authentication): a key without credentials is 401.
 *    The operation's permission rules run for the caller as they are now
 *    (src/authz/operation-authorization.ts); if any root field is refused,
 *    nothing is claimed or replayed: GraphQL answers the request with
 *    mutations blocked, i.e. exactly the refusal a fresh call gets. Otherwise
 *    the key is claimed IN_PROGRESS for (user, credential, key) with the
 *    request's fingerprint, in its own committed statement (a lease that this
 *    process renews while the request runs: ./claim-keeper.ts), or the request is
 *    answered at once: the stored response replayed (`Idempotent-Replayed:
 *    true`), 422 for another fingerprint, 409 while the first runs. Then the
 *    edge opens the outermost unit of work and the whole GraphQL execution
 *    runs in it: every service joins it.
 * 2. onSend: a final answer (data, user errors) is stored, sealed, on the
 *    claim in that unit, and the unit commits: the writes and the stored
 *    response commit together or not at all. Anything else rolls back and
 *    frees the key: a refusal (never stored), a request refused before
 *    execution (4xx), a server failure. When the unit rolled back, the
 *    client is told so (503 or 500, no data), never a 200 whose data did not
 *    commit. A COMMIT whose connection was lost has an unknown outcome: 503,
 *    and the claim is released once the database answers (it then resolves
 *    to the committed response, or to a free key).
 *
 * A document with several mutation fields and a key is one unit: all of its
 * fields commit together with the one stored response, or none do.
 */

/** Mutations that refuse to run without a key (money and stock move), as the modules declare them. */
export const KEY_REQUIRED_MUTATIONS: ReadonlySet<string> = keyRequiredMutations;

/** 1 to 255 printable ASCII characters (space included, other control characters not). */
const KEY_FORMAT = /^[\x20-\x7e]{1,255}$/;
/** Refusals of the permission layer: never stored, so the same key works once the caller may run the request. */
const REFUSALS = new Set<string>(['UNAUTHENTICATED', 'FORBIDDEN']);
/** A persisted document evicted between the key's claim and execution: nothing ran, the client must send the document. */
const NOTHING_RAN = new Set<string>(['PERSISTED_QUERY_NOT_FOUND']);

interface KeyedRequest {
  claim: Claim;
  unit: OpenUnit<AppLoaders>;
}

declare module 'fastify' {
  interface FastifyRequest {
    idempotency: KeyedRequest | undefined;
  }
}

interface GraphQLBody {
  query?: unknown;
  operationName?: unknown;
  variables?: unknown;
  extensions?: unknown;
}

interface ResolvedDocument {
  text: string;
  document: DocumentNode;
  operation: OperationDefinitionNode;
}

/** Looks up the document of a hash-only (persisted or trusted) request; `undefined` when unknown. */
export type DocumentByHash = (sha256Hash: string) => Promise<string | undefined>;

function persistedHash(body: GraphQLBody): string | undefined {
  const extensions = body.extensions;
  if (typeof extensions !== 'object' || extensions === null) return undefined;
  const persisted = (extensions as { persistedQuery?: unknown }).persistedQuery;
  if (typeof persisted !== 'object' || persisted === null) return undefined;
  const hash = (persisted as { sha256Hash?: unknown }).sha256Hash;
  return typeof hash === 'string' ? hash : undefined;
}

/**
 * The mutation a POST body will run, whether it carries the text or only a
 * persisted hash; `null` when it runs no mutation, or nothing at all (Apollo
 * answers: a parse error, an unknown hash). A document whose text does not
 * contain `mutation` cannot hold one, so queries (nearly every request) are
 * not parsed here a second time.
 */
async function mutationOf(body: GraphQLBody, documentByHash: DocumentByHash): Promise<ResolvedDocument | null> {
  let text: string | undefined;
  if (typeof body.query === 'string') text = body.query;
  else {
    const hash = persistedHash(body);
    if (hash !== undefined) text = await documentByHash(hash);
  }
  if (text === undefined || !text.includes('mutation')) return null;
  let document: DocumentNode;
  try {
    document = parse(text);
  } catch {
    return null;
  }
  const operations = document.definitions.filter((d): d is OperationDefinitionNode => d.kind === Kind.OPERATION_DEFINITION);
  const name = typeof body.operationName === 'string' ? body.operationName : null;
  const operation = name === null ? (operations.length === 1 ? operations[0] : undefined) : operations.find((o) => o.name?.value === name);
  return operation?.operation === OperationTypeNode.MUTATION ? { text, document, operation } : null;
}

/** Root field names of the operation, through fragments. */
function rootFields(document: DocumentNode, selectionSet: SelectionSetNode, seen = new Set<string>()): string[] {
  const names: string[] = [];
  for (const selection of selectionSet.selections) {
    if (selection.kind === Kind.FIELD) names.push(selection.name.value);
    else if (selection.kind === Kind.INLINE_FRAGMENT) names.push(...rootFields(document, selection.selectionSet, seen));
    else if (!seen.has(selection.name.value)) {
      seen.add(selection.name.value);
      const fragment = document.definitions.find((d) => d.kind === Kind.FRAGMENT_DEFINITION && d.name.value === selection.name.value);
      if (fragment?.kind === Kind.FRAGMENT_DEFINITION) names.push(...rootFields(document, fragment.selectionSet, seen));
    }
  }
  return names;
}

interface ResponseBody {
  data?: unknown;
  errors?: Array<{ extensions?: { code?: unknown } }>;
  extensions?: unknown;
}

/**
 * What to do with a keyed response about to be sent: `store` it (a final
 * answer: data, user errors), or roll back and free the key, telling the
 * client the truth: `refused` (a permission refusal: its errors, no data),
 * `failed` (a server failure: 503 or 500, no data), `as-is` (refused
 * before anything ran: the answer stands).
 */
type Verdict =
  | { kind: 'store' }
  | { kind: 'as-is' }
  | { kind: 'refused'; body: ResponseBody }
  | { kind: 'failed'; code: 'SERVICE_UNAVAILABLE' | 'INTERNAL_SERVER_ERROR' };

function judge(status: number, text: string | null): Verdict {
  let parsed: ResponseBody;
  try {
    parsed = JSON.parse(text ?? '') as ResponseBody;
  } catch {
    return { kind: 'failed', code: 'INTERNAL_SERVER_ERROR' };
  }
  const codes = (parsed.errors ?? []).map((error) => String(error.extensions?.code));
  if (codes.includes('SERVICE_UNAVAILABLE') || status === 503) return { kind: 'failed', code: 'SERVICE_UNAVAILABLE' };
  if (codes.includes('INTERNAL_SERVER_ERROR') || status >= 500) return { kind: 'failed', code: 'INTERNAL_SERVER_ERROR' };
  if (codes.some((code) => REFUSALS.has(code))) {
    const refusals = (parsed.errors ?? []).filter((error) => REFUSALS.has(String(error.extensions?.code)));
    return { kind: 'refused', body: { errors: refusals, data: null, ...(parsed.extensions === undefined ? {} : { extensions: parsed.extensions }) } };
  }
  if (status >= 400 || codes.some((code) => NOTHING_RAN.has(code))) return { kind: 'as-is' };
  return { kind: 'store' };
}

function refusal(code: ErrorCode, requestId: string, message?: string) {
  return { status: errorCodes[code].status, body: requestError(code, requestId, message) };
}

export interface IdempotencyOptions {
  /** Where hash-only requests find their document (the APQ store or the trusted list). */
  documentByHash?: DocumentByHash;
  /**
   * The permission layer's rules, asked before a key is claimed or replayed.
   * Absent only where the schema has no permission layer (the benchmark's
   * measurement of its cost): then every replay is served.
   */
  authorizeOperation?: OperationAuthorizer;
  /** Seals stored responses (they may hold API keys and tokens). */
  sealer: ResponseSealer;
}

const JSON_TYPE = 'application/json; charset=utf-8';

export async function registerIdempotency(app: FastifyInstance, db: Kysely<Database>, options: IdempotencyOptions): Promise<void> {
  const documentByHash: DocumentByHash = options.documentByHash ?? (async () => undefined);
  const { sealer, authorizeOperation } = options;
  // Claims of requests in flight: their leases renewed while they run, freed when they fail (./claim-upkeep.ts).
  const claims = createClaimUpkeep(db, app.log);
  const release = (claim: Claim) => claims.release(claim);
  app.decorateRequest('idempotency');

  // After the authentication hook (registered before this one): the viewer is known.
  app.addHook('preHandler', async (request, reply) => {
    // /graphql's POST, and every REST route but a GET (their preValidation put the GraphQL request in the body).
    if (operationRouteOf(request) === undefined || request.method === 'GET') return;
    const ctx = request.graphqlContext;
    if (!ctx || typeof request.body !== 'object' || request.body === null) return;
    const body = request.body as GraphQLBody;
    const found = await mutationOf(body, documentByHash);
    if (!found) return;
    const header = request.headers['idempotency-key'];
    const key = Array.isArray(header) ? header[0] : header;
    let refused: ReturnType<typeof refusal> | undefined;
    if (key === undefined) {
      // Without credentials the operation cannot run at all: the permission layer answers UNAUTHENTICATED.
      if (!ctx.viewer) return;
      const fields = rootFields(found.document, found.operation.selectionSet);
      const needing = fields.find((field) => KEY_REQUIRED_MUTATIONS.has(field));
      if (needing === undefined) return;
      refused = refusal('IDEMPOTENCY_KEY_REQUIRED', request.id, `\`${needing}\` requires an Idempotency-Key header (a fresh random value per intended operation; resend it on retries).`);
    } else if (!KEY_FORMAT.test(key)) {
      refused = refusal('BAD_REQUEST', request.id, 'The Idempotency-Key header must be 1 to 255 printable ASCII characters.');
    } else if (!ctx.viewer) {
      // A key is scoped to a caller; 401 lets a client whose token lapsed refresh it and retry with the same key.
      reply.header('www-authenticate', 'Bearer realm="marketplace-api"');
      refused = refusal('UNAUTHENTICATED', request.id, 'An Idempotency-Key is scoped to the signed-in caller: send credentials with it.');
    }
    if (refused) {
      request.stats.errorCodes = [refused.body.errors[0]?.extensions.code ?? 'BAD_REQUEST'];
      return reply.code(refused.status).header('cache-control', 'no-store').send(refused.body);
    }
    if (key === undefined || !ctx.viewer) return;

    // The caller as they are now: a refused operation claims and replays nothing, and GraphQL
    // answers it with every mutation blocked (the refusal a fresh call gets).
    if (authorizeOperation && (await authorizeOperation(ctx, { document: found.document, operation: found.operation, variables: body.variables })) === 'refused') {
      ctx.mutationsBlocked = true;
      return;
    }

    const variables = typeof body.variables === 'object' ? body.variables : {};
    const attempt = newClaim(
      { principal: ctx.viewer.userId, credential: credentialOf(ctx.viewer), key },
      requestFingerprint(found.text, typeof body.operationName === 'string' ? body.operationName : null, variables),
    );
    let outcome;
    try {
      outcome = await claimKey(db, sealer, attempt);
    } catch (error) {
      // The claim may have committed with its answer lost (the connection dropped): free it once the database answers.
      await release(attempt);
      throw error;
    }
    switch (outcome.kind) {
      case 'replay':
        request.stats.errorCodes = [];
        return reply
          .code(outcome.response.status)
          .header('content-type', outcome.response.contentType)
          .header('idempotent-replayed', 'true')
          .header('cache-control', 'private, no-store')
          .send(outcome.response.body);
      case 'unreadable':
      case 'reused':
      case 'in-progress': {
        const answer =
          outcome.kind === 'unreadable'
            ? refusal(
                'IDEMPOTENCY_KEY_REUSED',
                request.id,
                'The response stored for this Idempotency-Key can no longer be read (the server key that sealed it was retired). The request ran once: check its outcome before sending it again with a new key.',
              )
            : refusal(outcome.kind === 'reused' ? 'IDEMPOTENCY_KEY_REUSED' : 'IDEMPOTENCY_KEY_IN_PROGRESS', request.id);
        if (outcome.kind === 'unreadable') request.log.warn('a stored idempotent response could not be opened: was its signing key removed from JWT_SIGNING_KEYS?');
        request.stats.errorCodes = [answer.body.errors[0]?.extensions.code ?? ''];
        if (outcome.kind === 'in-progress') reply.header('retry-after', '1');
        return reply.code(answer.status).header('cache-control', 'no-store').send(answer.body);
      }
      case 'claimed': {
        claims.hold(outcome.claim);
        let unit: OpenUnit<AppLoaders>;
        try {
          unit = await beginUnit(ctx);
        } catch (error) {
          await release(outcome.claim);
          throw error;
        }
        request.idempotency = { claim: outcome.claim, unit };
        request.graphqlContext = { ...ctx, db: unit.scope.db, loaders: unit.scope.loaders, unit: unit.scope.unit };
        return;
      }
    }
  });

  /** The answer for a keyed request whose unit did not commit: the failure, no data, nothing stored. */
  const failure = (request: FastifyRequest, reply: FastifyReply, code: 'SERVICE_UNAVAILABLE' | 'INTERNAL_SERVER_ERROR', message: string) => {
    request.stats.errorCodes = [code];
    reply.code(errorCodes[code].status).header('content-type', JSON_TYPE).header('cache-control', 'no-store');
    if (code === 'SERVICE_UNAVAILABLE') reply.header('retry-after', String(DATABASE_RETRY_AFTER_SECONDS));
    return JSON.stringify(requestError(code, request.id, message));
  };
  const NOT_WRITTEN = 'Nothing was written. Retry with the same Idempotency-Key.';

  // The exact bytes about to be sent: stored with the mutation's writes, in one commit.
  app.addHook('onSend', async (request, reply, payload) => {
    const keyed = request.idempotency;
    if (!keyed || keyed.unit.ended) return payload;
    const body = typeof payload === 'string' ? payload : Buffer.isBuffer(payload) ? payload.toString('utf8') : null;
    const status = reply.statusCode;
    const verdict = judge(status, body);
    if (verdict.kind !== 'store') {
      await keyed.unit.rollback();
      await release(keyed.claim);
      switch (verdict.kind) {
        case 'as-is':
          return payload;
        case 'refused': {
          const first = String(verdict.body.errors?.[0]?.extensions?.code);
          request.stats.errorCodes = [first];
          reply.code(errorCodes[first === 'UNAUTHENTICATED' ? 'UNAUTHENTICATED' : 'FORBIDDEN'].status);
          return JSON.stringify(verdict.body);
        }
        case 'failed':
          return failure(request, reply, verdict.code, verdict.code === 'SERVICE_UNAVAILABLE' ? `${errorCodes.SERVICE_UNAVAILABLE.message} ${NOT_WRITTEN}` : `${errorCodes.INTERNAL_SERVER_ERROR.message} ${NOT_WRITTEN}`);
      }
    }
    let stored: boolean;
    try {
      const contentType = String(reply.getHeader('content-type') ?? 'application/json');
      stored = await storeResponse(keyed.unit.scope.db, sealer, keyed.claim, { status, contentType, body: body ?? '' });
    } catch (error) {
      // Nothing committed: the unit rolls back and the key is free for a retry.
      await keyed.unit.rollback();
      await release(keyed.claim);
      return failed(request, reply, error, 'could not store a keyed mutation\'s response', NOT_WRITTEN);
    }
    if (!stored) {
      // Taken over after its lease ran out: another attempt owns the key now; this one must not commit.
      claims.done(keyed.claim);
      await keyed.unit.rollback();
      const answer = refusal('IDEMPOTENCY_KEY_IN_PROGRESS', request.id);
      request.stats.errorCodes = ['IDEMPOTENCY_KEY_IN_PROGRESS'];
      reply.code(answer.status).header('content-type', JSON_TYPE).header('retry-after', '1');
      return JSON.stringify(answer.body);
    }
    try {
      await keyed.unit.commit();
      claims.done(keyed.claim);
      return payload;
    } catch (error) {
      // commit() has rolled back what it could. A lost connection leaves the outcome unknown: the release
      // waits for that transaction and frees the key only if it did not commit (idempotency.repository.ts).
      await release(keyed.claim);
      const unknown = isDatabaseUnavailable(error);
      return failed(
        request,
        reply,
        error,
        'could not commit a keyed mutation with its stored response',
        unknown ? 'Whether it was written is not known yet: retry with the same Idempotency-Key, which answers with the outcome.' : NOT_WRITTEN,
      );
    }
  });

  /** A failure to store or commit: 503 when the database went away or the transaction may succeed when run again, else 500. */
  const failed = (request: FastifyRequest, reply: FastifyReply, error: unknown, what: string, advice: string) => {
    if (isRetryableDatabaseError(error) || isTransientFailure(error)) {
      // The pool logs an outage once when it starts and once when it ends (src/db/availability.ts).
      logRetryableDatabaseError(request.log, error, { what });
      return failure(request, reply, 'SERVICE_UNAVAILABLE', `${errorCodes.SERVICE_UNAVAILABLE.message} ${advice}`);
    }
    request.log.error({ err: error }, what);
    return failure(request, reply, 'INTERNAL_SERVER_ERROR', `${errorCodes.INTERNAL_SERVER_ERROR.message} ${advice}`);
  };

  // Whatever happened (an aborted request, an error before onSend), an open unit never outlives its request.
  const settle = async (request: FastifyRequest) => {
    const keyed = request.idempotency;
    if (!keyed) return;
    claims.done(keyed.claim);
    if (keyed.unit.ended) return;
    await keyed.unit.rollback();
    await release(keyed.claim);
  };
  app.addHook('onResponse', settle);
  app.addHook('onRequestAbort', settle);

  // Expired records are purged by the scheduled job `idempotency.purgeKeys` (./idempotency.tasks.ts), not by the API.
  app.addHook('onClose', async () => {
    // No more renewals; claims of requests that failed during an outage: one last try before the pool closes.
    await claims.close(2_000);
  });
}
