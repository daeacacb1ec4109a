import { badUserInput } from '../errors/errors.js';
import { isNodeType, type NodeType } from '../modules/node-types.js';

export type { NodeType } from '../modules/node-types.js';

/**
 * Opaque global ids: base64url of `Type:uuid`. Clients must not parse them.
 * This is the one place ids are encoded and decoded; resolvers decode what
 * clients send and pass raw ids to services. Which types exist is listed in
 * src/modules/node-types.ts.
 *
 * @example toGlobalId('Product', '3f0e…') // 'UHJvZHVjdDozZjBl…'
 */

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

export interface DecodedId {
  type: NodeType;
  id: string;
}

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
  if (separator < 0 || !isNodeType(type) || !UUID.test(id)) throw malformed();
  return { type, id };
}

/** Decodes a global id that must name an object of `type`; another type is a BAD_USER_INPUT error. */
export function idOfType(globalId: string, type: NodeType, argument = 'id'): string {
  const decoded = fromGlobalId(globalId, argument);
  if (decoded.type !== type) throw badUserInput(argument, `\`${argument}\` must be the id of a ${type}.`);
  return decoded.id;
}

/**
 * For mutation targets: the raw id when the global id names a `type`, `null`
 * when it names another type (the service answers NOT_FOUND, as for a
 * missing object). A malformed id is still a BAD_USER_INPUT error.
 */
export function idOfTypeOrNull(globalId: string, type: NodeType, argument: string): string | null {
  const decoded = fromGlobalId(globalId, argument);
  return decoded.type === type ? decoded.id : null;
}
