/**
 * System test of store and forward across a broker outage: the real agent reads hw-sim
 * at 1 Hz through a real pty and publishes to a real Mosquitto, which is stopped for 60
 * seconds and started again on the same port. A persistent subscriber (what a station
 * sees) and the real console station (`vigil station --json --client-id`) receive it all.
 */
import { recordFault } from '../support/single-fault';
import t from 'tap';
import { spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { encodeEnvelope } from '../../agent/src/proto/codec';
import { StationModel } from '../../agent/src/station/station';
import type { BedView } from '../../agent/src/station/station';
import { startBroker } from '../support/broker';
import { dedupe, lastCounters, observe, sleep, until } from '../support/observer';
import { startAgentProcess, startHwSim, VIGIL_CLI, writeAgentConfig } from '../support/processes';

const OUTAGE_MS = 60_000;
const START = '2026-01-01T10:00:00';
const START_MS = Date.UTC(2026, 0, 1, 10, 0, 0);

t.test('REQ-DELIV-001 a 60 s broker outage: every message accepted meanwhile arrives, in order per stream, flagged backfill, no duplicate after de-duplication', async (t) => {
  const broker = await startBroker({ persistence: true });
  t.teardown(() => broker.stop());
  const sub = await observe(broker.url, { persistent: true });
  t.teardown(() => sub.end());
  const station = spawn(process.execPath, [VIGIL_CLI, 'station', '--url', broker.url, '--json', '--refresh-ms', '500', '--client-id', `station-outage-${process.pid}`], {
    stdio: ['ignore', 'pipe', 'ignore'],
  });
  t.teardown(() => {
    station.kill('SIGKILL');
  });
  const views: Array<{ beds: BedView[] }> = [];
  createInterface({ input: station.stdout }).on('line', (l) => views.push(JSON.parse(l) as { beds: BedView[] }));
  const sim = await startHwSim(['masimo-ascii', '--seed', '11', '--scenario', 'stable', '--period-ms', '1000', '--start-time', START]);
  t.teardown(() => sim.stop('SIGKILL'));
  const dir = mkdtempSync(join(tmpdir(), 'vigil-outage-'));
  const agent = startAgentProcess(writeAgentConfig(dir, { brokerUrl: broker.url, devicePath: sim.path, heartbeatIntervalMs: 1000 }));
  t.teardown(() => agent.stop('SIGKILL'));

  const liveSpo2 = () => sub.got.filter((r) => r.topic.endsWith('/obs/spo2') && r.env.observation?.hasValue);
  await until('3 live SpO2 observations', () => liveSpo2().length >= 3 && views.some((v) => v.beds[0]?.gateway === 'online'));
  const stoppedAtMs = Date.now();
  await broker.pause();
  await sleep(OUTAGE_MS);
  await broker.resume();
  const resumedAtMs = Date.now();

  // hw-sim's frames sent during the outage (with a margin for frames in transit at either edge).
  const outageFrames = () =>
    sim.frames.filter((f) => f.injected === null && Number(f.sentWallMs) > stoppedAtMs + 1000 && Number(f.sentWallMs) < resumedAtMs - 1000);
  const spo2ByIndex = () => {
    const m = new Map<number, (typeof sub.got)[number]>();
    for (const r of sub.got) {
      const o = r.env.observation;
      if (r.topic.endsWith('/obs/spo2') && o?.hasValue) m.set(Math.round((Number(o.deviceTimeMs) - START_MS) / 1000), r);
    }
    return m;
  };
  await until(
    'every frame of the outage delivered, and live data again',
    () => outageFrames().every((f) => spo2ByIndex().has(Number(f.index))) && sub.got.some((r) => r.atMs > resumedAtMs && r.env.observation && !r.env.backfill),
    20_000,
  );
  await until('the queue drained (status counters)', () => lastCounters(sub.got)['queue-depth'] === 0 && lastCounters(sub.got)['queue-delivered-backfill']! > 0, 10_000);

  const frames = outageFrames();
  t.ok(frames.length >= 55, `hw-sim streamed through the outage (${frames.length} frames)`);
  const byIndex = spo2ByIndex();
  for (const f of frames) {
    const r = byIndex.get(Number(f.index));
    if (!r) {
      t.fail(`frame ${String(f.index)} accepted during the outage was not delivered`);
      continue;
    }
    const o = r.env.observation;
    if (!o || o.value !== f.spo2Percent || r.env.backfill !== true || !o.quality.includes('QUALITY_FLAG_BACKFILL')) {
      t.fail(`frame ${String(f.index)}: wrong value or not flagged backfill`);
    }
  }
  t.pass(`all ${frames.length} SpO2 values of the outage arrived with their value, flagged backfill (envelope and QUALITY_FLAG_BACKFILL)`);

  // At least once on the wire, exactly once in effect.
  const fromAgent = sub.got.filter((r) => r.env.gatewayId === 'gw-test');
  const { unique, duplicates } = dedupe(fromAgent);
  t.comment(`received ${fromAgent.length} messages, ${duplicates} duplicate(s) dropped by message id`);

  // The numbered stream (observations, scores, alarm changes) is complete: no gap.
  const boot = unique[0]?.env.bootId;
  t.ok(unique.every((r) => r.env.bootId === boot), 'one gateway run');
  const seqs = unique.map((r) => Number(r.env.sequence)).filter((n) => n > 0);
  const sorted = [...seqs].sort((a, b) => a - b);
  t.same(sorted, sorted.map((_, i) => sorted[0]! + i), `sequence ${sorted[0]}..${sorted.at(-1)} complete: nothing accepted was lost`);

  // In order per stream (topic).
  const lastSeqByTopic = new Map<string, number>();
  let outOfOrder = 0;
  for (const r of unique) {
    const seq = Number(r.env.sequence);
    if (seq === 0) continue;
    if ((lastSeqByTopic.get(r.topic) ?? 0) >= seq) outOfOrder += 1;
    lastSeqByTopic.set(r.topic, seq);
  }
  t.equal(outOfOrder, 0, `in order on each of ${lastSeqByTopic.size} streams`);

  // Backfill only for what was accepted while the broker was away.
  const backfill = unique.filter((r) => r.env.backfill);
  const firstLate = Math.min(...backfill.map((r) => r.atMs));
  const lastLate = Math.max(...backfill.map((r) => r.atMs));
  t.comment(`backfill: first ${firstLate - resumedAtMs} ms after the broker restarted, ${backfill.length} messages within ${lastLate - firstLate} ms`);
  t.ok(backfill.length >= 4 * 55, `${backfill.length} messages delivered as backfill (observations, scores, alarm changes)`);
  const liveDuringOutage = unique.filter((r) => !r.env.backfill && r.env.observation && Number(r.env.observation.receiveWallMs) > stoppedAtMs + 1000 && Number(r.env.observation.receiveWallMs) < resumedAtMs - 1000);
  t.equal(liveDuringOutage.length, 0, 'nothing accepted during the outage is presented as live');
  t.ok(backfill.every((r) => !r.env.status), 'status is never queued (it is state)');

  const counters = lastCounters(sub.got);
  t.equal(counters['publish-failed'], 0, 'nothing refused by the queue');
  t.notOk(Object.keys(counters).some((k) => k.startsWith('queue-evicted')), 'nothing evicted');
  t.ok(counters['state-skipped-offline']! > 0, 'heartbeats during the outage were not queued');

  // The station model, fed every copy received (duplicates included), drops the duplicates,
  // keeps backfill as history, and raises nothing from it.
  const model = new StationModel();
  for (const r of fromAgent) model.apply(r.topic, encodeEnvelope(r.env), r.atMs);
  const view = model.view(Date.now())[0]!;
  t.equal(model.duplicates, duplicates, 'the station drops the same duplicates');
  t.equal(view.missingMessages, 0, 'the station sees no lost message');
  t.ok(view.backfill.received >= backfill.length, 'the station counts the backfill as history');

  // The real console station, with its persistent session, shows the same.
  // The console station drains its persistent session at its own pace (under load, after the
  // subscriber above): wait for its view to have taken in the whole backfill, not its first part.
  const shown = await until('the console station to show the whole backfill', () => [...views].reverse().find((v) => (v.beds[0]?.backfill.received ?? 0) >= 4 * 55)?.beds[0], 30_000);
  t.equal(shown.missingMessages, 0, 'console station: no lost message');
  t.ok(shown.backfill.received >= 4 * 55, `console station: ${shown.backfill.received} messages shown as backfill history`);
  t.equal(agent.process.exitCode, null, 'the agent ran through the outage');
  recordFault(t, {
    test: 'REQ-DELIV-001',
    fault: 'broker unreachable for 60 s',
    expected: 'data queued on disk, gateway status shows it, everything delivered in order as backfill on recovery',
    quietTimeMs: null,
    detectionMs: firstLate - resumedAtMs,
    alarm: 'none (no data lost); detection column: first backfill after the broker came back',
  });
});
