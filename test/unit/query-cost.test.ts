import { describe, expect, it } from '@jest/globals';
import { getOperationAST, parse, specifiedRules, validate, type DocumentNode, type GraphQLError } from 'graphql';

import { buildSchema } from '../../src/graphql/schema.js';
import { actualCost, requestedCost } from '../../src/limits/cost.js';
import { checkDocumentText, checkRequestJson, countTokens, documentLimitRules, jsonDepth, MAX_REQUEST_JSON_DEPTH, MAX_UNKNOWN_DIRECTIVES } from '../../src/limits/query-limits.js';

const schema = buildSchema();

function cost(query: string, variables?: Record<string, unknown>, operationName?: string): number {
  const document = parse(query);
  const operation = getOperationAST(document, operationName);
  if (!operation) throw new Error('no operation');
  return requestedCost({ schema, document, operation, variables });
}

function actual(query: string, data: unknown): number {
  const document = parse(query);
  const operation = getOperationAST(document);
  if (!operation) throw new Error('no operation');
  return actualCost({ document, operation, data });
}

/** `products(first: n) { nodes { category { products(first: n) { ... } } } }`, `levels` deep. */
function nestedProducts(levels: number, first = 100): string {
  let inner = 'id';
  for (let i = 0; i < levels; i++) inner = `products(first: ${first}) { nodes { ${i === 0 ? inner : `category { ${inner} }`} } }`;
  return `{ ${inner} }`;
}

describe('requested cost', () => {
  it('costs scalars nothing and each object one', () => {
    expect(cost('{ __typename }')).toBe(0);
    expect(cost('query ($id: ID!) { product(id: $id) { id title price { amount } seller { displayName } } }')).toBe(3);
  });

  it('weighs a connection by first or last, the default page when neither is given', () => {
    expect(cost('{ products(first: 10) { nodes { id } } }')).toBe(1 + 10);
    expect(cost('{ products(last: 5) { edges { node { id } } } }')).toBe(1 + 5 * 2);
    expect(cost('{ products { nodes { id } } }')).toBe(1 + 20);
    expect(cost('{ products(first: 100) { totalCount pageInfo { hasNextPage } } }')).toBe(2);
  });

  it('reads page sizes from variables and their defaults', () => {
    const query = 'query ($n: Int = 7) { products(first: $n) { nodes { id } } }';
    expect(cost(query, { n: 3 })).toBe(4);
    expect(cost(query, {})).toBe(8);
  });

  it('never counts a page beyond the largest the server serves', () => {
    expect(cost('{ products(first: 5000) { nodes { id } } }')).toBe(101);
  });

  it('multiplies nested connections down the tree', () => {
    expect(cost(nestedProducts(2))).toBe(1 + 100 * (1 + 1 + 1 + 100));
    expect(cost(nestedProducts(6))).toBeGreaterThan(1e12);
  });

  it('weighs nodes(ids:) by the number of ids, so aliases cannot multiply past the limit unseen', () => {
    const ids = Array.from({ length: 100 }, (_, i) => `"id${i}"`).join(',');
    expect(cost(`{ nodes(ids: [${ids}]) { id } }`)).toBe(100);
    const aliased = Array.from({ length: 20 }, (_, i) => `a${i}: nodes(ids: [${ids}]) { id }`).join(' ');
    expect(cost(`{ ${aliased} }`)).toBe(2000);
    expect(cost('query ($ids: [ID!]!) { nodes(ids: $ids) { id } }', { ids: ['a', 'b', 'c'] })).toBe(3);
  });

  it('counts fragments where they are spread', () => {
    const query = 'fragment P on Product { seller { id } category { id } } { products(first: 10) { nodes { ...P } } }';
    expect(cost(query)).toBe(1 + 10 * 3);
  });

  it('adds a surcharge per mutation root field', () => {
    expect(cost('mutation { logOutEverywhere(input: {}) { endedSessions } }')).toBe(1 + 10);
  });
});

describe('actual cost', () => {
  it('counts the objects and list items the response returned', () => {
    const query = '{ products(first: 50) { nodes { id seller { id } } } }';
    const data = { products: { nodes: [{ id: '1', seller: { id: 's' } }, { id: '2', seller: null }] } };
    expect(cost(query)).toBe(1 + 50 * 2);
    expect(actual(query, data)).toBe(1 + 2 + 1);
  });

  it('is zero when nothing ran', () => {
    expect(actual('{ products { nodes { id } } }', null)).toBe(0);
  });

  it('follows aliases and fragments', () => {
    const query = 'fragment S on Product { s: seller { id } } { p: products(first: 5) { nodes { ...S } } }';
    expect(actual(query, { p: { nodes: [{ s: { id: 'x' } }] } })).toBe(1 + 1 + 1);
  });
});

