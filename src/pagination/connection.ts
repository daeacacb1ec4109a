import { badUserInput } from '../errors/errors.js';
import { decodeCursor, encodeCursor, type CursorPosition, type KeyKind } from './cursor.js';

/** A connection's page without `first`/`last`, and the largest it serves (the cost model counts the same: src/limits/cost.ts). */
export const DEFAULT_PAGE_SIZE = 20;
export const MAX_PAGE_SIZE = 100;

/** The four Relay arguments as they arrive from GraphQL. */
export interface ConnectionArgs {
  first?: number | null;
  after?: string | null;
  last?: number | null;
  before?: string | null;
}

/** A sort as the pagination layer sees it: a name for cursors, the key's kind, a direction. */
export interface SortSpec {
  name: string;
  kind: KeyKind;
  direction: 'ASC' | 'DESC';
}

/**
 * A validated page request. `backward` pages are fetched in reverse order
 * (so the rows nearest the cursor come first) and flipped afterwards.
 */
export interface PageRequest {
  sort: SortSpec;
  backward: boolean;
  limit: number;
  cursor: CursorPosition | undefined;
}

export interface PageInfo {
  hasNextPage: boolean;
  hasPreviousPage: boolean;
  startCursor: string | null;
  endCursor: string | null;
}

export interface Edge<T> {
  cursor: string;
  node: T;
}

/** A resolved page. `totalCount` runs its query only if the client selects it. */
export interface Connection<T> {
  edges: Edge<T>[];
  pageInfo: PageInfo;
  totalCount: () => Promise<number>;
}

/** Rows fetched for a page carry their sort key in PostgreSQL text form. */
export interface Keyed {
  id: string;
  cursor_key: string;
}

function checkSize(argument: 'first' | 'last', value: number): number {
  if (!Number.isInteger(value) || value < 0 || value > MAX_PAGE_SIZE) {
    throw badUserInput(argument, `\`${argument}\` must be between 0 and ${MAX_PAGE_SIZE} (got ${value}).`);
  }
  return value;
}

/**
 * Validates Relay arguments: `first`/`after` page forward, `last`/`before`
 * backward; mixing the two directions, sizes outside 0..100 and foreign
 * cursors are BAD_USER_INPUT errors, never silently clamped.
 */
export function parsePageRequest(args: ConnectionArgs, sort: SortSpec): PageRequest {
  const { first, after, last, before } = args;
  const forward = first != null || after != null;
  const backward = last != null || before != null;
  if (forward && backward) {
    throw badUserInput(
      last != null ? 'last' : 'before',
      'Paginate forward with `first`/`after` or backward with `last`/`before`, not both.',
    );
  }
  if (backward) {
    return {
      sort,
      backward: true,
      limit: last != null ? checkSize('last', last) : DEFAULT_PAGE_SIZE,
      cursor: before != null ? decodeCursor(before, sort.name, sort.kind, 'before') : undefined,
    };
  }
  return {
    sort,
    backward: false,
    limit: first != null ? checkSize('first', first) : DEFAULT_PAGE_SIZE,
    cursor: after != null ? decodeCursor(after, sort.name, sort.kind, 'after') : undefined,
  };
}

/**
 * A stable string for a page request, used to group per-parent page loads
 * that can share one query (computed once per parent: 50 times for a page of
 * products with their reviews). The sort's parts are names from fixed maps
 * and the limit a number; the cursor's key is free text, so it alone is
 * quoted, and it comes last.
 */
export function pageRequestKey(request: PageRequest): string {
  const { sort, backward, limit, cursor } = request;
  const base = `${sort.name}:${sort.kind}:${sort.direction}:${backward ? 'backward' : 'forward'}:${limit}`;
  return cursor ? `${base}:${cursor.id}:${JSON.stringify(cursor.key)}` : base;
}

/**
 * An edge whose cursor is encoded when it is first read: a client that selects
 * `nodes` (or `edges { node }`) never pays for the base64 of every row's key.
 */
class KeyedEdge<T extends Keyed> implements Edge<T> {
  #cursor: string | undefined;
  constructor(
    private readonly sortName: string,
    readonly node: T,
  ) {}

  get cursor(): string {
    return (this.#cursor ??= encodeCursor(this.sortName, { key: this.node.cursor_key, id: this.node.id }));
  }
}

/**
 * Turns `limit + 1` rows fetched in scan order into a connection: the extra
 * row only tells whether more exist in the direction of travel. Cursors
 * (the edges' and `pageInfo`'s) are encoded only if they are read.
 */
export function toConnection<T extends Keyed>(
  rows: readonly T[],
  request: PageRequest,
  totalCount: () => Promise<number>,
): Connection<T> {
  const hasMore = rows.length > request.limit;
  const page = rows.slice(0, request.limit);
  if (request.backward) page.reverse();
  const sortName = request.sort.name;
  const edges: Edge<T>[] = page.map((row) => new KeyedEdge(sortName, row));
  return {
    edges,
    pageInfo: {
      hasNextPage: request.backward ? false : hasMore,
      hasPreviousPage: request.backward ? hasMore : false,
      get startCursor() {
        return edges[0]?.cursor ?? null;
      },
      get endCursor() {
        return edges.at(-1)?.cursor ?? null;
      },
    },
    totalCount,
  };
}
