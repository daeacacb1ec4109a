/**
 * The peer of `npm run bench:peer`: PostGraphile v5 (Amber preset) over the
 * benchmark's database, served by grafserv on Node's http server. Started by
 * bench/peer.ts with Node 24 (PostGraphile 5 needs Node 22 or later).
 *
 * Environment: DATABASE_URL, PORT (0 = a free port). Prints
 * `PEER_LISTENING <port>` on stdout once it serves.
 *
 * `PgIndexBehaviorsPlugin` is disabled: it hides orderings, filters and
 * backward relations that no plain index covers, and the catalogue's
 * indexes are partial (ACTIVE, not deleted), which it does not count.
 */
import http from 'node:http';

import { postgraphile } from 'postgraphile';
import { makePgService } from 'postgraphile/adaptors/pg';
import { grafserv } from 'postgraphile/grafserv/node';
import { PostGraphileAmberPreset } from 'postgraphile/presets/amber';

const databaseUrl = process.env.DATABASE_URL;
if (!databaseUrl) {
  console.error('DATABASE_URL is required');
  process.exit(2);
}

const preset = {
  extends: [PostGraphileAmberPreset],
  disablePlugins: ['PgIndexBehaviorsPlugin'],
  pgServices: [makePgService({ connectionString: databaseUrl, schemas: ['public'], poolConfig: { max: 10 } })],
  grafserv: { graphqlPath: '/graphql', graphiql: false, watch: false },
  grafast: { explain: false },
};

const pgl = postgraphile(preset);
const serv = pgl.createServ(grafserv);
const server = http.createServer();
await serv.addTo(server);
await pgl.getSchema();
server.listen(Number(process.env.PORT ?? 0), '127.0.0.1', () => {
  const address = server.address();
  console.log(`PEER_LISTENING ${typeof address === 'object' && address ? address.port : ''}`);
});

const stop = async () => {
  server.close();
  await serv.release();
  await pgl.release();
  process.exit(0);
};
process.once('SIGTERM', stop);
process.once('SIGINT', stop);
