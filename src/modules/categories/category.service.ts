import type { ServiceContext } from '../../graphql/context.js';
import { findAllCategories, findCategoryBySlug } from './category.repository.js';
import type { CategoryRow } from './category.table.js';

export async function listCategories(ctx: ServiceContext): Promise<CategoryRow[]> {
  const categories = await findAllCategories(ctx.db);
  // Prime the loader so nested `category` fields reuse these rows.
  for (const category of categories) ctx.loaders.categoryById.prime(category.id, category);
  return categories;
}

export async function getCategory(ctx: ServiceContext, id: string): Promise<CategoryRow | null> {
  return ctx.loaders.categoryById.load(id);
}

export async function getCategoryBySlug(ctx: ServiceContext, slug: string): Promise<CategoryRow | null> {
  if (slug.length > 80) return null;
  return (await findCategoryBySlug(ctx.db, slug)) ?? null;
}
