/**
 * A REST client generated from /v1/openapi.json (openapi-typescript's types,
 * openapi-fetch) runs the README's commerce walk-through against the server:
 * browse, keyed checkout with a replay, list orders, cancel, with the
 * statuses and problem bodies docs/guides/rest.md documents. The generated
 * types are the committed test/clients/rest/v1.ts, checked fresh, and the
 * walk-through compiles with `tsc --strict` as a partner's project would.
 */
import { randomUUID } from 'node:crypto';
import { execFile } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';

import { printCurrentOpenApi } from '../../src/rest/openapi-snapshot.js';
import type { OpenApiDocument } from '../../src/rest/openapi.js';
import { projectRoot } from '../../src/util/project-root.js';
import { createAccount } from '../helpers/auth.js';
import { seeder } from '../helpers/seed.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { generateClientTypes } from './rest/generate.js';
import { commerceWalkthrough } from './rest/walkthrough.js';

const root = projectRoot();
const here = path.join(root, 'test', 'clients', 'rest');

describe('the generated REST client', () => {
  it('has its committed types (test/clients/rest/v1.ts) made by openapi-typescript from the current document', async () => {
    const served = JSON.parse(printCurrentOpenApi()) as OpenApiDocument;
    expect((await generateClientTypes(served)) === readFileSync(path.join(here, 'v1.ts'), 'utf8')).toBe(true);
  });

  it('compiles the walk-through with tsc --strict in a project of its own', async () => {
    const parent = path.join(root, 'node_modules', '.cache');
    mkdirSync(parent, { recursive: true });
    const project = mkdtempSync(path.join(parent, 'rest-client-'));
    try {
      copyFileSync(path.join(here, 'v1.ts'), path.join(project, 'v1.ts'));
      copyFileSync(path.join(here, 'walkthrough.ts'), path.join(project, 'walkthrough.ts'));
      writeFileSync(path.join(project, 'package.json'), JSON.stringify({ type: 'module', private: true }));
      writeFileSync(
        path.join(project, 'tsconfig.json'),
        JSON.stringify({ compilerOptions: { strict: true, noEmit: true, target: 'ES2022', lib: ['ES2023', 'DOM'], module: 'NodeNext', moduleResolution: 'NodeNext', types: [] }, files: ['walkthrough.ts'] }),
      );
      const tsc = path.join(root, 'node_modules', '.bin', 'tsc');
      const result = await promisify(execFile)(tsc, ['-p', 'tsconfig.json', '--strict'], { cwd: project, timeout: 120_000 }).then(
        ({ stdout }) => ({ code: 0, output: stdout }),
        (error: { code?: number; stdout?: string }) => ({ code: error.code ?? 1, output: error.stdout ?? '' }),
      );
      expect(result).toEqual({ code: 0, output: '' });
    } finally {
      rmSync(project, { recursive: true, force: true });
    }
  }, 240_000);
});

describe('the commerce walk-through over REST', () => {
  let server: TestServer;

  beforeAll(async () => {
    server = await startTestServer();
    const seed = seeder(server.db);
    const category = await seed.category();
    for (const price of [450, 990, 1990, 2990]) await seed.product({ category, price });
  });

  afterAll(async () => {
    await server.close();
  });

  it('browses, checks out once despite a replay, lists the order and cancels it, with the documented statuses and problems', async () => {
    const customer = await createAccount(server);
    const result = await commerceWalkthrough(server.baseUrl, customer.accessToken, () => randomUUID());

    expect(result.browsed).toEqual({ status: 200, titles: expect.any(Array), next: expect.stringMatching(/^<\/v1\/products\?.*after=[^>]+>; rel="next"$/) });
    expect(result.browsed.titles).toHaveLength(3);
    expect(result.checkout).toEqual({ status: 201, location: `/v1/orders/${result.checkout.orderId}`, orderId: expect.any(String), total: 450 });
    expect(result.replay).toEqual({ status: 201, replayed: 'true', sameOrder: true });
    expect(result.withoutKey.status).toBe(400);
    expect(result.withoutKey.problem).toMatchObject({ type: 'about:blank', status: 400, code: 'IDEMPOTENCY_KEY_REQUIRED', requestId: expect.any(String) });
    expect(result.listed).toEqual({ status: 200, orderIds: [result.checkout.orderId] });
    expect(result.cancelled).toEqual({ status: 200, orderStatus: 'CANCELLED' });
    expect(result.cancelledAgain.status).toBe(409);
    expect(result.cancelledAgain.problem).toMatchObject({ status: 409, code: 'VERSION_CONFLICT', errors: [{ code: 'VERSION_CONFLICT', field: ['input', 'expectedVersion'], pointer: '/expectedVersion' }] });

    // One order was made, however often the checkout was sent.
    const rows = await server.db.selectFrom('orders').select('id').where('customer_id', '=', customer.user.id).execute();
    expect(rows).toHaveLength(1);
  });
});
