/** The audit module: the admins' log. Authorization-matrix rows (test/authorization-matrix.test.ts runs them). */
import { expect6, type MatrixRow } from './kit.js';

export const auditRows: Record<string, MatrixRow> = {
  //                  anonymous           customer      seller        admin  catalogKey    ordersKey
  'Query.auditEvents': {
    document: '{ auditEvents(first: 1) { totalCount } }',
    expected: expect6('UNAUTHENTICATED',  'FORBIDDEN',  'FORBIDDEN',  'ok',  'FORBIDDEN',  'FORBIDDEN'),
  },
};
