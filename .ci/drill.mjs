// The scale drill: mixed load through the load balancer of docker-compose.yml
// while one API replica is SIGKILLed in the middle and started again, then
// proof that nothing was lost or done twice. Run by .ci/container-check.mjs
// (CI: 30 s) and by `npm run drill:scale` (120 s).
//
// The load, closed-loop from this process, through the load balancer:
//   - catalog readers (anonymous: a product page and a product's detail, as a
//     shop front does; mostly answered by the shared response cache);
//   - one signer-in (`logIn` of the demo customers, argon2id each time);
//   - buyers: keyed `checkout`s of one unit of one of eight restocked
//     products, as the demo customers. A buyer retries like a real client:
//     on a network error or a 502/503/504 at once (after 250 ms) with the
//     same Idempotency-Key, on 409 IDEMPOTENCY_KEY_IN_PROGRESS after its
//     Retry-After, until a final answer. A claim whose request died with the
//     replica binds until its lease runs out, at most 15 s after the kill
//     (IDEMPOTENCY_LOCK_MS; a live replica renews its claims, a dead one
//     does not), so the drill waits for those keys after the load, if the
//     load ends sooner; a key still refused well past the lease fails it.
// At the middle the first replica is SIGKILLed (`kill --signal KILL`), and
// started again 10 s later (less in a short drill).
//
// It then proves, and prints:
//   1. 5xx (and network errors) only for requests in flight on the killed
//      replica: the load balancer's x-upstream header names the replica (its
//      address) each answer or 502 came from; every 5xx must name the killed
//      replica and have been sent before the kill returned and answered after
//      it began;
//   2. no order executed twice: the orders the drill's customers have since
//      the start are exactly the orders of the final answers, one per key;
//   3. every retried keyed checkout replayed (Idempotent-Replayed) or
//      executed once (its one order);
//   4. stock consistent with order items: for each product bought, the
//      stock set at the start minus the units in its order items since then
//      is its stock now;
//   5. cost budgets shared across replicas (Redis): one principal's
//      `RateLimit` remaining falls with each request, whichever replica
//      (the restarted one included) answers it;
//   6. cache invalidation seen on the other replica: a product answer cached
//      on one replica (proved by a change made behind the API that it does
//      not show) shows a checkout made on the other replica at once; before
//      the kill and again with the restarted replica as the reader;
//   7. the restarted replica serves again through the load balancer.
import { randomUUID } from 'node:crypto';
import http from 'node:http';

import { sleep } from './compose-stack.mjs';

const PASSWORD = 'marketplace-demo';
const CUSTOMERS = ['customer1@example.com', 'customer2@example.com', 'customer3@example.com'];
const BUDGET_PRINCIPAL = 'seller1@example.com';
const STOCK = 100_000;
const CLAIM_LOCK_MS = 15_000; // IDEMPOTENCY_LOCK_MS (src/idempotency/idempotency.service.ts): a claim's lease
// A buyer gives up (the key ends without an order: a problem) this long after its first attempt.
const RETRY_DEADLINE_MS = CLAIM_LOCK_MS + 45_000;
const INVALIDATION_WAIT_MS = 5_000;

const CATALOG = '{ products(first: 5, filter: { inStock: true }) { nodes { id title price { amount currency } } } }';
const DETAIL = 'query Detail($id: ID!) { product(id: $id) { id title stock price { amount currency } } }';
const LOG_IN = 'mutation LogIn($email: String!, $password: String!) { logIn(input: { email: $email, password: $password }) { accessToken userErrors { code } } }';
const CHECKOUT =
  'mutation Buy($id: ID!) { checkout(input: { items: [{ productId: $id, quantity: 1 }] }) { orders { id } userErrors { code message } } }';
const VIEWER = '{ viewer { id } }';

const toGlobalId = (type, id) => Buffer.from(`${type}:${id}`, 'utf8').toString('base64url');
const sqlList = (ids) => ids.map((id) => `'${id}'`).join(',');

