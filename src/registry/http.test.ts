/** The REST API: token auth, JSON errors with DrivegateError's HTTP statuses, and the remote client. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openFsStore } from '../store/fs.js';
import { rejectsWith } from '../core/testing.js';
import { evalReport, makePack } from './contract.js';
import { openRegistryDb } from './db.js';
import { createRegistryServer, remoteApi } from './http.js';
import { DEFAULT_POLICY } from './policy.js';
import { RegistryService } from './service.js';

test('the REST API authenticates tokens, answers JSON errors with their status codes, and the remote client behaves like the service', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'dg-registry-http-'));
  const db = await openRegistryDb(join(dir, 'registry.db'));
  const service = new RegistryService(db, {
    store: await openFsStore(join(dir, 'store')),
    policy: DEFAULT_POLICY,
  });
  const server = createRegistryServer(service);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  try {
    const admin = await service.createToken('bootstrap', 'root', 'admin');
    const tech = await service.createToken('bootstrap', 'tina', 'technical');
    const api = remoteApi(base, tech.token);
    const folder = await makePack(dir, 'det', '1.0.0');
    const manifest = await readFile(join(folder, 'manifest.json'));
    const v = await api.register({ manifest, file: 'manifest.json' });
    assert.equal(v.version, '1.0.0');
    await api.attachReport('det', '1.0.0', { bytes: await evalReport('pass') });
    const shown = await api.showModel('det');
    assert.deepEqual(shown.versions[0]?.verdicts, { eval: 'pass' });

    const raw = async (method: string, path: string, token?: string, body?: unknown) => {
      const res = await fetch(base + path, {
        method,
        headers: {
          ...(token ? { authorization: `Bearer ${token}` } : {}),
          'content-type': 'application/json',
        },
        ...(body !== undefined ? { body: typeof body === 'string' ? body : JSON.stringify(body) } : {}),
      });
      return {
        status: res.status,
        json: (await res.json()) as { error?: { code: string; message: string } },
      };
    };
    assert.equal((await raw('GET', '/api/v1/models')).status, 401);
    assert.equal((await raw('GET', '/api/v1/models', 'dg_wrong')).json.error?.code, 'UNAUTHORIZED');
    assert.equal((await raw('GET', '/api/v1/models/nope', tech.token)).status, 404);
    assert.equal((await raw('GET', '/api/v1/models/%E0%A4%A', tech.token)).status, 400);
    assert.equal((await raw('DELETE', '/api/v1/models', tech.token)).status, 400);
    assert.equal((await raw('GET', '/api/v1/models/det/versions/1.0', tech.token)).status, 404);
    assert.equal(
      (await raw('POST', '/api/v1/models/det/versions/1.0.0/tags', tech.token, '{bad')).status,
      400,
    );
    assert.equal(
      (await raw('POST', '/api/v1/models/det/versions/1.0.0/approvals', tech.token, { role: 'safety' }))
        .status,
      403,
    );
    const again = { manifest: manifest.toString().replace('"model.onnx"', '"model2.onnx"') };
    assert.equal((await raw('POST', '/api/v1/versions', tech.token, again)).status, 409);
    const gate = await raw('POST', '/api/v1/models/det/versions/1.0.0/stage', tech.token, {
      stage: 'production',
    });
    assert.equal(gate.status, 412);
    assert.match(gate.json.error?.message ?? '', /policy blocks/);
    const dry = await api.stage('det', '1.0.0', 'staging', true);
    assert.equal(dry.applied, false);
    assert.equal(dry.plan.moves[0]?.to, '1.0.0');
    assert.equal((await raw('POST', '/api/v1/tokens', tech.token, { user: 'x', role: 'admin' })).status, 403);
    const consumer = (await raw('POST', '/api/v1/tokens', admin.token, { user: 'fleet', role: 'consumer' }))
      .json as unknown as { token: string };
    assert.equal((await raw('GET', '/api/v1/models/det', consumer.token)).status, 404);
    await rejectsWith(remoteApi(base, consumer.token).tag('det', '1.0.0', 'x'), 'FORBIDDEN');
    const openapi = (await (await fetch(`${base}/openapi.json`)).json()) as {
      paths: Record<string, unknown>;
    };
    assert.ok('/api/v1/models/{model}/versions/{version}/stage' in openapi.paths);
    assert.equal((await remoteApi(base, admin.token).auditVerify()).ok, true);
  } finally {
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
    await db.close();
    await rm(dir, { recursive: true, force: true });
  }
});
