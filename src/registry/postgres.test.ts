/**
 * The registry contract on PostgreSQL: a real server, started on loopback by `npm test`
 * (scripts/test.sh runs scripts/pg.sh and exports DRIVEGATE_TEST_PG_URL). Each test gets its own
 * schema. Without DRIVEGATE_TEST_PG_URL the suite is skipped, and says so.
 */
import { randomBytes } from 'node:crypto';
import { test } from 'node:test';
import pg from 'pg';
import { registryContract } from './contract.js';

const url = process.env['DRIVEGATE_TEST_PG_URL'];
if (url === undefined || url === '') {
  test(
    'registry contract: postgres',
    { skip: 'DRIVEGATE_TEST_PG_URL is not set (scripts/test.sh starts PostgreSQL and sets it)' },
    () => {},
  );
} else {
  registryContract('postgres', () => {
    const schema = `t_${randomBytes(6).toString('hex')}`;
    const u = new URL(url);
    u.searchParams.set('schema', schema);
    return Promise.resolve({
      url: u.href,
      cleanup: async () => {
        const client = new pg.Client({ connectionString: url });
        await client.connect();
        try {
          await client.query(`drop schema if exists ${schema} cascade`);
        } finally {
          await client.end();
        }
      },
    });
  });
}
