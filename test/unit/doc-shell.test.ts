import { describe, expect, it } from '@jest/globals';

import { applyJqPath, parseAssignment, parseShownHttpAnswer, pipelineStages, shapeMismatches } from '../helpers/doc-shell.js';

const vars = new Map([['ORDER_ID', 'T3JkZXI6MQ'], ['VERSION', '2']]);
const variable = (name: string) => vars.get(name);

describe('the README shell subset', () => {
  it('splits pipelines outside quotes only', () => {
    expect(pipelineStages(`curl -d '{"a":"x | y"}' | jq -r '.a'`)).toEqual([`curl -d '{"a":"x | y"}'`, `jq -r '.a'`]);
    expect(() => pipelineStages('curl x || true')).toThrow('||');
  });

  it('reads command substitutions and plain assignments', () => {
    expect(parseAssignment(`ID=$(printf '%s\\n' "$X" | jq -r '.id')`)).toEqual({ name: 'ID', substitution: `printf '%s\\n' "$X" | jq -r '.id'` });
    expect(parseAssignment(`CART='{"a":1}'`)).toEqual({ name: 'CART', word: `'{"a":1}'` });
    expect(parseAssignment('curl -s http://localhost:4000')).toBeUndefined();
  });

  it('follows jq paths, null where nothing is found, and refuses other filters', () => {
    const input = { data: { orders: [{ id: 'a', version: 1 }] } };
    expect(applyJqPath('.data.orders[0].version', input)).toBe(1);
    expect(applyJqPath('.data.orders[1].id', input)).toBeNull();
    expect(applyJqPath('.data.missing.id', input)).toBeNull();
    expect(() => applyJqPath('.data | keys', input)).toThrow('not understood');
  });

  it('reads a shown HTTP answer: status, headers up to the ellipsis, body', () => {
    expect(parseShownHttpAnswer('HTTP/1.1 200 OK\nidempotent-replayed: true\n...\n\n{"data":null}')).toEqual({
      status: 200,
      headers: [['idempotent-replayed', 'true']],
      body: '{"data":null}',
    });
  });
});

describe('answer shapes', () => {
  it('accepts an answer with more keys, placeholders for changing values and variables by value', () => {
    const answer = { data: { order: { id: 'T3JkZXI6MQ', status: 'PAID', version: 2, paidAt: '2026-01-01T00:00:00Z' } }, extensions: {} };
    const shape = { data: { order: { id: '$ORDER_ID', status: 'PAID', version: 2, paidAt: '<now>' } } };
    expect(shapeMismatches(answer, shape, variable)).toEqual([]);
    expect(shapeMismatches({ version: 2 }, { version: '$VERSION' }, variable)).toEqual([]);
  });

  it('names every difference: another value, another id, a missing key, a null placeholder, another length', () => {
    const answer = { order: { id: 'T3JkZXI6Mg', status: 'PAID', paidAt: null, items: [1, 2] } };
    const shape = { order: { id: '$ORDER_ID', status: 'SHIPPED', version: 3, paidAt: '<now>', items: [1] } };
    expect(shapeMismatches(answer, shape, variable)).toEqual([
      '$.order.id: expected $ORDER_ID (T3JkZXI6MQ), got "T3JkZXI6Mg"',
      '$.order.status: expected "SHIPPED", got "PAID"',
      '$.order.version: missing',
      '$.order.paidAt: expected <now>, got null',
      '$.order.items: expected 1 element(s), got [1,2]',
    ]);
    expect(shapeMismatches({ id: 'x' }, { id: '$UNSET' }, variable)).toEqual(['$.id: $UNSET is not set']);
  });
});
