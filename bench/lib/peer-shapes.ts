/**
 * The request shapes of `npm run bench:peer`: each one a query a client of
 * this API would send, the same question put to PostGraphile in its own
 * schema, and what both answers must agree on before anything is timed.
 *
 * PostGraphile (Amber preset) has no visibility rules: where this API shows
 * only ACTIVE, undeleted products and live reviews, the peer's query says so
 * with `condition`, and where this API shows a signed-in user their own
 * orders, the peer is asked for the orders of that user's id with no
 * authentication at all (a ceiling for this API, which authenticates every
 * such request and re-reads the session). Orderings are the same on both
 * sides, with the id as the tie-breaker.
 *
 * Each shape has a page size it is timed at and a smaller one: statements
 * are counted at both, and must not grow with the page.
 */
import { toGlobalId } from '../../src/graphql/global-id.js';
import type { PeerFixtures } from './peer-seed.js';
import { SEARCH_TERM } from './peer-seed.js';

export type ShapeAuth = 'customer' | 'seller';
type Variables = Record<string, unknown>;

export interface Shape {
  name: string;
  description: string;
  /** The page size the load rounds use, and a smaller one; statements are counted at both. */
  size: number;
  smallSize: number;
  /** Whose bearer token this API gets (the peer gets none). */
  auth?: ShapeAuth;
  ours: { query: string; variables: (fixtures: PeerFixtures, size: number) => Variables };
  peer: { query: string; variables: (fixtures: PeerFixtures, size: number) => Variables };
  /** Both answers reduced to what must be equal: lines of text, in answer order. */
  oursComparable: (json: unknown) => string[];
  peerComparable: (json: unknown) => string[];
}

// ---------------------------------------------------------------- reading answers without `any`

function get(value: unknown, ...path: string[]): unknown {
  let current = value;
  for (const key of path) {
    if (current === null || typeof current !== 'object') return undefined;
    current = (current as Record<string, unknown>)[key];
  }
  return current;
}
const list = (value: unknown): unknown[] => (Array.isArray(value) ? value : []);
const text = (value: unknown): string => {
  if (value === null || value === undefined) return '-';
  return JSON.stringify(value).replace(/^"(.*)"$/s, '$1');
};
/** PostGraphile sends bigint and numeric as strings; this API sends numbers. */
const num = (value: unknown): string => (value === null || value === undefined ? '-' : String(Number(value)));
const nodes = (connection: unknown) => list(get(connection, 'nodes'));
/** The peer's mean rating where this API's `averageRating` would be: null without reviews. */
const peerRating = (node: unknown) => (Number(get(node, 'reviewCount')) > 0 ? num(get(node, 'ratingAvg')) : '-');

// ---------------------------------------------------------------- the shapes

const catalog: Shape = {
  name: 'catalog',
  description: 'catalogue page: 50 by price with seller, category, 3 reviews with authors, totals, pageInfo',
  size: 50,
  smallSize: 5,
  ours: {
    query: `query Catalog($first: Int!) {
  products(first: $first, orderBy: { field: PRICE, direction: ASC }) {
    totalCount
    pageInfo { hasNextPage endCursor }
    edges { cursor node {
      id title price { amount currency }
      seller { displayName }
      category { name }
      reviews(first: 3) { totalCount nodes { rating body author { displayName } } }
    } }
  }
}`,
    variables: (_, size) => ({ first: size }),
  },
  peer: {
    query: `query Catalog($first: Int!) {
  allProducts(first: $first, orderBy: [PRICE_AMOUNT_ASC, ROW_ID_ASC], condition: { status: "ACTIVE", deletedAt: null }) {
    totalCount
    pageInfo { hasNextPage endCursor }
    edges { cursor node {
      id title priceAmount currency
      userBySellerId { displayName }
      categoryByCategoryId { name }
      reviewsByProductId(first: 3, orderBy: [CREATED_AT_DESC, ROW_ID_DESC], condition: { deletedAt: null }) {
        totalCount nodes { rating body userByAuthorId { displayName } }
      }
    } }
  }
}`,
    variables: (_, size) => ({ first: size }),
  },
  oursComparable: (json) => {
    const products = get(json, 'data', 'products');
    return [
      `${text(get(products, 'totalCount'))} ${text(get(products, 'pageInfo', 'hasNextPage'))}`,
      ...list(get(products, 'edges')).map((edge) => {
        const node = get(edge, 'node');
        const reviews = get(node, 'reviews');
        return [
          text(get(node, 'title')),
          num(get(node, 'price', 'amount')),
          text(get(node, 'seller', 'displayName')),
          text(get(node, 'category', 'name')),
          text(get(reviews, 'totalCount')),
          nodes(reviews).map((r) => `${text(get(r, 'rating'))}/${text(get(r, 'author', 'displayName'))}`).join(','),
        ].join(' | ');
      }),
    ];
  },
  peerComparable: (json) => {
    const products = get(json, 'data', 'allProducts');
    return [
      `${text(get(products, 'totalCount'))} ${text(get(products, 'pageInfo', 'hasNextPage'))}`,
      ...list(get(products, 'edges')).map((edge) => {
        const node = get(edge, 'node');
        const reviews = get(node, 'reviewsByProductId');
        return [
          text(get(node, 'title')),
          num(get(node, 'priceAmount')),
          text(get(node, 'userBySellerId', 'displayName')),
          text(get(node, 'categoryByCategoryId', 'name')),
          text(get(reviews, 'totalCount')),
          nodes(reviews).map((r) => `${text(get(r, 'rating'))}/${text(get(r, 'userByAuthorId', 'displayName'))}`).join(','),
        ].join(' | ');
      }),
    ];
  },
};

