/**
 * A fleet of real processes (`child_process.fork`), each with a real S3 client signing with AWS keys
 * from `assumeRoleMint`, shared through a real redis-server: one AssumeRole per refresh window for
 * the whole fleet. The STS- and S3-shaped servers run here on loopback; the S3 one verifies every
 * signature. Real time, bounded: 8 s of 2-second keys.
 */
import type { ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startRedisServer, type RedisServer } from '../../examples/redis-server.js';
import { closeWorkers, flushRedis, killWorkers, sleep, startSessionWorker, stopWorker as stopForkedWorker } from '../fleet/harness.js';
import type { AwsWorkerReport, AwsWorkerSettings } from '../sdk/aws-fleet-worker.js';
import { startS3Server, startStsServer } from '../sdk/aws-servers.js';

const WORKER = fileURLToPath(new URL('../sdk/aws-fleet-worker.ts', import.meta.url));
const ROLE = 'arn:aws:iam::123456789012:role/fleet';
let redis: RedisServer;
let sts: Awaited<ReturnType<typeof startStsServer>>;
let s3: Awaited<ReturnType<typeof startS3Server>>;

beforeAll(async () => {
  redis = await startRedisServer();
  sts = await startStsServer(2_000);
  s3 = await startS3Server(sts.state.issued);
}, 60_000);
afterAll(async () => {
  closeWorkers();
  await Promise.all([sts?.close(), s3?.close(), redis?.stop()]);
});
afterEach(() => {
  killWorkers();
  sts.state.calls.length = 0;
});

const startWorker = (settings: AwsWorkerSettings) => startSessionWorker(WORKER, settings);
const stopWorker = (child: ChildProcess) => stopForkedWorker<AwsWorkerReport>(child);

const settings = (overrides: Partial<AwsWorkerSettings> = {}): AwsWorkerSettings => ({
  redisUrl: redis.url,
  stsUrl: sts.url,
  s3Url: s3.url,
  roleArn: ROLE,
  encryptionKeyHex: randomBytes(32).toString('hex'),
  ...overrides,
});

describe('four processes with S3 clients share AWS keys through Redis', () => {
  it('one AssumeRole per refresh window for the fleet, and every request signed with keys S3 accepts', async () => {
    await flushRedis(redis.url);
    const shared = settings();
    const fleet = Array.from({ length: 4 }, () => startWorker(shared));
    await Promise.all(fleet.map(({ ready }) => ready));
    const startedAt = Date.now();
    const refusedBefore = s3.state.refused.length;
    await sleep(8_000);
    const reports = await Promise.all(fleet.map(({ child }) => stopWorker(child)));
    const seconds = (Date.now() - startedAt) / 1_000;
    const assumeRoles = sts.state.calls.length;
    // 2 s keys refreshed at half their life: one window a second, plus the fleet's first mint
    const windows = Math.ceil(seconds);
    const expiredInTransit = reports.reduce((sum, report) => sum + report.expiredInTransit, 0);
    const longestRequestMs = Math.max(...reports.map((report) => report.longestRequestMs));
    console.log(
      `AWS fleet of 4, ${seconds.toFixed(1)} s: ${assumeRoles} AssumeRole calls for ~${windows} refresh windows; ${reports.reduce((sum, report) => sum + report.requests, 0)} S3 requests, ${expiredInTransit} refused for keys that expired on the way (the longest request took ${longestRequestMs} ms)`,
    );
    expect(assumeRoles).toBeLessThanOrEqual(windows + 1);
    expect(assumeRoles).toBeGreaterThanOrEqual(Math.floor(seconds / 1.5));
    // S3 judges the keys when the request arrives. Every refusal is of keys that were valid when the
    // signer got them and expired on the way, and no process was handed expired keys; any other
    // refusal (an unknown key, a wrong signature, keys expired when served) fails here
    expect(s3.state.refused.slice(refusedBefore)).toEqual(Array.from({ length: expiredInTransit }, () => 'expired keys'));
    for (const report of reports) {
      expect(report.expiredServed).toBe(0);
      expect(report.failures).toEqual([]);
      expect(report.requests).toBeGreaterThan(20);
    }
  }, 60_000);

  it('the control: the same four processes without Redis make an AssumeRole each', async () => {
    const alone = settings({ alone: true });
    const fleet = Array.from({ length: 4 }, () => startWorker(alone));
    await Promise.all(fleet.map(({ ready }) => ready));
    await Promise.all(fleet.map(({ child }) => stopWorker(child)));
    expect(sts.state.calls.length).toBeGreaterThanOrEqual(4);
  }, 60_000);
});
