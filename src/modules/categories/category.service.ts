import type { Scope } from '../../scope/scope.js';
import type { CategoryLoaders } from './category.loaders.js';
import { findAllCategories, findCategoryBySlug } from './category.repository.js';
import type { CategoryRow } from './category.table.js';

export async function listCategories(ctx: Scope<CategoryLoaders>): Promise<CategoryRow[]> {
  const categories = await findAllCategories(ctx.db);
  // Prime the loader so nested `category` fields reuse these rows.
  for (const category of categories) ctx.loaders.categoryById.prime(category.id, category);
  return categories;
}

export async function getCategory(ctx: Scope<CategoryLoaders>, id: string): Promise<CategoryRow | null> {
  return ctx.loaders.categoryById.load(id);
}

export async function getCategoryBySlug(ctx: Scope<CategoryLoaders>, slug: string): Promise<CategoryRow | null> {
  if (slug.length > 80) return null;
  return (await findCategoryBySlug(ctx.db, slug)) ?? null;
}
