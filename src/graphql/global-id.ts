import { badUserInput } from '../errors/errors.js';

/** Object types that have global ids. */
export const NODE_TYPES = ['User', 'Category', 'Product', 'Review', 'Session', 'ApiKey', 'AuditEvent'] as const;
export type NodeType = (typeof NODE_TYPES)[number];

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

export interface DecodedId {
  type: NodeType;
  id: string;
}

/**
 * Opaque global ids: base64url of `Type:uuid`. Clients must not parse them.
 *
 * @example toGlobalId('Product', '3f0e…') // 'UHJvZHVjdDozZjBl…'
 */
export function toGlobalId(type: NodeType, id: string): string {
  return Buffer.from(`${type}:${id}`, 'utf8').toString('base64url');
}

/** Decodes any global id; a malformed one is a BAD_USER_INPUT error naming the argument. */
export function fromGlobalId(globalId: string, argument = 'id'): DecodedId {
  const malformed = () => badUserInput(argument, `\`${argument}\` is not a valid id.`);
  if (globalId.length === 0 || globalId.length > 128 || !/^[A-Za-z0-9_-]+$/.test(globalId)) throw malformed();
  const decoded = Buffer.from(globalId, 'base64url').toString('utf8');
  const separator = decoded.indexOf(':');
  const type = decoded.slice(0, separator);
  const id = decoded.slice(separator + 1);
  if (separator < 0 || !(NODE_TYPES as readonly string[]).includes(type) || !UUID.test(id)) throw malformed();
  return { type: type as NodeType, id };
}

/** Decodes a global id that must name an object of `type`. */
export function idOfType(globalId: string, type: NodeType, argument = 'id'): string {
  const decoded = fromGlobalId(globalId, argument);
  if (decoded.type !== type) throw badUserInput(argument, `\`${argument}\` must be the id of a ${type}.`);
  return decoded.id;
}
