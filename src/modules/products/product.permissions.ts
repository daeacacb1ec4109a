import { allow, and } from '../../authz/shield-lib.js';

import { canReadCatalog, canWriteCatalog, includeDeletedOnlyForAdmins, ownsProductOrAdmin } from '../../authz/rules.js';

const payload = { product: allow, userErrors: allow };

/** Visibility of DRAFT/ARCHIVED/deleted products is decided in the service (invisible means null). */
export const productPermissions = {
  Query: {
    products: and(canReadCatalog, includeDeletedOnlyForAdmins),
    product: canReadCatalog,
  },
  // Each event is read again through getProduct: a product hidden from the subscriber sends nothing.
  Subscription: {
    productUpdated: canReadCatalog,
  },
  Mutation: {
    createProduct: canWriteCatalog,
    updateProduct: canWriteCatalog,
    publishProduct: canWriteCatalog,
    archiveProduct: canWriteCatalog,
    deleteProduct: canWriteCatalog,
    restoreProduct: canWriteCatalog,
  },
  CreateProductPayload: payload,
  UpdateProductPayload: payload,
  PublishProductPayload: payload,
  ArchiveProductPayload: payload,
  DeleteProductPayload: { deletedProductId: allow, userErrors: allow },
  RestoreProductPayload: payload,
  Product: {
    id: allow,
    title: allow,
    description: allow,
    price: allow,
    stock: allow,
    inStock: allow,
    status: allow,
    version: allow,
    seller: allow,
    category: allow,
    averageRating: allow,
    reviewCount: allow,
    soldCount: allow,
    createdAt: allow,
    updatedAt: allow,
    deletedAt: ownsProductOrAdmin,
  },
  Category: { products: includeDeletedOnlyForAdmins },
  ProductConnection: { edges: allow, nodes: allow, pageInfo: allow, totalCount: allow },
  ProductEdge: { cursor: allow, node: allow },
};
