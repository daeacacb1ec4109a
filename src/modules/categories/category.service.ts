import type { Scope } from '../../scope/scope.js';
import type { MaybePromise } from '../../loaders/record-loader.js';
import type { CategoryLoaders } from './category.loaders.js';
import { isForeignKeyViolation, isUniqueViolation } from '../../db/faults.js';
import { unitOfWork } from '../../db/unit-of-work.js';
import { recordChanges } from '../../scope/changes.js';
import type { UserErrorData } from '../../errors/user-errors.js';
import { InputCheck } from '../../validation/input.js';
import { deleteCategoryById, findAllCategories, findCategoryBySlug, insertCategory, updateCategoryById } from './category.repository.js';
import type { CategoryRow } from './category.table.js';

export async function listCategories(ctx: Scope<CategoryLoaders>): Promise<CategoryRow[]> {
  const categories = await findAllCategories(ctx.db);
  // Prime the loader so nested `category` fields reuse these rows.
  for (const category of categories) ctx.loaders.categoryById.prime(category.id, category);
  return categories;
}

/** Hands the per-request `categoryById` loader category rows another module's statement read by a join (the catalogue page). */
export function primeCategories(ctx: Scope<CategoryLoaders>, categories: Iterable<CategoryRow>): void {
  for (const category of categories) ctx.loaders.categoryById.prime(category.id, category);
}

/** A category by id (answered at once, without a promise, when the request's loader was primed with it). */
export function getCategory(ctx: Scope<CategoryLoaders>, id: string): MaybePromise<CategoryRow | null> {
  return ctx.loaders.categoryById.peek(id) ?? ctx.loaders.categoryById.load(id);
}

export async function getCategoryBySlug(ctx: Scope<CategoryLoaders>, slug: string): Promise<CategoryRow | null> {
  if (slug.length > 80) return null;
  return (await findCategoryBySlug(ctx.db, slug)) ?? null;
}

// Writes (admins only: the permission layer checks the role).

const SLUG = /^[a-z0-9]+(-[a-z0-9]+)*$/;
const NAME_MAX = 80;

export interface CategoryResult {
  category: CategoryRow | null;
  userErrors: UserErrorData[];
}

function checkCategoryInput(check: InputCheck, input: { name?: string | null; slug?: string | null }, creating: boolean) {
  const name = input.name == null && !creating ? undefined : check.text(['input', 'name'], input.name, { required: true, max: NAME_MAX, label: 'name' });
  let slug: string | undefined;
  if (input.slug != null || creating) {
    slug = check.text(['input', 'slug'], input.slug, { required: true, max: NAME_MAX, label: 'slug' });
    if (slug !== undefined && !SLUG.test(slug)) {
      check.errors.add(['input', 'slug'], 'INVALID', 'A slug is lower-case letters and digits, words joined by single hyphens.');
      slug = undefined;
    }
  }
  return { name, slug };
}

const slugTaken: UserErrorData = { field: ['input', 'slug'], code: 'TAKEN', message: 'Another category has this slug.' };
const categoryNotFound: UserErrorData = { field: ['input', 'categoryId'], code: 'NOT_FOUND', message: 'No such category.' };

/** Runs a write that may hit the unique slug: a lost race is a TAKEN user error, not a 500. */
async function catchingTakenSlug(scope: Scope, write: (unit: Scope) => Promise<CategoryResult>): Promise<CategoryResult> {
  try {
    return await unitOfWork(scope, write, { rerunnable: true, savepoint: true });
  } catch (error) {
    if (isUniqueViolation(error)) return { category: null, userErrors: [slugTaken] };
    throw error;
  }
}

export async function createCategory(scope: Scope<CategoryLoaders>, input: { name: string; slug: string }): Promise<CategoryResult> {
  const check = new InputCheck();
  const { name, slug } = checkCategoryInput(check, input, true);
  if (!check.ok || name === undefined || slug === undefined) return { category: null, userErrors: check.errors.list };
  return catchingTakenSlug(scope, async (unit) => {
    const category = await insertCategory(unit.db, { name, slug });
    await recordChanges(unit, { entity: 'category', id: category.id });
    return { category, userErrors: [] };
  });
}

export async function updateCategory(
  scope: Scope<CategoryLoaders>,
  input: { categoryId: string | null; name?: string | null; slug?: string | null },
): Promise<CategoryResult> {
  const check = new InputCheck();
  const { name, slug } = checkCategoryInput(check, input, false);
  if (!check.ok) return { category: null, userErrors: check.errors.list };
  const id = input.categoryId;
  if (id === null) return { category: null, userErrors: [categoryNotFound] };
  return catchingTakenSlug(scope, async (unit) => {
    const category = await updateCategoryById(unit.db, id, { ...(name !== undefined ? { name } : {}), ...(slug !== undefined ? { slug } : {}) });
    if (!category) return { category: null, userErrors: [categoryNotFound] };
    await recordChanges(unit, { entity: 'category', id });
    return { category, userErrors: [] };
  });
}

/** Deletes a category; one that any product references (deleted ones included) stays, as an INVALID user error. */
export async function deleteCategory(scope: Scope<CategoryLoaders>, input: { categoryId: string | null }): Promise<{ deleted: boolean; userErrors: UserErrorData[] }> {
  const id = input.categoryId;
  if (id === null) return { deleted: false, userErrors: [categoryNotFound] };
  try {
    const deleted = await unitOfWork(
      scope,
      async (unit) => {
        const gone = await deleteCategoryById(unit.db, id);
        if (gone) await recordChanges(unit, { entity: 'category', id });
        return gone;
      },
      { rerunnable: true, savepoint: true },
    );
    return deleted ? { deleted, userErrors: [] } : { deleted, userErrors: [categoryNotFound] };
  } catch (error) {
    // The products' foreign key (ON DELETE RESTRICT) decides, race-free.
    if (isForeignKeyViolation(error)) {
      return { deleted: false, userErrors: [{ field: ['input', 'categoryId'], code: 'INVALID', message: 'Products still use this category: move or delete them first.' }] };
    }
    throw error;
  }
}
