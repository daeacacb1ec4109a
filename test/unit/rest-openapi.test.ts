/**
 * The REST documents (rest/v1/) and the OpenAPI document made from them:
 * every document validates against the schema and fits its route, the
 * OpenAPI document is valid OpenAPI 3.1 for a real validator, and /v1 is
 * frozen by its committed snapshot (docs/openapi/v1.json).
 */
import { describe, expect, it } from '@jest/globals';
import { validate } from '@readme/openapi-parser';

import { buildSchema } from '../../src/graphql/schema.js';
import { loadRestRoutes, readRoute, RestDocumentError } from '../../src/rest/documents.js';
import { buildOpenApi, type OpenApiDocument } from '../../src/rest/openapi.js';
import { breakingChanges, printCurrentOpenApi, readOpenApiSnapshot, unloggedBreakingChanges } from '../../src/rest/openapi-snapshot.js';

const schema = buildSchema();

describe('the REST documents of /v1', () => {
  it('all load: each validates against the schema and fits its route', () => {
    const routes = loadRestRoutes(schema);
    expect(routes.map((route) => `${route.method} ${route.path}`)).toEqual(
      expect.arrayContaining(['GET /v1/products', 'GET /v1/products/{id}', 'POST /v1/checkout', 'GET /v1/orders', 'POST /v1/orders/{id}/cancel', 'POST /v1/products', 'PATCH /v1/products/{id}']),
    );
  });

  const refusals: Array<[string, string, RegExp]> = [
    ['a field the schema lacks', '# GET /v1/things\n# summary: x\n# tag: x\nquery Things { products { nope } }\n', /does not validate against the schema: Cannot query field "nope"/],
    ['a mutation behind GET', '# GET /v1/things\n# summary: x\n# tag: x\nmutation M($id: ID!) { cancelOrder(input: { orderId: $id, expectedVersion: 1 }) { order { id } userErrors { field code message } } }\n', /GET runs a query/],
    ['a path parameter without its variable', '# GET /v1/products/{id}\n# summary: x\n# tag: x\nquery P { products { totalCount } }\n', /path parameter \{id\} has no variable/],
    ['an unknown header', '# GET /v1/things\n# summary: x\n# tag: x\n# colour: red\nquery T { products { totalCount } }\n', /unknown header `colour`/],
    ['an input object in the query string', '# GET /v1/things\n# summary: x\n# tag: x\nquery T($filter: ProductFilter) { products(filter: $filter) { totalCount } }\n', /must be a scalar, an enum or a list of them/],
    ['a mutation payload without its userErrors', '# POST /v1/things/{id}/cancel\n# summary: x\n# tag: x\nmutation C($id: ID!, $v: Int!) { cancelOrder(input: { orderId: $id, expectedVersion: $v }) { order { id } } }\n', /select `userErrors \{ field code message \}`/],
    ['two root fields', '# GET /v1/things\n# summary: x\n# tag: x\nquery T { products { totalCount } viewer { id } }\n', /exactly one root field/],
  ];
  for (const [what, source, reason] of refusals) {
    it(`refuses a document with ${what}, naming the file`, () => {
      expect(() => readRoute(schema, 'rest/v1/bad.graphql', source)).toThrow(RestDocumentError);
      expect(() => readRoute(schema, 'rest/v1/bad.graphql', source)).toThrow(reason);
    });
  }
});

