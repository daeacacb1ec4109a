/**
 * Limits a GraphQL request must stay within before anything runs:
 * the nesting of its `variables` and `extensions` JSON (checked before
 * anything else walks them), size in bytes, tokens and unknown directives
 * (checked on the text, before parsing), depth, aliases and directives
 * (validation rules from GraphQL Armor), and cost (src/limits/cost.ts,
 * checked once the operation and its variables are known). Every refusal is
 * `QUERY_TOO_COMPLEX` with `rule`, `limit` and `measured` in its extensions.
 */
import { maxAliasesRule } from '@escape.tech/graphql-armor-max-aliases';
import { maxDepthRule } from '@escape.tech/graphql-armor-max-depth';
import { maxDirectivesRule } from '@escape.tech/graphql-armor-max-directives';
import { GraphQLError, Lexer, Source, TokenKind, type ValidationContext, type ValidationRule } from 'graphql';

import type { QueryLimitsConfig } from '../config/config.js';
import { AppError } from '../errors/errors.js';

export type LimitRule = 'bytes' | 'tokens' | 'depth' | 'aliases' | 'directives' | 'cost' | 'variablesDepth' | 'extensionsDepth';

const LIMIT_NAMES: Record<LimitRule, string> = {
  bytes: "query's size in bytes",
  tokens: "query's number of tokens",
  depth: "query's depth",
  aliases: "query's number of aliases",
  directives: "query's number of directives",
  cost: "query's cost",
  variablesDepth: 'nesting depth of `variables`',
  extensionsDepth: 'nesting depth of `extensions`',
};

/**
 * Deepest nesting of objects and arrays accepted in a request's `variables`
 * or `extensions` (the object itself is level 1). The deepest input of the
 * schema needs 4 (`{"input": {"items": [{...}]}}`); past this, anything that
 * walked the value recursively (a cache key, a fingerprint, a coercion)
 * could exhaust the stack.
 */
export const MAX_REQUEST_JSON_DEPTH = 32;

/**
 * Applications of directives the schema does not define (`@foo`) that a
 * document may carry before it is refused whole, without validation: a few
 * typos get graphql-js's error each, while a document stuffed with them
 * (directive overloading) gets one error instead of one per directive.
 */
export const MAX_UNKNOWN_DIRECTIVES = 3;

/** The QUERY_TOO_COMPLEX error for one limit. */
export function queryTooComplex(rule: LimitRule, limit: number, measured: number, message?: string): AppError {
  return new AppError('QUERY_TOO_COMPLEX', message ?? `The ${LIMIT_NAMES[rule]} is ${measured}, over the limit of ${limit}.`, {
    rule,
    limit,
    measured,
  });
}

/**
 * How deeply objects and arrays nest in a JSON value (a scalar is 0, `{}`
 * and `[]` are 1). Iterative, so it is safe on any value `JSON.parse`
 * returned, however deep.
 */
export function jsonDepth(value: unknown): number {
  let deepest = 0;
  const pending: Array<[unknown, number]> = [[value, 1]];
  for (let next = pending.pop(); next !== undefined; next = pending.pop()) {
    const [item, level] = next;
    if (item === null || typeof item !== 'object') continue;
    if (level > deepest) deepest = level;
    for (const child of Array.isArray(item) ? item : Object.values(item)) {
      if (child !== null && typeof child === 'object') pending.push([child, level + 1]);
    }
  }
  return deepest;
}

/** The depth limit on a request's `variables` or `extensions`; `null` when within it. */
export function checkRequestJson(name: 'variables' | 'extensions', value: unknown): AppError | null {
  const depth = jsonDepth(value);
  if (depth <= MAX_REQUEST_JSON_DEPTH) return null;
  return queryTooComplex(
    name === 'variables' ? 'variablesDepth' : 'extensionsDepth',
    MAX_REQUEST_JSON_DEPTH,
    depth,
    `\`${name}\` nests objects and arrays ${depth} levels deep, over the limit of ${MAX_REQUEST_JSON_DEPTH}.`,
  );
}

export interface TokenCount {
  tokens: number;
  /** Directive applications (`@name`) whose name is not in `knownDirectives`. */
  unknownDirectives: number;
  /** The first of those names, for the message. */
  firstUnknown: string | undefined;
}