const productPage: Shape = {
  name: 'product-page',
  description: "one product's page: product, seller, category, rating, 10 newest reviews with authors, review count",
  size: 10,
  smallSize: 3,
  ours: {
    query: `query ProductPage($id: ID!, $reviews: Int!) {
  product(id: $id) {
    id title description price { amount currency } stock status averageRating reviewCount createdAt
    seller { id displayName }
    category { id name slug }
    reviews(first: $reviews) {
      totalCount
      pageInfo { hasNextPage endCursor }
      nodes { id rating title body createdAt author { id displayName } }
    }
  }
}`,
    variables: (f, size) => ({ id: toGlobalId('Product', f.productId), reviews: size }),
  },
  peer: {
    query: `query ProductPage($id: UUID!, $reviews: Int!) {
  productByRowId(rowId: $id) {
    id title description priceAmount currency stock status ratingAvg reviewCount createdAt
    userBySellerId { id displayName }
    categoryByCategoryId { id name slug }
    reviewsByProductId(first: $reviews, orderBy: [CREATED_AT_DESC, ROW_ID_DESC], condition: { deletedAt: null }) {
      totalCount
      pageInfo { hasNextPage endCursor }
      nodes { id rating title body createdAt userByAuthorId { id displayName } }
    }
  }
}`,
    variables: (f, size) => ({ id: f.productId, reviews: size }),
  },
  oursComparable: (json) => {
    const p = get(json, 'data', 'product');
    const reviews = get(p, 'reviews');
    return [
      [
        text(get(p, 'title')),
        text(get(p, 'description')),
        num(get(p, 'price', 'amount')),
        text(get(p, 'stock')),
        num(get(p, 'averageRating')),
        text(get(p, 'reviewCount')),
        text(get(p, 'seller', 'displayName')),
        text(get(p, 'category', 'name')),
        text(get(reviews, 'totalCount')),
        text(get(reviews, 'pageInfo', 'hasNextPage')),
      ].join(' | '),
      ...nodes(reviews).map((r) => [get(r, 'rating'), get(r, 'title'), get(r, 'body'), get(r, 'author', 'displayName')].map(text).join(' | ')),
    ];
  },
  peerComparable: (json) => {
    const p = get(json, 'data', 'productByRowId');
    const reviews = get(p, 'reviewsByProductId');
    return [
      [
        text(get(p, 'title')),
        text(get(p, 'description')),
        num(get(p, 'priceAmount')),
        text(get(p, 'stock')),
        peerRating(p),
        text(get(p, 'reviewCount')),
        text(get(p, 'userBySellerId', 'displayName')),
        text(get(p, 'categoryByCategoryId', 'name')),
        text(get(reviews, 'totalCount')),
        text(get(reviews, 'pageInfo', 'hasNextPage')),
      ].join(' | '),
      ...nodes(reviews).map((r) => [get(r, 'rating'), get(r, 'title'), get(r, 'body'), get(r, 'userByAuthorId', 'displayName')].map(text).join(' | ')),
    ];
  },
};

