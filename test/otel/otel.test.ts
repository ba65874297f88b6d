import { AggregationTemporality, InMemoryMetricExporter, MeterProvider, PeriodicExportingMetricReader, type MetricData } from '@opentelemetry/sdk-metrics';
import { afterEach, describe, expect, it } from 'vitest';
import { otelReporters } from '../../src/otel/index.js';
import { flush, HOUR, outcome, startProvider } from '../helpers.js';

const teardown: Array<() => unknown> = [];
afterEach(async () => {
  while (teardown.length > 0) await teardown.pop()!();
});

async function metricsAfter(scenario: (reporters: ReturnType<typeof otelReporters>) => Promise<void>) {
  const exporter = new InMemoryMetricExporter(AggregationTemporality.CUMULATIVE);
  const reader = new PeriodicExportingMetricReader({ exporter, exportIntervalMillis: 3_600_000 });
  const meterProvider = new MeterProvider({ readers: [reader] });
  teardown.push(() => meterProvider.shutdown());
  await scenario(otelReporters(meterProvider.getMeter('credential-actor-test'), { name: 'registry' }));
  await reader.forceFlush();
  const metrics = exporter.getMetrics().flatMap((resource) => resource.scopeMetrics.flatMap((scope) => scope.metrics));
  const byName = (name: string): MetricData => {
    const found = metrics.filter((metric) => metric.descriptor.name === name);
    return found.at(-1)!;
  };
  return byName;
}

describe('otelReporters()', () => {
  it('records refreshes by result, the token TTL and the breaker state through a scenario', async () => {
    const metric = await metricsAfter(async (reporters) => {
      const { clock, script, provider } = await startProvider({ reporters, breakerThreshold: 2 });
      teardown.push(() => provider.stop());
      clock.advance(0.9 * HOUR); // background refresh lands a 2-hour token
      await provider.currentToken();
      script.last.resolve({ secret: 'two', expiresAt: clock.now() + 2 * HOUR });
      await flush();
      clock.advance(1.9 * HOUR); // due again: two failures open the breaker
      for (let i = 0; i < 2; i++) {
        await provider.currentToken();
        script.last.reject(new Error('down'));
        await flush();
      }
      await outcome(provider.currentToken());
      await flush();
    });
    const refresh = metric('credential.refresh');
    const counts = Object.fromEntries(refresh.dataPoints.map((point) => [point.attributes.result, point.value]));
    expect(counts).toEqual({ refreshed: 1, failed: 2 }); // the background refresh (the construction mint reports nothing); two failures
    expect(refresh.dataPoints.every((point) => point.attributes['credential.name'] === 'registry')).toBe(true);

    const ttl = metric('credential.token.ttl');
    expect(ttl.descriptor.unit).toBe('s');
    // the last failure saw the still-cached token with 6 minutes (360 s) left
    expect(ttl.dataPoints.map((point) => point.value)).toEqual([360]);

    const breaker = metric('credential.breaker.state');
    expect(breaker.dataPoints.map((point) => point.value)).toEqual([2]);
  });

  it('records a closed breaker from the start and half-open after the cooldown', async () => {
    const closed = await metricsAfter(async () => {});
    expect(closed('credential.breaker.state').dataPoints.map((point) => point.value)).toEqual([0]);
    const halfOpen = await metricsAfter(async (reporters) => {
      const { clock, script, provider } = await startProvider({ reporters, breakerThreshold: 1 });
      teardown.push(() => provider.stop());
      clock.advance(HOUR);
      const failed = outcome(provider.currentToken());
      script.last.reject(new Error('down'));
      await failed;
      clock.advance(60_000);
      await flush();
    });
    expect(halfOpen('credential.breaker.state').dataPoints.map((point) => point.value)).toEqual([1]);
  });
});
