/** The payments module: the admins' list of received payment webhooks. Authorization-matrix rows (test/authorization-matrix.test.ts runs them). */
import { expect6, type MatrixRow } from './kit.js';

export const paymentsRows: Record<string, MatrixRow> = {
  //                  anonymous           customer      seller        admin  catalogKey    ordersKey
  'Query.paymentEvents': {
    document: '{ paymentEvents(first: 1, filter: { outcome: AMOUNT_MISMATCH }) { totalCount nodes { webhookId outcome } } }',
    expected: expect6('UNAUTHENTICATED',  'FORBIDDEN',  'FORBIDDEN',  'ok',  'FORBIDDEN',  'FORBIDDEN'),
  },
};