const categoryListing: Shape = {
  name: 'category-listing',
  description: 'a category listing: the 20 newest products of one category with seller and rating, total count',
  size: 20,
  smallSize: 5,
  ours: {
    query: `query CategoryListing($slug: String!, $first: Int!) {
  categoryBySlug(slug: $slug) {
    id name
    products(first: $first) {
      totalCount
      pageInfo { hasNextPage endCursor }
      nodes { id title price { amount currency } averageRating inStock seller { id displayName } }
    }
  }
}`,
    variables: (f, size) => ({ slug: f.categorySlug, first: size }),
  },
  peer: {
    query: `query CategoryListing($slug: String!, $first: Int!) {
  categoryBySlug(slug: $slug) {
    id name
    productsByCategoryId(first: $first, orderBy: [CREATED_AT_DESC, ROW_ID_DESC], condition: { status: "ACTIVE", deletedAt: null }) {
      totalCount
      pageInfo { hasNextPage endCursor }
      nodes { id title priceAmount currency ratingAvg reviewCount stock userBySellerId { id displayName } }
    }
  }
}`,
    variables: (f, size) => ({ slug: f.categorySlug, first: size }),
  },
  oursComparable: (json) => {
    const c = get(json, 'data', 'categoryBySlug');
    const products = get(c, 'products');
    return [
      `${text(get(c, 'name'))} ${text(get(products, 'totalCount'))} ${text(get(products, 'pageInfo', 'hasNextPage'))}`,
      ...nodes(products).map((p) =>
        [text(get(p, 'title')), num(get(p, 'price', 'amount')), num(get(p, 'averageRating')), text(get(p, 'inStock')), text(get(p, 'seller', 'displayName'))].join(' | '),
      ),
    ];
  },
  peerComparable: (json) => {
    const c = get(json, 'data', 'categoryBySlug');
    const products = get(c, 'productsByCategoryId');
    return [
      `${text(get(c, 'name'))} ${text(get(products, 'totalCount'))} ${text(get(products, 'pageInfo', 'hasNextPage'))}`,
      ...nodes(products).map((p) =>
        [text(get(p, 'title')), num(get(p, 'priceAmount')), peerRating(p), text(Number(get(p, 'stock')) > 0), text(get(p, 'userBySellerId', 'displayName'))].join(' | '),
      ),
    ];
  },
};

/** Orders with their items, for the customer's and the seller's views; `party` is the other side's profile. */
function orderLines(connection: unknown, party: (order: unknown) => unknown, items: (order: unknown) => unknown[], item: (line: unknown) => string[], total: (order: unknown) => unknown): string[] {
  return nodes(connection).map((order) =>
    [
      text(get(order, 'status')),
      num(total(order)),
      text(get(party(order), 'displayName')),
      items(order)
        .map((line) => item(line).join('/'))
        .sort()
        .join(', '),
    ].join(' | '),
  );
}

const customerOrders: Shape = {
  name: 'customer-orders',
  description: "a signed-in customer's 20 newest orders with items, their products and sellers (the peer without authorization)",
  size: 20,
  smallSize: 5,
  auth: 'customer',
  ours: {
    query: `query MyOrders($first: Int!) {
  viewer {
    id
    orders(first: $first) {
      pageInfo { hasNextPage endCursor }
      nodes {
        id status createdAt total { amount currency }
        seller { id displayName }
        items { title quantity unitPrice { amount currency } product { id title } }
      }
    }
  }
}`,
    variables: (_, size) => ({ first: size }),
  },
  peer: {
    query: `query MyOrders($customer: UUID!, $first: Int!) {
  userByRowId(rowId: $customer) {
    id
    ordersByCustomerId(first: $first, orderBy: [CREATED_AT_DESC, ROW_ID_DESC]) {
      pageInfo { hasNextPage endCursor }
      nodes {
        id status createdAt totalAmount currency
        userBySellerId { id displayName }
        orderItemsByOrderId { nodes { productTitle quantity unitPriceAmount currency productByProductId { id title } } }
      }
    }
  }
}`,
    variables: (f, size) => ({ customer: f.customerId, first: size }),
  },
  oursComparable: (json) => {
    const orders = get(json, 'data', 'viewer', 'orders');
    return [
      text(get(orders, 'pageInfo', 'hasNextPage')),
      ...orderLines(
        orders,
        (o) => get(o, 'seller'),
        (o) => list(get(o, 'items')),
        (i) => [text(get(i, 'title')), text(get(i, 'quantity')), num(get(i, 'unitPrice', 'amount')), text(get(i, 'product', 'title'))],
        (o) => get(o, 'total', 'amount'),
      ),
    ];
  },
  peerComparable: (json) => {
    const orders = get(json, 'data', 'userByRowId', 'ordersByCustomerId');
    return [
      text(get(orders, 'pageInfo', 'hasNextPage')),
      ...orderLines(
        orders,
        (o) => get(o, 'userBySellerId'),
        (o) => nodes(get(o, 'orderItemsByOrderId')),
        (i) => [text(get(i, 'productTitle')), text(get(i, 'quantity')), num(get(i, 'unitPriceAmount')), text(get(i, 'productByProductId', 'title'))],
        (o) => get(o, 'totalAmount'),
      ),
    ];
  },
};