function limitErrors(query: string, limits = { maxDepth: 5, maxAliases: 3, maxDirectives: 2 }): readonly GraphQLError[] {
  const document: DocumentNode = parse(query);
  return validate(schema, document, [...specifiedRules, ...documentLimitRules(limits)]);
}

describe('document limits', () => {
  it('refuses a document deeper than the limit with the measured depth', () => {
    const [error] = limitErrors('{ products { nodes { category { products { nodes { id } } } } } }');
    expect(error?.extensions).toEqual({ code: 'QUERY_TOO_COMPLEX', rule: 'depth', limit: 5, measured: 6 });
  });

  it('counts __typename aliases', () => {
    const [error] = limitErrors('{ a: __typename b: __typename c: __typename d: __typename }');
    expect(error?.extensions).toEqual({ code: 'QUERY_TOO_COMPLEX', rule: 'aliases', limit: 3, measured: 4 });
  });

  it('refuses directive overloading', () => {
    const [error] = limitErrors('{ __typename @skip(if: false) @skip(if: false) @include(if: true) }');
    expect(error?.extensions).toMatchObject({ code: 'QUERY_TOO_COMPLEX', rule: 'directives', limit: 2, measured: 3 });
  });

  it('admits a document within every limit', () => {
    expect(limitErrors('{ a: products { totalCount } b: categories { id } }')).toEqual([]);
  });

  it('counts tokens as the parser does and refuses text over the byte or token limit', () => {
    const known = new Set(['include', 'skip']);
    expect(countTokens('{ a # comment\n b }').tokens).toBe(4);
    expect(checkDocumentText('{ a b c }', { maxBytes: 100, maxTokens: 4, knownDirectives: known })?.extensions).toMatchObject({ rule: 'tokens', limit: 4, measured: 5 });
    expect(checkDocumentText('{ é }', { maxBytes: 4, maxTokens: 100, knownDirectives: known })?.extensions).toMatchObject({ rule: 'bytes', limit: 4, measured: 6 });
    expect(checkDocumentText('{ a }', { maxBytes: 100, maxTokens: 100, knownDirectives: known })).toBeNull();
  });

  it('counts uses of directives the schema does not define, not strings or known ones that look alike', () => {
    const known = new Set(['include', 'skip']);
    const counted = countTokens('query ($s: Boolean = true) { a @x @x @skip(if: $s) b(t: "@y @z") @include(if: true) @Skip(if: true) }', known);
    expect(counted).toMatchObject({ unknownDirectives: 3, firstUnknown: 'x' });
    const limits = { maxBytes: 10_000, maxTokens: 1_000, knownDirectives: known };
    expect(checkDocumentText(`{ a ${'@x '.repeat(MAX_UNKNOWN_DIRECTIVES)}}`, limits)).toBeNull();
    const refused = checkDocumentText(`{ a ${'@x '.repeat(MAX_UNKNOWN_DIRECTIVES + 7)}}`, limits);
    expect(refused?.extensions).toEqual({ code: 'QUERY_TOO_COMPLEX', rule: 'directives', limit: MAX_UNKNOWN_DIRECTIVES, measured: MAX_UNKNOWN_DIRECTIVES + 7 });
    expect(refused?.message).toMatch(/directives this schema does not define \(the first is @x\)/);
  });

  it('measures the nesting of request JSON without recursion and refuses it past the limit', () => {
    expect(jsonDepth(1)).toBe(0);
    expect(jsonDepth({})).toBe(1);
    expect(jsonDepth({ input: { items: [{ productId: 'p', quantity: 1 }] } })).toBe(4);
    let deep: unknown = 1;
    for (let i = 0; i < 20_000; i++) deep = i % 2 === 0 ? [deep] : { a: deep };
    expect(jsonDepth(deep)).toBe(20_000);
    expect(checkRequestJson('variables', deep)?.extensions).toEqual({ code: 'QUERY_TOO_COMPLEX', rule: 'variablesDepth', limit: MAX_REQUEST_JSON_DEPTH, measured: 20_000 });
    let atLimit: unknown = {};
    for (let i = 1; i < MAX_REQUEST_JSON_DEPTH; i++) atLimit = { a: atLimit };
    expect(jsonDepth(atLimit)).toBe(MAX_REQUEST_JSON_DEPTH);
    expect(checkRequestJson('extensions', atLimit)).toBeNull();
    expect(checkRequestJson('extensions', { a: atLimit })?.extensions).toMatchObject({ rule: 'extensionsDepth', measured: MAX_REQUEST_JSON_DEPTH + 1 });
  });
});
