import type { UserRole } from '../modules/users/user.table.js';

/** What an API key may be allowed to do (the schema's ApiKeyScope values). */
export const SCOPES = ['catalog:read', 'catalog:write', 'orders:read', 'orders:write', 'reviews:write'] as const;
export type Scope = (typeof SCOPES)[number];

/** The schema's ApiKeyScope enum value of a scope: `catalog:read` <-> `CATALOG_READ`. */
export type ScopeName = 'CATALOG_READ' | 'CATALOG_WRITE' | 'ORDERS_READ' | 'ORDERS_WRITE' | 'REVIEWS_WRITE';

export function scopeName(scope: Scope): ScopeName {
  return scope.replace(':', '_').toUpperCase() as ScopeName;
}

export function scopeFromName(name: ScopeName): Scope {
  return name.replace('_', ':').toLowerCase() as Scope;
}

/**
 * Whether the caller may use admin rights: an ADMIN signed in person. An
 * admin's API key carries no admin rights (it acts as an ordinary user).
 */
export function actsAsAdmin(viewer: Viewer | null | undefined): boolean {
  return viewer != null && viewer.role === 'ADMIN' && viewer.via !== 'api_key';
}

export function isScope(value: string): value is Scope {
  return (SCOPES as readonly string[]).includes(value);
}

/**
 * The authenticated caller of a request. Its role is read from the database
 * on every request (not from the token), so a role change or deactivation
 * takes effect at once.
 */
export interface Viewer {
  userId: string;
  role: UserRole;
  via: 'session' | 'api_key' | 'oidc';
  /** Session family of the access token, when it came from logIn/refreshSession. */
  sessionId: string | null;
  apiKeyId: string | null;
  /** Scopes of an API key; `null` means the user's full rights (sessions and OIDC tokens). */
  scopes: ReadonlySet<Scope> | null;
}