const sellerSales: Shape = {
  name: 'seller-sales',
  description: "a signed-in seller's 20 newest sales with items, products (title, stock) and customers, total count",
  size: 20,
  smallSize: 5,
  auth: 'seller',
  ours: {
    query: `query MySales($first: Int!) {
  viewer {
    id
    sales(first: $first) {
      totalCount
      pageInfo { hasNextPage endCursor }
      nodes {
        id status createdAt total { amount currency }
        customer { id displayName }
        items { title quantity subtotal { amount currency } product { id title stock } }
      }
    }
  }
}`,
    variables: (_, size) => ({ first: size }),
  },
  peer: {
    query: `query MySales($seller: UUID!, $first: Int!) {
  userByRowId(rowId: $seller) {
    id
    ordersBySellerId(first: $first, orderBy: [CREATED_AT_DESC, ROW_ID_DESC]) {
      totalCount
      pageInfo { hasNextPage endCursor }
      nodes {
        id status createdAt totalAmount currency
        userByCustomerId { id displayName }
        orderItemsByOrderId { nodes { productTitle quantity unitPriceAmount currency productByProductId { id title stock } } }
      }
    }
  }
}`,
    variables: (f, size) => ({ seller: f.sellerId, first: size }),
  },
  oursComparable: (json) => {
    const orders = get(json, 'data', 'viewer', 'sales');
    return [
      `${text(get(orders, 'totalCount'))} ${text(get(orders, 'pageInfo', 'hasNextPage'))}`,
      ...orderLines(
        orders,
        (o) => get(o, 'customer'),
        (o) => list(get(o, 'items')),
        (i) => [text(get(i, 'title')), text(get(i, 'quantity')), num(get(i, 'subtotal', 'amount')), text(get(i, 'product', 'title')), text(get(i, 'product', 'stock'))],
        (o) => get(o, 'total', 'amount'),
      ),
    ];
  },
  peerComparable: (json) => {
    const orders = get(json, 'data', 'userByRowId', 'ordersBySellerId');
    return [
      `${text(get(orders, 'totalCount'))} ${text(get(orders, 'pageInfo', 'hasNextPage'))}`,
      ...orderLines(
        orders,
        (o) => get(o, 'userByCustomerId'),
        (o) => nodes(get(o, 'orderItemsByOrderId')),
        (i) => [
          text(get(i, 'productTitle')),
          text(get(i, 'quantity')),
          num(Number(get(i, 'unitPriceAmount')) * Number(get(i, 'quantity'))),
          text(get(i, 'productByProductId', 'title')),
          text(get(i, 'productByProductId', 'stock')),
        ],
        (o) => get(o, 'totalAmount'),
      ),
    ];
  },
};

