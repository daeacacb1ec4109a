import type { ServiceContext } from '../../graphql/context.js';
import type { ApiKeyRow } from './api-key.table.js';
import type { SessionRow } from './session.table.js';

/** A live session of the viewer's, by family id; anyone else's is `null`, like a missing one. */
export async function getOwnSession(ctx: ServiceContext, familyId: string): Promise<SessionRow | null> {
  // Sessions and keys are account data: never shown to an API key, even its owner's.
  if (!ctx.viewer || ctx.viewer.via === 'api_key') return null;
  const session = await ctx.loaders.liveSessionByFamily.load(familyId);
  return session && session.user_id === ctx.viewer.userId ? session : null;
}

/** One of the viewer's API keys; anyone else's is `null`, like a missing one. */
export async function getOwnApiKey(ctx: ServiceContext, id: string): Promise<ApiKeyRow | null> {
  if (!ctx.viewer || ctx.viewer.via === 'api_key') return null;
  const key = await ctx.loaders.apiKeyById.load(id);
  return key && key.user_id === ctx.viewer.userId ? key : null;
}
