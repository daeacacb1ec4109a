import { defineModule } from '../module.js';
import { createAuditLoaders } from './audit.loaders.js';
import { auditPermissions } from './audit.permissions.js';
import { auditResolvers } from './audit.resolvers.js';
import { getAuditEvent } from './audit.service.js';

export const auditModule = defineModule({
  name: 'audit',
  schema: ['audit.graphql'],
  resolvers: auditResolvers,
  permissions: auditPermissions,
  createLoaders: createAuditLoaders,
  nodeTypes: { AuditEvent: getAuditEvent },
  // audit_events was created together with the accounts tables (2026_11_24_0006_auth, the accounts module's).
  tables: ['audit_events'],
  migrations: {},
  changeTags: {},
});