const search: Shape = {
  name: 'search',
  description: `a search by title ("${SEARCH_TERM}"): the 20 newest matches with price and category, total count`,
  size: 20,
  smallSize: 5,
  ours: {
    query: `query Search($term: String!, $first: Int!) {
  products(first: $first, filter: { search: $term }) {
    totalCount
    pageInfo { hasNextPage endCursor }
    nodes { id title price { amount currency } category { id name } }
  }
}`,
    variables: (_, size) => ({ term: SEARCH_TERM, first: size }),
  },
  peer: {
    query: `query Search($term: String!, $first: Int!) {
  searchProducts(term: $term, first: $first) {
    totalCount
    pageInfo { hasNextPage endCursor }
    nodes { id title priceAmount currency categoryByCategoryId { id name } }
  }
}`,
    variables: (_, size) => ({ term: SEARCH_TERM, first: size }),
  },
  oursComparable: (json) => {
    const products = get(json, 'data', 'products');
    return [
      `${text(get(products, 'totalCount'))} ${text(get(products, 'pageInfo', 'hasNextPage'))}`,
      ...nodes(products).map((p) => [text(get(p, 'title')), num(get(p, 'price', 'amount')), text(get(p, 'category', 'name'))].join(' | ')),
    ];
  },
  peerComparable: (json) => {
    const products = get(json, 'data', 'searchProducts');
    return [
      `${text(get(products, 'totalCount'))} ${text(get(products, 'pageInfo', 'hasNextPage'))}`,
      ...nodes(products).map((p) => [text(get(p, 'title')), num(get(p, 'priceAmount')), text(get(p, 'categoryByCategoryId', 'name'))].join(' | ')),
    ];
  },
};

const deep: Shape = {
  name: 'deep',
  description: 'deep through the graph: every category, its 3 newest products with sellers, 3 reviews each with author and the product again with its category',
  size: 3,
  smallSize: 1,
  ours: {
    query: `query Deep($first: Int!) {
  categories {
    name
    products(first: $first) {
      nodes {
        title seller { displayName }
        reviews(first: 3) { nodes { rating author { displayName } product { title category { name } } } }
      }
    }
  }
}`,
    variables: (_, size) => ({ first: size }),
  },
  peer: {
    query: `query Deep($first: Int!) {
  allCategories(orderBy: [NAME_ASC, ROW_ID_ASC]) {
    nodes {
      name
      productsByCategoryId(first: $first, orderBy: [CREATED_AT_DESC, ROW_ID_DESC], condition: { status: "ACTIVE", deletedAt: null }) {
        nodes {
          title userBySellerId { displayName }
          reviewsByProductId(first: 3, orderBy: [CREATED_AT_DESC, ROW_ID_DESC], condition: { deletedAt: null }) {
            nodes { rating userByAuthorId { displayName } productByProductId { title categoryByCategoryId { name } } }
          }
        }
      }
    }
  }
}`,
    variables: (_, size) => ({ first: size }),
  },
  oursComparable: (json) =>
    list(get(json, 'data', 'categories')).flatMap((c) =>
      nodes(get(c, 'products')).map((p) =>
        [
          text(get(c, 'name')),
          text(get(p, 'title')),
          text(get(p, 'seller', 'displayName')),
          nodes(get(p, 'reviews'))
            .map((r) => [get(r, 'rating'), get(r, 'author', 'displayName'), get(r, 'product', 'title'), get(r, 'product', 'category', 'name')].map(text).join('/'))
            .join(','),
        ].join(' | '),
      ),
    ),
  peerComparable: (json) =>
    nodes(get(json, 'data', 'allCategories')).flatMap((c) =>
      nodes(get(c, 'productsByCategoryId')).map((p) =>
        [
          text(get(c, 'name')),
          text(get(p, 'title')),
          text(get(p, 'userBySellerId', 'displayName')),
          nodes(get(p, 'reviewsByProductId'))
            .map((r) =>
              [get(r, 'rating'), get(r, 'userByAuthorId', 'displayName'), get(r, 'productByProductId', 'title'), get(r, 'productByProductId', 'categoryByCategoryId', 'name')]
                .map(text)
                .join('/'),
            )
            .join(','),
        ].join(' | '),
      ),
    ),
};

export const SHAPES: readonly Shape[] = [catalog, productPage, categoryListing, customerOrders, sellerSales, search, deep];

/** `--shapes a,b` (names above), or every shape. */
export function shapesFromArgs(argv: readonly string[]): Shape[] {
  const index = argv.findIndex((arg) => arg === '--shapes' || arg.startsWith('--shapes='));
  if (index < 0) return [...SHAPES];
  const arg = argv[index] as string;
  const raw = arg.includes('=') ? arg.slice(arg.indexOf('=') + 1) : (argv[index + 1] ?? '');
  const names = raw.split(',').map((name) => name.trim()).filter(Boolean);
  const unknown = names.filter((name) => !SHAPES.some((shape) => shape.name === name));
  if (names.length === 0 || unknown.length > 0) {
    throw new Error(`--shapes takes names from ${SHAPES.map((s) => s.name).join(', ')} (got "${raw}")`);
  }
  return SHAPES.filter((shape) => names.includes(shape.name));
}
