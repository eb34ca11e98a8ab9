/**
 * The whole agent (startAgent) with one Masimo oximeter on a fake clock, for integration tests of
 * what reaches the station: the real decoder and driver, validation, native NEWS2 score, alarm
 * catalogue and book, command stage; MQTT is a sink that keeps every alarm message published.
 */
import { FakeClock } from '../../agent/src/clock';
import { parseConfig } from '../../agent/src/config';
import type { Config, MasimoInterfaceConfig } from '../../agent/src/config';
import { MasimoAsciiDriver } from '../../agent/src/drivers/masimo-ascii/driver';
import { memoryLogger } from '../../agent/src/log';
import { startAgent } from '../../agent/src/main';
import { scoreNews2 } from '../../agent/src/native/addon';
import type { AlarmMsg } from '../../agent/src/proto/codec';
import { decodeEnvelope } from '../../agent/src/proto/codec';

export const OXIMETER_BED = { gatewayId: 'gw-1', siteId: 'site1', wardId: 'ward7', bedId: 'bed12' };

export interface OximeterAgent {
  clock: FakeClock;
  agent: ReturnType<typeof startAgent>;
  driver: MasimoAsciiDriver;
  /** Every alarm message the agent published, in order. */
  alarms: AlarmMsg[];
  /** One line from the oximeter, received now. */
  feed(line: Buffer): void;
}

/** `extra` is added to the bed's configuration (e.g. `alarms`). */
export function startOximeterAgent(t: { teardown(fn: () => unknown): void }, extra: Record<string, unknown> = {}): OximeterAgent {
  const clock = new FakeClock(Date.UTC(2026, 0, 1, 10, 0, 0));
  const logger = memoryLogger();
  const config: Config = parseConfig({
    gateway: OXIMETER_BED,
    mqtt: { url: 'mqtt://127.0.0.1:1', insecure: true, heartbeatIntervalMs: 60000 },
    interfaces: [{ id: 'spo2', driver: 'masimo-ascii', path: '/dev/null-device', quietTimeMs: 3000 }],
    ...extra,
  });
  const driver = new MasimoAsciiDriver(config.interfaces[0] as MasimoInterfaceConfig, clock, logger);
  const alarms: AlarmMsg[] = [];
  const agent = startAgent({
    config, clock, logger, scorer: scoreNews2, drivers: [driver], tickMs: 3_600_000,
    connect: () => ({
      publish: async (_topic, payload) => {
        const env = decodeEnvelope(payload);
        if (env.alarm) alarms.push(env.alarm);
      },
      end: async () => undefined,
    }),
  });
  t.teardown(() => agent.stop('test'));
  return { clock, agent, driver, alarms, feed: (line) => driver.handleFrame(line, { wallMs: clock.wallMs(), monoNs: clock.monoNs() }) };
}
