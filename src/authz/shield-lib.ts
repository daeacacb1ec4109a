/**
 * The one place that loads graphql-shield and graphql-middleware.
 *
 * graphql-shield 7.6.5 (the last release) ships an ES module build that
 * imports `isUndefined` from `node:util`; Node 23 removed that function, so on
 * Node 24 the ES module build fails to link and the server cannot start. Its
 * CommonJS build reads the function only when `chain()` or `race()` is
 * evaluated, so everything this project uses (`rule`, `and`, `or`, `not`,
 * `allow`, `deny`, `shield`) works on Node 20, 22 and 24.
 *
 * Both packages are loaded through their CommonJS builds, together: the rule
 * classes graphql-shield checks with `instanceof` and the middleware it hands
 * to graphql-middleware must come from the same build. `chain` and `race` are
 * deliberately not re-exported (they throw on Node >= 23 in that build); an
 * ESLint rule keeps the packages from being imported anywhere else.
 *
 * See docs/architecture/decisions/0003-graphql-shield-on-node-24.md.
 */
import { createRequire } from 'node:module';

type ShieldModule = typeof import('graphql-shield');
type MiddlewareModule = typeof import('graphql-middleware');

const require = createRequire(import.meta.url);
const shieldModule = require('graphql-shield') as ShieldModule;
const middlewareModule = require('graphql-middleware') as MiddlewareModule;

export const { allow, and, deny, not, or, rule, shield } = shieldModule;
export const { applyMiddleware } = middlewareModule;
export type { IRules } from 'graphql-shield';
