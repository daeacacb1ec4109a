/**
 * Limits a GraphQL document must stay within before anything runs:
 * size in bytes and tokens (checked on the text, before parsing), depth,
 * aliases and directives (validation rules from GraphQL Armor), and cost
 * (src/limits/cost.ts, checked once the operation and its variables are
 * known). Every refusal is `QUERY_TOO_COMPLEX` with `rule`, `limit` and
 * `measured` in its extensions.
 */
import { maxAliasesRule } from '@escape.tech/graphql-armor-max-aliases';
import { maxDepthRule } from '@escape.tech/graphql-armor-max-depth';
import { maxDirectivesRule } from '@escape.tech/graphql-armor-max-directives';
import { GraphQLError, Lexer, Source, TokenKind, type ValidationContext, type ValidationRule } from 'graphql';

import type { QueryLimitsConfig } from '../config/config.js';
import { AppError } from '../errors/errors.js';

export type LimitRule = 'bytes' | 'tokens' | 'depth' | 'aliases' | 'directives' | 'cost';

const LIMIT_NAMES: Record<LimitRule, string> = {
  bytes: 'size in bytes',
  tokens: 'number of tokens',
  depth: 'depth',
  aliases: 'number of aliases',
  directives: 'number of directives',
  cost: 'cost',
};

/** The QUERY_TOO_COMPLEX error for one limit. */
export function queryTooComplex(rule: LimitRule, limit: number, measured: number): AppError {
  return new AppError('QUERY_TOO_COMPLEX', `The query's ${LIMIT_NAMES[rule]} is ${measured}, over the limit of ${limit}.`, {
    rule,
    limit,
    measured,
  });
}

/**
 * Tokens the way graphql-js's parser counts them for its `maxTokens` option
 * (comments excluded). A lexing error ends the count: the parser reports it.
 */
export function countTokens(text: string): number {
  const lexer = new Lexer(new Source(text));
  let count = 0;
  try {
    while (lexer.advance().kind !== TokenKind.EOF) count += 1;
  } catch {
    // Not a valid token stream: parsing will answer GRAPHQL_PARSE_FAILED.
  }
  return count;
}

/** Size and token limits on the document text; `null` when within them. Cheap: bytes are checked first. */
export function checkDocumentText(text: string, limits: Pick<QueryLimitsConfig, 'maxBytes' | 'maxTokens'>): AppError | null {
  const bytes = Buffer.byteLength(text, 'utf8');
  if (bytes > limits.maxBytes) return queryTooComplex('bytes', limits.maxBytes, bytes);
  const tokens = countTokens(text);
  if (tokens > limits.maxTokens) return queryTooComplex('tokens', limits.maxTokens, tokens);
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
