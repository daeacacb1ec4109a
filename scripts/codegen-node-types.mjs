// A GraphQL Code Generator plugin: the object types that implement `Node`,
// read from the SDL, as a constant list. A module that adds such a type to its
// SDL adds a node type by that alone; src/modules/registry.ts then requires a
// fetcher for it in some module's descriptor (`nodeTypes`).
import { isObjectType } from 'graphql';

/** @param {import('graphql').GraphQLSchema} schema */
export function plugin(schema) {
  const node = schema.getType('Node');
  if (!node) throw new Error('the schema has no Node interface');
  const types = Object.values(schema.getTypeMap())
    .filter((type) => isObjectType(type) && type.getInterfaces().some((i) => i.name === 'Node'))
    .map((type) => type.name)
    .sort();
  return [
    '/** The object types that implement `Node` (global ids, `node(id:)`), in name order. */',
    `export const NODE_TYPES = [${types.map((t) => `'${t}'`).join(', ')}] as const;`,
    'export type NodeType = (typeof NODE_TYPES)[number];',
    '',
  ].join('\n');
}
