/**
 * The object types with global ids (part of the module registry: each is
 * fetched for `node(id:)` by the module that declares it in its descriptor's
 * `nodeTypes`; src/modules/registry.ts checks that the two agree). Kept in a
 * file that imports nothing, so the id codec can validate types without
 * loading the modules.
 */
export const NODE_TYPES = ['User', 'Category', 'Product', 'Review', 'Session', 'ApiKey', 'AuditEvent', 'Order', 'WebhookEndpoint', 'WebhookDelivery'] as const;
export type NodeType = (typeof NODE_TYPES)[number];

export function isNodeType(type: string | null): type is NodeType {
  return type !== null && (NODE_TYPES as readonly string[]).includes(type);
}