function body(query, variables) {
  return JSON.stringify(variables ? { query, variables } : { query });
}

function headers(token, key) {
  const h = { 'content-type': 'application/json', accept: 'application/graphql-response+json' };
  if (token) h.authorization = `Bearer ${token}`;
  if (key) h['idempotency-key'] = key;
  return h;
}

/**
 * @param {object} options
 * @param {ReturnType<import('./compose-stack.mjs').createStack>} options.stack
 * @param {Record<string, { containers: string[] }>} options.state
 * @param {string} options.lb base URL of the load balancer
 * @param {number} options.seconds length of the load
 */
export async function runDrill({ stack, state, lb, seconds }) {
  const primary = state.postgres.containers[0];
  const [victim, survivor] = state.api.containers;
  const t0 = performance.now();
  const now = () => performance.now() - t0;
  /** @type {{ kind: string, start: number, end: number, status: number | null, upstream: string, error?: string }[]} */
  const attempts = [];

  /**
   * One HTTP attempt through the load balancer, recorded. Each on a new
   * connection (`Connection: close`): a kept-alive connection that the load
   * balancer closes as it is reused fails a request that never reached it,
   * and the drill could not tell it from one lost with the replica.
   */
  function send(kind, init) {
    const start = now();
    const payload = Buffer.from(init.body);
    return new Promise((resolve) => {
      const request = http.request(
        `${lb}/graphql`,
        { method: 'POST', agent: false, timeout: 30_000, headers: { ...init.headers, connection: 'close', 'content-length': payload.length } },
        (response) => {
          const chunks = [];
          response.on('data', (chunk) => chunks.push(chunk));
          response.on('error', (error) => failed(error));
          response.on('end', () => {
            if (done) return;
            done = true;
            const responseHeaders = new Headers();
            for (const [name, value] of Object.entries(response.headers)) if (typeof value === 'string') responseHeaders.set(name, value);
            attempts.push({ kind, start, end: now(), status: response.statusCode, upstream: responseHeaders.get('x-upstream') ?? '' });
            resolve({ status: response.statusCode, headers: responseHeaders, text: Buffer.concat(chunks).toString('utf8') });
          });
        },
      );
      let done = false;
      const failed = (error) => {
        if (done) return;
        done = true;
        attempts.push({ kind, start, end: now(), status: null, upstream: '', error: String(error?.code ?? error) });
        resolve({ status: null, headers: new Headers(), text: '' });
      };
      request.on('timeout', () => request.destroy(new Error('timeout')));
      request.on('error', failed);
      request.end(payload);
    });
  }

  // --- Set-up: restocked products, the drill's start in database time, tokens.
  const products = stack
    .psql(primary, "select p.id from products p join users s on s.id = p.seller_id where p.status = 'ACTIVE' and p.deleted_at is null and s.deleted_at is null order by p.id limit 9")
    .split('\n')
    .filter(Boolean);
  if (products.length < 9) throw new Error(`drill: 9 active products needed, found ${products.length}`);
  const [watched, ...bought] = products;
  const startedAt = stack.psql(primary, `update products set stock = ${STOCK} where id in (${sqlList(products)}); select now()`);
  const customerIds = stack.psql(primary, `select id from users where email in (${CUSTOMERS.map((e) => `'${e}'`).join(',')})`).split('\n').filter(Boolean);

  async function logIn(email) {
    const response = await send('sign-in', { headers: headers(), body: body(LOG_IN, { email, password: PASSWORD }) });
    const token = response.status === 200 ? JSON.parse(response.text).data?.logIn?.accessToken : undefined;
    if (!token) throw new Error(`drill: logIn of ${email} answered ${response.status}: ${response.text.slice(0, 300)}`);
    return token;
  }
  const tokens = [];
  for (const email of CUSTOMERS) tokens.push(await logIn(email));

  /** Keyed checkouts: key -> { attempts, statuses, final }. */
  const keys = new Map();
  const answeredOrders = [];

  /** A keyed checkout, retried as a client does until a final answer or the deadline. */
  async function checkout(token, productId, { via } = {}) {
    const key = randomUUID();
    const record = { attempts: 0, statuses: [], outcome: 'none', replayed: false, inProgressWaits: 0, firstAt: now(), doneAt: 0 };
    keys.set(key, record);
    const init = { headers: headers(token, key), body: body(CHECKOUT, { id: toGlobalId('Product', productId) }) };
    for (let delay = 250; ; ) {
      record.attempts += 1;
      let response;
      if (via) {
        response = stack.fetchInside(via, 'http://127.0.0.1:4000/graphql', { method: 'POST', ...init });
        response = { ...response, headers: new Headers(response.headers), text: response.body };
      } else {
        response = await send('checkout', init);
      }
      record.statuses.push(response.status ?? 'network');
      if (response.status === 200) {
        const payload = JSON.parse(response.text).data?.checkout;
        record.replayed = response.headers.get('idempotent-replayed') === 'true';
        if (payload?.orders?.length === 1) {
          record.outcome = 'ordered';
          answeredOrders.push(Buffer.from(payload.orders[0].id, 'base64url').toString('utf8').replace(/^Order:/, ''));
        } else {
          record.outcome = `userErrors ${JSON.stringify(payload?.userErrors)}`;
        }
        record.doneAt = now();
        return record;
      }
      const retryable = response.status === null || response.status === 502 || response.status === 503 || response.status === 504;
      const inProgress = response.status === 409 && response.text.includes('IDEMPOTENCY_KEY_IN_PROGRESS');
      if (!(retryable || inProgress) || now() - record.firstAt > RETRY_DEADLINE_MS) {
        record.outcome = `failed: ${response.status ?? 'network error'} ${response.text.slice(0, 200)}`;
        record.doneAt = now();
        return record;
      }
      if (inProgress) {
        record.inProgressWaits += 1;
        await sleep(1000 * Number(response.headers.get('retry-after') ?? 1));
      } else {
        await sleep(delay);
        delay = Math.min(delay * 2, 1000);
      }
    }
  }

  /** The product as an anonymous caller sees it on one replica (asked from inside it). */
  function detailOn(container) {
    const response = stack.fetchInside(container, 'http://127.0.0.1:4000/graphql', { method: 'POST', headers: headers(), body: body(DETAIL, { id: toGlobalId('Product', watched) }) });
    const product = JSON.parse(response.body).data?.product;
    if (response.status !== 200 || !product) throw new Error(`drill: product detail on ${container} answered ${response.status}: ${response.body.slice(0, 300)}`);
    return product;
  }

  /** Check 6: an answer cached on `reader` shows a checkout made on `writer`. */
  async function invalidation(reader, writer, token) {
    const before = detailOn(reader);
    detailOn(reader);
    // Behind the API: no invalidation. A reader still showing the old title answers from the cache.
    stack.psql(primary, `update products set title = left(title, 180) || ' (drill ${randomUUID().slice(0, 8)})' where id = '${watched}'`);
    const cachedReader = detailOn(reader);
    const cachedWriter = detailOn(writer);
    if (cachedReader.title !== before.title || cachedWriter.title !== before.title) {
      throw new Error(`drill: the product answer was not cached in the shared store (reader ${JSON.stringify(cachedReader)}, writer ${JSON.stringify(cachedWriter)}, before ${JSON.stringify(before)})`);
    }
    const bought = await checkout(token, watched, { via: writer });
    if (bought.outcome !== 'ordered') throw new Error(`drill: the checkout on ${writer} did not order: ${bought.outcome}`);
    const wrote = performance.now();
    for (let polls = 1; ; polls += 1) {
      const after = detailOn(reader);
      if (after.stock === before.stock - 1 && after.title !== before.title) {
        return `${polls === 1 ? 'at the first read' : `at read ${polls}`} (${Math.round(performance.now() - wrote)} ms after the write, reads from inside the container included)`;
      }
      if (performance.now() - wrote > INVALIDATION_WAIT_MS) {
        throw new Error(`drill: ${reader} still answers ${JSON.stringify(after)} ${INVALIDATION_WAIT_MS} ms after a checkout on ${writer} (before: ${JSON.stringify(before)})`);
      }
      await sleep(200);
    }
  }

  const invalidatedBefore = await invalidation(victim, survivor, tokens[0]);

  // --- The load.
  const loadStart = now();
  const loadEnd = loadStart + seconds * 1000;
  const killAt = seconds * 500;
  const restartAfter = Math.min(10_000, seconds * 150);
  let running = true;
  const loops = [];
  const catalogDetailIds = bought.map((id) => toGlobalId('Product', id));
  for (let i = 0; i < 6; i += 1) {
    loops.push(
      (async () => {
        for (let n = i; running; n += 1) {
          if (n % 2 === 0) await send('catalog', { headers: headers(), body: body(CATALOG) });
          else await send('detail', { headers: headers(), body: body(DETAIL, { id: catalogDetailIds[n % catalogDetailIds.length] }) });
        }
      })(),
    );
  }
  loops.push(
    (async () => {
      for (let n = 0; running; n += 1) {
        await send('sign-in', { headers: headers(), body: body(LOG_IN, { email: CUSTOMERS[n % CUSTOMERS.length], password: PASSWORD }) });
      }
    })(),
  );
  for (let i = 0; i < 4; i += 1) {
    loops.push(
      (async () => {
        for (let n = i; running; n += 4) await checkout(tokens[n % tokens.length], bought[n % bought.length]);
      })(),
    );
  }

  await sleep(killAt);
  const victimAddress = await stack.address(victim);
  const killStart = now();
  await stack.runAsync(['kill', '--signal', 'KILL', victim]);
  const killEnd = now();
  await sleep(restartAfter);
  await stack.runAsync(['start', victim]);
  const restartedAt = now();
  const restartedAddress = await stack.address(victim);
  await sleep(Math.max(0, loadEnd - now()));
  running = false;
  const loadStopped = now();
  await Promise.all(loops);
  const settled = now();

  // --- Check 7: the restarted replica serves through the load balancer again (after the load if it was not back before).
  const servedDuringLoad = attempts.filter((a) => a.start > restartedAt && a.upstream === restartedAddress && a.status === 200).length;
  let backAfter = servedDuringLoad > 0 ? Math.min(...attempts.filter((a) => a.start > restartedAt && a.upstream === restartedAddress && a.status === 200).map((a) => a.end)) : undefined;
  for (const deadline = now() + 60_000; backAfter === undefined && now() < deadline; ) {
    const response = await send('catalog', { headers: headers(), body: body(CATALOG) });
    if (response.status === 200 && response.headers.get('x-upstream') === restartedAddress) backAfter = now();
    else await sleep(250);
  }
  const problems = [];
  if (backAfter === undefined) problems.push(`the restarted replica (${restartedAddress}) answered no request through the load balancer within 60 s`);

  // --- Check 1: 5xx and network errors only for requests in flight on the killed replica.
  const failed = attempts.filter((a) => a.status === null || a.status >= 500);
  const inFlight = (a) => a.start <= killEnd && a.end >= killStart && (a.status === null || a.upstream === victimAddress);
  const unexplained = failed.filter((a) => !inFlight(a));
  for (const a of unexplained.slice(0, 10)) problems.push(`unexplained failure: ${JSON.stringify(a)}`);
  if (unexplained.length > 10) problems.push(`... and ${unexplained.length - 10} more unexplained failures`);
  const unexpected4xx = attempts.filter((a) => a.status !== null && a.status >= 400 && a.status < 500 && !(a.kind === 'checkout' && a.status === 409));
  for (const a of unexpected4xx.slice(0, 5)) problems.push(`unexpected ${a.status}: ${JSON.stringify(a)}`);

  // --- Checks 5 and 6 after the restart, the restarted replica included.
  const budgetToken = await logIn(BUDGET_PRINCIPAL);
  const remaining = [];
  for (const container of [victim, survivor, victim, survivor]) {
    const response = stack.fetchInside(container, 'http://127.0.0.1:4000/graphql', { method: 'POST', headers: headers(budgetToken), body: body(VIEWER) });
    const r = /;r=(\d+)/.exec(response.headers.ratelimit ?? '')?.[1];
    if (response.status !== 200 || r === undefined) throw new Error(`drill: viewer on ${container} answered ${response.status} without RateLimit: ${response.body.slice(0, 200)}`);
    remaining.push(Number(r));
  }
  if (!remaining.every((r, i) => i === 0 || r < remaining[i - 1])) problems.push(`budget not shared: remaining ${remaining.join(' -> ')} across ${victim}, ${survivor}, ${victim}, ${survivor}`);
  const invalidatedAfter = await invalidation(victim, survivor, tokens[1]);

  // --- Checks 2 and 3: one order per key, no order without its answer.
  const records = [...keys.values()];
  const notOrdered = records.filter((r) => r.outcome !== 'ordered');
  for (const r of notOrdered.slice(0, 10)) problems.push(`a keyed checkout ended without an order: ${JSON.stringify(r)}`);
  const dbOrders = stack
    .psql(primary, `select id from orders where customer_id in (${sqlList(customerIds)}) and created_at >= '${startedAt}'`)
    .split('\n')
    .filter(Boolean);
  const answered = new Set(answeredOrders);
  const unanswered = dbOrders.filter((id) => !answered.has(id));
  const missing = answeredOrders.filter((id) => !dbOrders.includes(id));
  if (answered.size !== answeredOrders.length) problems.push(`${answeredOrders.length - answered.size} order ids answered twice for different keys`);
  if (unanswered.length > 0) problems.push(`${unanswered.length} orders in the database that no final answer names (a key executed twice?): ${unanswered.slice(0, 5).join(', ')}`);
  if (missing.length > 0) problems.push(`${missing.length} answered orders missing from the database: ${missing.slice(0, 5).join(', ')}`);
  const retried = records.filter((r) => r.attempts > 1);
  const retriedReplayed = retried.filter((r) => r.outcome === 'ordered' && r.replayed).length;
  const retriedExecuted = retried.filter((r) => r.outcome === 'ordered' && !r.replayed).length;

  // --- Check 4: stock = start - units sold since the start.
  const stockRows = stack
    .psql(
      primary,
      `select p.id, p.stock, coalesce((select sum(oi.quantity) from order_items oi join orders o on o.id = oi.order_id where oi.product_id = p.id and o.created_at >= '${startedAt}'), 0) from products p where p.id in (${sqlList(products)}) order by p.id`,
    )
    .split('\n')
    .filter(Boolean)
    .map((line) => line.split('|').map((part, i) => (i === 0 ? part : Number(part))));
  const sold = stockRows.reduce((sum, [, , units]) => sum + units, 0);
  for (const [id, stock, units] of stockRows) {
    if (stock + units !== STOCK) problems.push(`stock of ${id}: ${stock} now + ${units} sold != ${STOCK} at the start`);
  }
  if (sold !== dbOrders.length) problems.push(`${sold} units in order items since the start, but ${dbOrders.length} orders of one unit`);

  // --- Figures.
  const kinds = ['catalog', 'detail', 'sign-in', 'checkout'];
  const loadAttempts = attempts.filter((a) => a.start >= loadStart && a.start < loadStopped);
  const byKind = kinds.map((kind) => {
    const of = loadAttempts.filter((a) => a.kind === kind);
    return `${kind} ${of.length} (${(of.length / ((loadStopped - loadStart) / 1000)).toFixed(1)}/s, ${of.filter((a) => a.status === 200).length} ok)`;
  });
  const failedByKind = kinds.map((kind) => `${kind} ${failed.filter((a) => a.kind === kind).length}`).join(', ');
  const stuck = records.filter((r) => r.inProgressWaits > 0);
  // The load balancer's own account: it logs only errors and retries (option dontlog-normal).
  // A request line: `<client> [<date>] http api/<server> <timers> <status> <bytes> - - <termination state> ...`.
  const lbLog = stack
    .run(['logs', state.lb.containers[0]], { quiet: true })
    .out.split('\n')
    .map((line) => /\] http (api\/\S+) \S+ (-?\d+) \d+ \S+ \S+ (\S{4}) /.exec(line))
    .filter((match) => match !== null && (match[3] !== '----' || Number(match[2]) >= 500))
    .map((match) => `${match[1]} ${match[2]} ${match[3]}`);
  const at = (ms) => `${((ms - loadStart) / 1000).toFixed(1)} s`;
  const lines = [
    `scale drill: ${seconds} s of load through the load balancer; ${victim} SIGKILLed at ${at(killStart)} (the kill command returned at ${at(killEnd)}), started again at ${at(restartedAt)} (address ${victimAddress} -> ${restartedAddress}), serving through the load balancer again at ${backAfter === undefined ? 'never' : at(backAfter)}; load stopped at ${at(loadStopped)}, the last retried key settled at ${at(settled)}`,
    `  requests: ${byKind.join('; ')}`,
    `  5xx and network errors: ${failed.length} (${failedByKind}), all in flight on the killed replica: ${unexplained.length === 0 ? 'yes' : `NO, ${unexplained.length} not`}; statuses ${JSON.stringify(countBy(failed.map((a) => a.status ?? a.error)))}`,
    `  keyed checkouts: ${records.length} keys, ${records.filter((r) => r.outcome === 'ordered').length} ordered; retried ${retried.length}: ${retriedReplayed} replayed, ${retriedExecuted} executed once; ${stuck.length} waited for a dead replica's claim (409, up to ${Math.max(0, ...stuck.map((r) => r.inProgressWaits))} waits, settled after ${Math.max(0, ...stuck.map((r) => Math.round((r.doneAt - r.firstAt) / 1000)))} s)`,
    `  orders: ${dbOrders.length} in the database since the start, ${answeredOrders.length} in final answers, ${unanswered.length} unanswered, ${missing.length} missing: at most one order per key: ${unanswered.length === 0 && missing.length === 0 ? 'yes' : 'NO'}`,
    `  stock: ${stockRows.length} products, ${sold} units sold, stock + sold = ${STOCK} for each: ${stockRows.every(([, stock, units]) => stock + units === STOCK) ? 'yes' : 'NO'}`,
    `  budgets: remaining ${remaining.join(' -> ')} on ${victim.replace(/.*-(api-\d+)$/, '$1')}, ${survivor.replace(/.*-(api-\d+)$/, '$1')}, again: shared: ${remaining.every((r, i) => i === 0 || r < remaining[i - 1]) ? 'yes' : 'NO'}`,
    `  cache invalidation seen on the other replica: before the kill ${invalidatedBefore}, on the restarted replica ${invalidatedAfter}`,
    `  restarted replica answered ${servedDuringLoad} requests of the load after its restart`,
    `  load balancer's log of failed requests (server, status, termination state): ${lbLog.length === 0 ? 'none' : JSON.stringify(countBy(lbLog))}`,
  ];
  console.log(lines.join('\n'));
  if (problems.length > 0) throw new Error(`scale drill failed:\n  ${problems.join('\n  ')}`);
  return {
    summary: `${seconds} s, ${loadAttempts.length} requests, ${failed.length} failures all in flight on the killed replica, ${records.length} keys (${retried.length} retried), ${dbOrders.length} orders, stock consistent, budgets shared, invalidation seen`,
  };
}

function countBy(values) {
  const counts = {};
  for (const value of values) counts[value] = (counts[value] ?? 0) + 1;
  return counts;
}
