import type { Resolvers } from '../../graphql/generated/resolvers-types.js';
import { idOfType, idOfTypeOrNull, toGlobalId } from '../../graphql/global-id.js';
import { CONNECTION_ITEMS, OWN_OBJECT, selectedJoins, selectsField, selectsPath } from '../../graphql/selection.js';
import { appError } from '../../errors/errors.js';
import { liveField } from '../../scope/live.js';
import type { Scope } from '../../scope/scope.js';
import type { CategoryLoaders } from '../categories/category.loaders.js';
import type { CategoryRow } from '../categories/category.table.js';
import { PRODUCT_RELATIONS } from './product.table.js';
import type { UserLoaders } from '../users/user.loaders.js';
import type { ProductLoaders } from './product.loaders.js';
import { getCategory } from '../categories/category.service.js';
import { getUser } from '../users/user.service.js';
import {
  archiveProduct,
  createProduct,
  deleteProduct,
  getProduct,
  listCategoryProducts,
  listProducts,
  publishProduct,
  restoreProduct,
  updateProduct,
  type ProductFilterInput,
} from './product.service.js';
import { getSoldCount } from './sold-count.service.js';

/** The filter with its global ids decoded (a wrong or malformed id is a BAD_USER_INPUT error naming it). */
export function decodeProductFilter<F extends ProductFilterInput>(filter: F | null | undefined): F | null | undefined {
  if (!filter) return filter;
  return {
    ...filter,
    ...(filter.categoryId != null ? { categoryId: idOfType(filter.categoryId, 'Category', 'filter.categoryId') } : {}),
    ...(filter.sellerId != null ? { sellerId: idOfType(filter.sellerId, 'User', 'filter.sellerId') } : {}),
  };
}

export const productResolvers: Resolvers<Scope<ProductLoaders & CategoryLoaders & UserLoaders>> = {
  Subscription: {
    productUpdated: {
      // Each event reads the product again as the subscriber may see it then: once hidden (draft, archived, deleted) nothing is sent.
      subscribe: async (_root, { id }, ctx) => {
        const productId = idOfType(id, 'Product');
        if (!(await getProduct(ctx, productId))) throw appError('SUBSCRIPTION_NOT_FOUND');
        return liveField(ctx, 'productUpdated', 'product', (change) => change.id === productId, async (scope) => getProduct(scope, productId));
      },
    },
  },
  Query: {
    products: (_root, args, ctx, info) =>
      listProducts(
        ctx,
        { ...args, filter: decodeProductFilter(args.filter) },
        {
          withTotal: selectsField(info, 'totalCount'),
          withSeller: selectsPath(info, ['nodes', 'seller']) || selectsPath(info, ['edges', 'node', 'seller']),
          withCategory: selectsPath(info, ['nodes', 'category']) || selectsPath(info, ['edges', 'node', 'category']),
          withSoldCount: selectsPath(info, ['nodes', 'soldCount']) || selectsPath(info, ['edges', 'node', 'soldCount']),
        },
      ),
    product: (_root, { id }, ctx, info) => getProduct(ctx, idOfType(id, 'Product'), selectedJoins(info, OWN_OBJECT, PRODUCT_RELATIONS)),
  },
  Mutation: {
    createProduct: (_root, { input }, ctx) =>
      createProduct(ctx, { ...input, categoryId: idOfTypeOrNull(input.categoryId, 'Category', 'input.categoryId') }),
    updateProduct: (_root, { input }, ctx) => {
      const categoryId = input.categoryId == null ? undefined : idOfTypeOrNull(input.categoryId, 'Category', 'input.categoryId');
      return updateProduct(ctx, {
        ...input,
        productId: idOfTypeOrNull(input.productId, 'Product', 'input.productId'),
        categoryId,
        categoryIdInvalid: categoryId === null,
      });
    },
    publishProduct: (_root, { input }, ctx) => publishProduct(ctx, { ...input, productId: idOfTypeOrNull(input.productId, 'Product', 'input.productId') }),
    archiveProduct: (_root, { input }, ctx) => archiveProduct(ctx, { ...input, productId: idOfTypeOrNull(input.productId, 'Product', 'input.productId') }),
    deleteProduct: async (_root, { input }, ctx) => {
      const result = await deleteProduct(ctx, { ...input, productId: idOfTypeOrNull(input.productId, 'Product', 'input.productId') });
      return { deletedProductId: result.product ? toGlobalId('Product', result.product.id) : null, userErrors: result.userErrors };
    },
    restoreProduct: (_root, { input }, ctx) => restoreProduct(ctx, { productId: idOfTypeOrNull(input.productId, 'Product', 'input.productId') }),
  },
  Product: {
    id: (product) => toGlobalId('Product', product.id),
    price: (product) => ({ amount: product.price_amount, currency: product.currency }),
    inStock: (product) => product.stock > 0,
    seller: (product, _args, ctx) => getUser(ctx, product.seller_id),
    category: (product, _args, ctx) => {
      // The foreign key guarantees the row; its absence is a bug worth a 500.
      const present = (category: CategoryRow | null) => {
        if (!category) throw new Error(`category ${product.category_id} of product ${product.id} not found`);
        return category;
      };
      const category = getCategory(ctx, product.category_id);
      return category instanceof Promise ? category.then(present) : present(category);
    },
    averageRating: (product) => (product.review_count > 0 ? Number(product.rating_avg) : null),
    reviewCount: (product) => product.review_count,
    soldCount: (product, _args, ctx) => getSoldCount(ctx, product),
    createdAt: (product) => product.created_at,
    updatedAt: (product) => product.updated_at,
    deletedAt: (product) => product.deleted_at,
  },
  // schema/categories.products.graphql: the relation is the products module's, so is the field.
  Category: {
    products: (category, args, ctx, info) =>
      listCategoryProducts(
        ctx,
        category.id,
        { ...args, filter: decodeProductFilter(args.filter) },
        selectedJoins(info, CONNECTION_ITEMS, PRODUCT_RELATIONS),
        selectsField(info, 'totalCount'),
      ),
  },
  ProductConnection: {
    nodes: (connection) => connection.edges.map((edge) => edge.node),
    totalCount: (connection) => connection.totalCount(),
  },
};
