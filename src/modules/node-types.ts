/**
 * The object types with global ids: every type the SDL declares with
 * `implements Node`, listed by codegen (src/graphql/generated/node-types.ts,
 * from scripts/codegen-node-types.mjs), so a module adds one by its SDL alone.
 * Each is fetched for `node(id:)` by the module that declares it in its
 * descriptor's `nodeTypes`; src/modules/registry.ts checks that every one
 * has a fetcher. The generated file imports nothing, so the id codec can
 * validate types without loading the modules.
 */
import { NODE_TYPES, type NodeType } from '../graphql/generated/node-types.js';

export { NODE_TYPES, type NodeType };

export function isNodeType(type: string | null): type is NodeType {
  return type !== null && (NODE_TYPES as readonly string[]).includes(type);
}
