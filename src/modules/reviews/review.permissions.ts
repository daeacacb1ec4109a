import { allow } from '../../authz/shield-lib.js';

export const reviewPermissions = {
  Review: {
    id: allow,
    rating: allow,
    body: allow,
    author: allow,
    product: allow,
    createdAt: allow,
    updatedAt: allow,
  },
  ReviewConnection: { edges: allow, nodes: allow, pageInfo: allow, totalCount: allow },
  ReviewEdge: { cursor: allow, node: allow },
};
