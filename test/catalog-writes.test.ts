/**
 * Product and category mutations over HTTP on real PostgreSQL: validation
 * (every problem at once, plain-text policy), optimistic locking, status
 * transitions, soft delete and restore, ownership and API-key scopes.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';

import type { CategoryRow } from '../src/modules/categories/category.table.js';
import { createAccount, createApiKey, CREATE_API_KEY, type Account } from './helpers/auth.js';
import { gid, seeder } from './helpers/seed.js';
import { startTestServer, type TestServer } from './helpers/server.js';

type Data = Record<string, unknown>;
interface UserErrorOut {
  field: string[] | null;
  code: string;
  currentVersion?: number | null;
}
interface ProductOut {
  id: string;
  title: string;
  description: string;
  status: string;
  version: number;
  stock: number;
  price: { amount: number; currency: string };
}

let server: TestServer;
let seller: Account;
let otherSeller: Account;
let admin: Account;
let customer: Account;
let category: CategoryRow;

const PRODUCT_FIELDS = 'id title description status version stock price { amount currency }';
const ERRORS = 'userErrors { field code message currentVersion }';
const CREATE = `mutation ($input: CreateProductInput!) { createProduct(input: $input) { product { ${PRODUCT_FIELDS} } ${ERRORS} } }`;
const UPDATE = `mutation ($input: UpdateProductInput!) { updateProduct(input: $input) { product { ${PRODUCT_FIELDS} } ${ERRORS} } }`;
const TRANSITION = (name: string, input: string) =>
  `mutation ($input: ${input}!) { ${name}(input: $input) { product { ${PRODUCT_FIELDS} } ${ERRORS} } }`;
const DELETE = `mutation ($input: DeleteProductInput!) { deleteProduct(input: $input) { deletedProductId ${ERRORS} } }`;

async function mutate<T = Data>(document: string, input: Data, headers: Record<string, string>, field: string): Promise<T & { userErrors: UserErrorOut[] }> {
  const res = await server.graphql<Data>(document, { input }, { headers });
  expect(res.body.errors).toBeUndefined();
  return res.body.data?.[field] as T & { userErrors: UserErrorOut[] };
}

async function createDraft(owner: Account = seller, values: Data = {}): Promise<ProductOut> {
  const payload = await mutate<{ product: ProductOut }>(
    CREATE,
    { categoryId: gid('Category', category), title: 'Oak desk', description: 'Solid oak.\nTwo drawers.', price: { amount: 25_000, currency: 'EUR' }, stock: 5, ...values },
    owner.headers,
    'createProduct',
  );
  expect(payload.userErrors).toEqual([]);
  return payload.product;
}

function summary(errors: UserErrorOut[]) {
  return errors.map(({ field, code }) => ({ field, code }));
}

beforeAll(async () => {
  server = await startTestServer({ env: { LOGIN_LIMIT_PER_IP: '100000' } });
  [seller, otherSeller, admin, customer] = await Promise.all([
    createAccount(server, { role: 'SELLER' }),
    createAccount(server, { role: 'SELLER' }),
    createAccount(server, { role: 'ADMIN' }),
    createAccount(server, { role: 'CUSTOMER' }),
  ]);
  category = await seeder(server.db).category();
});

afterAll(async () => {
  await server.close();
});

describe('createProduct', () => {
  it('creates a DRAFT owned by the seller, with trimmed plain text and exact money', async () => {
    const product = await createDraft(seller, { title: '  Walnut shelf  ' });
    expect(product).toMatchObject({ title: 'Walnut shelf', description: 'Solid oak.\nTwo drawers.', status: 'DRAFT', version: 1, stock: 5, price: { amount: 25_000, currency: 'EUR' } });
    const row = await server.db.selectFrom('products').select(['seller_id', 'status']).where('title', '=', 'Walnut shelf').executeTakeFirstOrThrow();
    expect(row).toEqual({ seller_id: seller.user.id, status: 'DRAFT' });
  });

  it('reports every invalid field at once, with paths and codes, and writes nothing', async () => {
    const before = await server.db.selectFrom('products').select((eb) => eb.fn.countAll<string>().as('n')).executeTakeFirstOrThrow();
    const payload = await mutate<{ product: null }>(
      CREATE,
      { categoryId: gid('Product', { id: category.id }), title: ' ', description: 'x'.repeat(10_001), price: { amount: -1, currency: 'EUR' }, stock: 1_000_001 },
      seller.headers,
      'createProduct',
    );
    expect(payload.product).toBeNull();
    expect(summary(payload.userErrors)).toEqual([
      { field: ['input', 'title'], code: 'REQUIRED' },
      { field: ['input', 'description'], code: 'TOO_LONG' },
      { field: ['input', 'price', 'amount'], code: 'OUT_OF_RANGE' },
      { field: ['input', 'stock'], code: 'OUT_OF_RANGE' },
      { field: ['input', 'categoryId'], code: 'NOT_FOUND' },
    ]);
    const after = await server.db.selectFrom('products').select((eb) => eb.fn.countAll<string>().as('n')).executeTakeFirstOrThrow();
    expect(after.n).toBe(before.n);
  });

  it('refuses markup in the title and description as INVALID field errors', async () => {
    const payload = await mutate<{ product: null }>(
      CREATE,
      { categoryId: gid('Category', category), title: 'Lamp', description: 'Nice <script>alert(1)</script>', price: { amount: 1, currency: 'EUR' }, stock: 1 },
      seller.headers,
      'createProduct',
    );
    expect(summary(payload.userErrors)).toEqual([{ field: ['input', 'description'], code: 'INVALID' }]);
    const markupTitle = await mutate<{ product: null }>(
      CREATE,
      { categoryId: gid('Category', category), title: '<b>Lamp</b>', description: 'bell', price: { amount: 1, currency: 'EUR' }, stock: 1 },
      seller.headers,
      'createProduct',
    );
    expect(summary(markupTitle.userErrors)).toEqual([{ field: ['input', 'title'], code: 'INVALID' }]);
  });

  it('never lets NUL or another control character reach the service: BAD_USER_INPUT at the edge, naming the field', async () => {
    for (const [title, description, argument] of [
      ['Lamp\u0000', 'fine', 'input.title'],
      ['Lamp', 'bell\u0007', 'input.description'],
    ] as const) {
      const res = await server.graphql<Data>(
        CREATE,
        { input: { categoryId: gid('Category', category), title, description, price: { amount: 1, currency: 'EUR' }, stock: 1 } },
        { headers: seller.headers },
      );
      expect(res.body.data ?? null).toBeNull();
      expect(res.body.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', argument });
    }
  });

  it('refuses an unknown currency code at the request level (the Currency scalar; 200 for an application/json client)', async () => {
    const res = await server.graphql<Data>(CREATE, {
      input: { categoryId: gid('Category', category), title: 'x', price: { amount: 1, currency: 'XXQ' }, stock: 1 },
    }, { headers: seller.headers });
    expect(res.status).toBe(200);
    expect(res.body.data).toBeUndefined();
    expect(res.body.errors?.[0]?.extensions?.['code']).toBe('BAD_USER_INPUT');
  });
});

describe('updateProduct', () => {
  it('changes only the given fields and bumps the version', async () => {
    const product = await createDraft();
    const payload = await mutate<{ product: ProductOut }>(UPDATE, { productId: product.id, expectedVersion: 1, stock: 9 }, seller.headers, 'updateProduct');
    expect(payload.userErrors).toEqual([]);
    expect(payload.product).toMatchObject({ title: product.title, stock: 9, version: 2 });
  });

  it('answers VERSION_CONFLICT with the current version for a stale expectedVersion, and changes nothing', async () => {
    const product = await createDraft();
    await mutate(UPDATE, { productId: product.id, expectedVersion: 1, title: 'First edit' }, seller.headers, 'updateProduct');
    const stale = await mutate<{ product: null }>(UPDATE, { productId: product.id, expectedVersion: 1, title: 'Lost edit' }, seller.headers, 'updateProduct');
    expect(stale.product).toBeNull();
    expect(stale.userErrors).toEqual([expect.objectContaining({ field: ['input', 'expectedVersion'], code: 'VERSION_CONFLICT', currentVersion: 2 })]);
    const row = await server.db.selectFrom('products').select(['title', 'version']).where('id', '=', await idOf(product)).executeTakeFirstOrThrow();
    expect(row).toEqual({ title: 'First edit', version: 2 });
  });

  it('lets exactly one of two concurrent updates with the same expectedVersion win; the other gets VERSION_CONFLICT', async () => {
    const product = await createDraft();
    const [a, b] = await Promise.all([
      mutate<{ product: ProductOut | null }>(UPDATE, { productId: product.id, expectedVersion: 1, title: 'Edit A' }, seller.headers, 'updateProduct'),
      mutate<{ product: ProductOut | null }>(UPDATE, { productId: product.id, expectedVersion: 1, title: 'Edit B' }, seller.headers, 'updateProduct'),
    ]);
    const winners = [a, b].filter((p) => p.product !== null);
    const losers = [a, b].filter((p) => p.product === null);
    expect(winners).toHaveLength(1);
    expect(losers.map((p) => p.userErrors.map((e) => e.code))).toEqual([['VERSION_CONFLICT']]);
    const row = await server.db.selectFrom('products').select(['title', 'version']).where('id', '=', await idOf(product)).executeTakeFirstOrThrow();
    expect(row).toEqual({ title: winners[0]?.product?.title, version: 2 });
  });

  it("answers NOT_FOUND for another seller's product, exactly as for a missing one, and changes nothing", async () => {
    const product = await createDraft(seller);
    const others = await mutate(UPDATE, { productId: product.id, expectedVersion: 1, title: 'Hijack' }, otherSeller.headers, 'updateProduct');
    expect(summary(others.userErrors)).toEqual([{ field: ['input', 'productId'], code: 'NOT_FOUND' }]);
    const row = await server.db.selectFrom('products').select('title').where('id', '=', await idOf(product)).executeTakeFirstOrThrow();
    expect(row.title).toBe('Oak desk');
    // An admin in person may edit any product.
    const byAdmin = await mutate<{ product: ProductOut }>(UPDATE, { productId: product.id, expectedVersion: 1, title: 'Moderated' }, admin.headers, 'updateProduct');
    expect(byAdmin.product.title).toBe('Moderated');
  });

  it('refuses markup in a new title as INVALID at input.title and keeps the product as it was', async () => {
    const product = await createDraft();
    const payload = await mutate<{ product: null }>(UPDATE, { productId: product.id, expectedVersion: 1, title: 'Desk</title><script>x</script>' }, seller.headers, 'updateProduct');
    expect(payload.product).toBeNull();
    expect(summary(payload.userErrors)).toEqual([{ field: ['input', 'title'], code: 'INVALID' }]);
    const read = await server.graphql<{ product: { title: string; version: number } }>('query ($id: ID!) { product(id: $id) { title version } }', { id: product.id }, { headers: seller.headers });
    expect(read.body.data?.product).toEqual({ title: 'Oak desk', version: 1 });
  });

  it('refuses NUL in a new title at the edge with BAD_USER_INPUT naming input.title', async () => {
    const product = await createDraft();
    const res = await server.graphql<Data>(UPDATE, { input: { productId: product.id, expectedVersion: 1, title: 'Desk\u0000' } }, { headers: seller.headers });
    expect(res.body.data ?? null).toBeNull();
    expect(res.body.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', argument: 'input.title' });
  });

  it('reports several invalid fields at once', async () => {
    const product = await createDraft();
    const payload = await mutate(UPDATE, { productId: product.id, expectedVersion: 0, title: '', description: '<p>', stock: -1, price: { amount: 100_000_000, currency: 'EUR' } }, seller.headers, 'updateProduct');
    expect(summary(payload.userErrors)).toEqual([
      { field: ['input', 'title'], code: 'REQUIRED' },
      { field: ['input', 'description'], code: 'INVALID' },
      { field: ['input', 'price', 'amount'], code: 'OUT_OF_RANGE' },
      { field: ['input', 'stock'], code: 'OUT_OF_RANGE' },
      { field: ['input', 'expectedVersion'], code: 'OUT_OF_RANGE' },
    ]);
  });
});

async function idOf(product: ProductOut): Promise<string> {
  return Buffer.from(product.id, 'base64url').toString('utf8').split(':')[1] ?? '';
}

describe('status transitions', () => {
  const PUBLISH = TRANSITION('publishProduct', 'PublishProductInput');
  const ARCHIVE = TRANSITION('archiveProduct', 'ArchiveProductInput');

  it('publishes DRAFT -> ACTIVE, archives ACTIVE -> ARCHIVED, republishes ARCHIVED -> ACTIVE', async () => {
    const product = await createDraft();
    const published = await mutate<{ product: ProductOut }>(PUBLISH, { productId: product.id }, seller.headers, 'publishProduct');
    expect(published.product).toMatchObject({ status: 'ACTIVE', version: 2 });
    const archived = await mutate<{ product: ProductOut }>(ARCHIVE, { productId: product.id, expectedVersion: 2 }, seller.headers, 'archiveProduct');
    expect(archived.product).toMatchObject({ status: 'ARCHIVED', version: 3 });
    const again = await mutate<{ product: ProductOut }>(PUBLISH, { productId: product.id }, seller.headers, 'publishProduct');
    expect(again.product.status).toBe('ACTIVE');
  });

  it('refuses an illegal transition with INVALID_TRANSITION naming the current status', async () => {
    const product = await createDraft();
    await mutate(PUBLISH, { productId: product.id }, seller.headers, 'publishProduct');
    const twice = await mutate<{ product: null }>(PUBLISH, { productId: product.id }, seller.headers, 'publishProduct');
    expect(twice.userErrors).toEqual([expect.objectContaining({ code: 'INVALID_TRANSITION', message: expect.stringContaining('ACTIVE') })]);
    await mutate(ARCHIVE, { productId: product.id }, seller.headers, 'archiveProduct');
    const archiveTwice = await mutate(ARCHIVE, { productId: product.id }, seller.headers, 'archiveProduct');
    expect(archiveTwice.userErrors.map((e) => e.code)).toEqual(['INVALID_TRANSITION']);
  });
});

describe('soft delete and restore', () => {
  it('hides a deleted product from every non-admin read, keeps it for admins and orders, and restores it cleanly', async () => {
    const draft = await createDraft();
    await mutate(TRANSITION('publishProduct', 'PublishProductInput'), { productId: draft.id }, seller.headers, 'publishProduct');
    const rawId = await idOf(draft);
    const order = await server.db
      .insertInto('orders')
      .values({ customer_id: customer.user.id, seller_id: seller.user.id, currency: 'EUR', total_amount: 25_000 })
      .returning('id')
      .executeTakeFirstOrThrow();
    await server.db.insertInto('order_items').values({ order_id: order.id, product_id: rawId, product_title: 'Oak desk', quantity: 1, unit_price_amount: 25_000, currency: 'EUR' }).execute();

    const deleted = await mutate<{ deletedProductId: string }>(DELETE, { productId: draft.id }, seller.headers, 'deleteProduct');
    expect(deleted).toEqual({ deletedProductId: draft.id, userErrors: [] });

    const reads = `query ($id: ID!, $cat: String!) {
      product(id: $id) { id }
      node(id: $id) { id }
      nodes(ids: [$id]) { id }
      products(first: 100) { nodes { id } }
      categoryBySlug(slug: $cat) { products(first: 100) { nodes { id } } }
    }`;
    for (const headers of [{}, customer.headers, seller.headers, otherSeller.headers, admin.headers]) {
      const res = await server.graphql<Data>(reads, { id: draft.id, cat: category.slug }, { headers });
      expect(res.body.errors).toBeUndefined();
      expect(JSON.stringify(res.body.data)).not.toContain(draft.id);
    }
    const adminList = await server.graphql<Data>('{ products(first: 100, filter: { includeDeleted: true }) { nodes { id deletedAt } } }', {}, { headers: admin.headers });
    expect(JSON.stringify(adminList.body.data)).toContain(draft.id);
    // The order still references it.
    expect(await server.db.selectFrom('order_items').select('product_id').where('order_id', '=', order.id).execute()).toEqual([{ product_id: rawId }]);

    // Edits of a deleted product: NOT_FOUND.
    const edit = await mutate(UPDATE, { productId: draft.id, expectedVersion: 3, title: 'x' }, seller.headers, 'updateProduct');
    expect(edit.userErrors.map((e) => e.code)).toEqual(['NOT_FOUND']);
    // Another seller cannot restore it; the owner can.
    const RESTORE = TRANSITION('restoreProduct', 'RestoreProductInput');
    const foreign = await mutate(RESTORE, { productId: draft.id }, otherSeller.headers, 'restoreProduct');
    expect(foreign.userErrors.map((e) => e.code)).toEqual(['NOT_FOUND']);
    const restored = await mutate<{ product: ProductOut }>(RESTORE, { productId: draft.id }, seller.headers, 'restoreProduct');
    expect(restored.product).toMatchObject({ id: draft.id, status: 'ACTIVE' });
    const visible = await server.graphql<Data>('query ($id: ID!) { product(id: $id) { id } }', { id: draft.id });
    expect(visible.body.data).toEqual({ product: { id: draft.id } });
    const restoreLive = await mutate(RESTORE, { productId: draft.id }, seller.headers, 'restoreProduct');
    expect(restoreLive.userErrors.map((e) => e.code)).toEqual(['NOT_FOUND']);
    const audit = await server.db.selectFrom('audit_events').select('action').where('target_id', '=', rawId).orderBy('occurred_at').execute();
    expect(audit.map((a) => a.action)).toEqual(['PRODUCT_DELETED', 'PRODUCT_RESTORED']);
  });
});

describe('API-key scopes for catalogue writes', () => {
  it('lets a seller key with CATALOG_WRITE create products, refuses a CATALOG_READ key, and never gives a customer a CATALOG_WRITE key', async () => {
    const writeKey = await createApiKey(server, seller, ['CATALOG_WRITE']);
    const made = await createDraft({ ...seller, headers: writeKey.headers });
    expect(made.status).toBe('DRAFT');
    const readKey = await createApiKey(server, seller, ['CATALOG_READ']);
    const refused = await server.graphql<Data>(CREATE, { input: { categoryId: gid('Category', category), title: 'x', price: { amount: 1, currency: 'EUR' }, stock: 1 } }, { headers: readKey.headers });
    expect(refused.body.errors?.map((e) => e.extensions?.['code'])).toEqual(['FORBIDDEN']);

    const customerKey = await server.graphql<Data>(CREATE_API_KEY, { input: { name: 'sneaky', scopes: ['CATALOG_WRITE'] } }, { headers: customer.headers });
    expect(customerKey.body.data).toEqual({
      createApiKey: { plaintextKey: null, apiKey: null, userErrors: [expect.objectContaining({ field: ['input', 'scopes'], code: 'INVALID' })] },
    });
  });
});

describe('categories', () => {
  const CREATE_CATEGORY = `mutation ($input: CreateCategoryInput!) { createCategory(input: $input) { category { id name slug } ${ERRORS} } }`;
  const UPDATE_CATEGORY = `mutation ($input: UpdateCategoryInput!) { updateCategory(input: $input) { category { id name slug } ${ERRORS} } }`;
  const DELETE_CATEGORY = `mutation ($input: DeleteCategoryInput!) { deleteCategory(input: $input) { deletedCategoryId ${ERRORS} } }`;

  it('creates, renames and deletes a category; a taken slug is TAKEN; a used category cannot be deleted', async () => {
    const created = await mutate<{ category: { id: string; slug: string } }>(CREATE_CATEGORY, { name: 'Garden tools', slug: 'garden-tools' }, admin.headers, 'createCategory');
    expect(created.category.slug).toBe('garden-tools');
    const taken = await mutate(CREATE_CATEGORY, { name: 'Again', slug: 'garden-tools' }, admin.headers, 'createCategory');
    expect(summary(taken.userErrors)).toEqual([{ field: ['input', 'slug'], code: 'TAKEN' }]);
    const renamed = await mutate<{ category: { name: string } }>(UPDATE_CATEGORY, { categoryId: created.category.id, name: 'Garden' }, admin.headers, 'updateCategory');
    expect(renamed.category.name).toBe('Garden');

    const used = await mutate(DELETE_CATEGORY, { categoryId: gid('Category', category) }, admin.headers, 'deleteCategory');
    expect(summary(used.userErrors)).toEqual([{ field: ['input', 'categoryId'], code: 'INVALID' }]);
    const removed = await mutate(DELETE_CATEGORY, { categoryId: created.category.id }, admin.headers, 'deleteCategory');
    expect(removed).toEqual({ deletedCategoryId: created.category.id, userErrors: [] });
  });

  it('reports every invalid field at once: blank name, bad slug, markup', async () => {
    const payload = await mutate(CREATE_CATEGORY, { name: '', slug: 'Not A Slug' }, admin.headers, 'createCategory');
    expect(summary(payload.userErrors)).toEqual([
      { field: ['input', 'name'], code: 'REQUIRED' },
      { field: ['input', 'slug'], code: 'INVALID' },
    ]);
    const text = await mutate(CREATE_CATEGORY, { name: '<i>Tools</i>', slug: 'tools!' }, admin.headers, 'createCategory');
    expect(summary(text.userErrors)).toEqual([
      { field: ['input', 'name'], code: 'INVALID' },
      { field: ['input', 'slug'], code: 'INVALID' },
    ]);
  });

  it('refuses markup in a new name as INVALID at input.name, NUL at the edge, and keeps the category as it was', async () => {
    const created = await mutate<{ category: { id: string } }>(CREATE_CATEGORY, { name: 'Lamps', slug: 'lamps-policy' }, admin.headers, 'createCategory');
    const markup = await mutate(UPDATE_CATEGORY, { categoryId: created.category.id, name: 'Lamps <style>*{}</style>' }, admin.headers, 'updateCategory');
    expect(summary(markup.userErrors)).toEqual([{ field: ['input', 'name'], code: 'INVALID' }]);
    const nul = await server.graphql<Data>(UPDATE_CATEGORY, { input: { categoryId: created.category.id, name: 'Lamps\u0000' } }, { headers: admin.headers });
    expect(nul.body.data ?? null).toBeNull();
    expect(nul.body.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', argument: 'input.name' });
    const row = await server.db.selectFrom('categories').select(['name', 'slug']).where('slug', '=', 'lamps-policy').executeTakeFirstOrThrow();
    expect(row).toEqual({ name: 'Lamps', slug: 'lamps-policy' });
  });
});
