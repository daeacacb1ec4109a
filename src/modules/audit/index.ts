export { auditResolvers as resolvers } from './audit.resolvers.js';
export { createAuditLoaders as createLoaders } from './audit.loaders.js';