/**
 * Tokens the way graphql-js's parser counts them for its `maxTokens` option
 * (comments excluded), and the uses of directives not in `knownDirectives`:
 * in an executable document `@` followed by a name is always a directive
 * (strings are single tokens). A lexing error ends the count: the parser
 * reports it.
 */
export function countTokens(text: string, knownDirectives: ReadonlySet<string> = new Set()): TokenCount {
  const lexer = new Lexer(new Source(text));
  const count: TokenCount = { tokens: 0, unknownDirectives: 0, firstUnknown: undefined };
  let afterAt = false;
  try {
    for (let token = lexer.advance(); token.kind !== TokenKind.EOF; token = lexer.advance()) {
      count.tokens += 1;
      if (afterAt && token.kind === TokenKind.NAME && token.value !== undefined && !knownDirectives.has(token.value)) {
        count.unknownDirectives += 1;
        count.firstUnknown ??= token.value;
      }
      afterAt = token.kind === TokenKind.AT;
    }
  } catch {
    // Not a valid token stream: parsing will answer GRAPHQL_PARSE_FAILED.
  }
  return count;
}

export interface DocumentTextLimits extends Pick<QueryLimitsConfig, 'maxBytes' | 'maxTokens'> {
  /** Names of the directives the schema defines (`include`, `skip`, ...); any other counts as unknown. */
  knownDirectives: ReadonlySet<string>;
}

/**
 * Size, token and unknown-directive limits on the document text; `null`
 * when within them. Cheap: bytes are checked first, then one pass of the
 * lexer counts the rest.
 */
export function checkDocumentText(text: string, limits: DocumentTextLimits): AppError | null {
  const bytes = Buffer.byteLength(text, 'utf8');
  if (bytes > limits.maxBytes) return queryTooComplex('bytes', limits.maxBytes, bytes);
  const { tokens, unknownDirectives, firstUnknown } = countTokens(text, limits.knownDirectives);
  if (tokens > limits.maxTokens) return queryTooComplex('tokens', limits.maxTokens, tokens);
  if (unknownDirectives > MAX_UNKNOWN_DIRECTIVES) {
    return queryTooComplex(
      'directives',
      MAX_UNKNOWN_DIRECTIVES,
      unknownDirectives,
      `The query uses ${unknownDirectives} directives this schema does not define (the first is @${firstUnknown ?? ''}), over the limit of ${MAX_UNKNOWN_DIRECTIVES}.`,
    );
  }
  return null;
}

/** GraphQL Armor states the measured value only in its message ("..., found 14."). */
function measuredFrom(error: GraphQLError): number {
  const match = /found (\d+)\.?$/.exec(error.message);
  return match ? Number(match[1]) : Number.NaN;
}

/** Armor reports through this callback: our coded error goes to the validation context instead of Armor's text. */
function reportAs(rule: LimitRule, limit: number) {
  return [
    (context: ValidationContext | null, error: GraphQLError): void => {
      // Validation reports GraphQLErrors; ours rides along as the original error and keeps its code (src/errors/format.ts).
      const refusal = queryTooComplex(rule, limit, measuredFrom(error));
      context?.reportError(new GraphQLError(refusal.message, { originalError: refusal, extensions: refusal.extensions }));
    },
  ];
}

/** Depth, alias and directive limits as validation rules (Apollo `validationRules`). */
export function documentLimitRules(limits: Pick<QueryLimitsConfig, 'maxDepth' | 'maxAliases' | 'maxDirectives'>): ValidationRule[] {
  const common = { exposeLimits: true, propagateOnRejection: false } as const;
  return [
    // Introspection is exempt (its standard query is deep); it is off in production.
    maxDepthRule({ ...common, n: limits.maxDepth, ignoreIntrospection: true, flattenFragments: true, onReject: reportAs('depth', limits.maxDepth) }),
    // Every alias counts, `__typename` included (Armor exempts it by default).
    maxAliasesRule({ ...common, n: limits.maxAliases, allowList: [], onReject: reportAs('aliases', limits.maxAliases) }),
    maxDirectivesRule({ ...common, n: limits.maxDirectives, onReject: reportAs('directives', limits.maxDirectives) }),
  ] as ValidationRule[];
}