describe('the OpenAPI document of /v1', () => {
  const document = buildOpenApi(schema, loadRestRoutes(schema));

  it('is valid OpenAPI 3.1 for @readme/openapi-parser', async () => {
    const result = await validate(structuredClone(document) as never);
    expect({ valid: result.valid, errors: result.valid ? [] : result.errors }).toEqual({ valid: true, errors: [] });
    expect(document.openapi).toBe('3.1.0');
  });

  it('takes types, nullability, enums and descriptions from the SDL', () => {
    const list = document.paths['/v1/products']?.['get'] as Record<string, unknown>;
    const parameters = list['parameters'] as Array<Record<string, unknown>>;
    expect(parameters.find((p) => p['name'] === 'sort')).toMatchObject({ in: 'query', required: false, schema: { $ref: '#/components/schemas/ProductSortField', default: 'CREATED_AT' } });
    expect(parameters.find((p) => p['name'] === 'inStock')).toMatchObject({ schema: { type: 'boolean' }, description: '`true`: only products with stock; `false`: only sold-out products.' });
    const schemas = (document['components'] as { schemas: Record<string, Record<string, unknown>> }).schemas;
    expect(schemas['ProductSortField']).toMatchObject({ type: 'string', enum: ['CREATED_AT', 'PRICE', 'TITLE', 'RATING'] });
    const ok = ((list['responses'] as Record<string, Record<string, unknown>>)['200']?.['content'] as Record<string, { schema: Record<string, unknown> }>)['application/json']?.schema;
    expect(ok).toMatchObject({ type: 'object', properties: { totalCount: { type: 'integer' }, nodes: { type: 'array' } } });
    const product = ((ok?.['properties'] as Record<string, { items: { properties: Record<string, unknown> } }>)['nodes'])?.items.properties;
    expect(product?.['averageRating']).toMatchObject({ type: ['number', 'null'] });
    expect(product?.['title']).toMatchObject({ type: 'string', description: 'Short name, 1 to 200 characters.' });
    const checkout = document.paths['/v1/checkout']?.['post'] as Record<string, unknown>;
    expect((checkout['parameters'] as Array<Record<string, unknown>>).find((p) => p['name'] === 'Idempotency-Key')).toMatchObject({ in: 'header', required: true });
    expect(Object.keys(checkout['responses'] as object)).toEqual(expect.arrayContaining(['201', '400', '401', '403', '409', '422', '429']));
  });

  it('matches the committed snapshot docs/openapi/v1.json (run `npm run openapi:snapshot` after changing rest/v1/ or the SDL)', () => {
    expect(printCurrentOpenApi() === readOpenApiSnapshot()).toBe(true);
  });

  it('calls a removed property, a new required parameter or a removed route breaking, and additions safe', () => {
    const before = JSON.parse(printCurrentOpenApi()) as OpenApiDocument;
    expect(breakingChanges(before, JSON.parse(printCurrentOpenApi()) as OpenApiDocument)).toEqual([]);

    const added = structuredClone(before);
    const list = added.paths['/v1/products']?.['get'] as Record<string, unknown>;
    (list['parameters'] as unknown[]).push({ name: 'colour', in: 'query', required: false, schema: { type: 'string' } });
    expect(breakingChanges(before, added)).toEqual([]);

    const broken = structuredClone(before);
    delete broken.paths['/v1/orders/{id}/cancel'];
    const get = broken.paths['/v1/products/{id}']?.['get'] as Record<string, unknown>;
    const ok = ((get['responses'] as Record<string, Record<string, unknown>>)['200']?.['content'] as Record<string, { schema: { properties: Record<string, unknown> } }>)['application/json'];
    delete ok?.schema.properties['title'];
    (get['parameters'] as unknown[]).push({ name: 'colour', in: 'query', required: true, schema: { type: 'string' } });
    const ids = breakingChanges(before, broken).map((change) => change.id);
    expect(ids).toEqual(
      expect.arrayContaining(['OPERATION_REMOVED POST /v1/orders/{id}/cancel', 'ANSWER_PROPERTY_REMOVED GET /v1/products/{id}.title', 'PARAMETER_REQUIRED GET /v1/products/{id} colour']),
    );
    expect(unloggedBreakingChanges([{ id: 'OPERATION_REMOVED POST /v1/x', message: '' }], 'Removed `OPERATION_REMOVED POST /v1/x`.')).toEqual([]);
  });
});
