/** `vigil run --config <file>`: the agent process. */
import { readFileSync } from 'node:fs';
import { systemClock } from '../clock';
import { loadConfig } from '../config';
import { createLogger } from '../log';
import { LevelQueueStore } from '../io/durable-queue';
import { startAgent } from '../main';
import { Outbox } from '../publish/outbox';
import type { SessionHooks, SessionWill } from '../publish/mqtt-session';
import { connectMqttSession } from '../publish/mqtt-session';
import { coreVersion, scoreNews2 } from '../native/addon';
import type { News2Scorer } from '../scoring/news2-stage';
import type { Logger } from '../log';
import { systemdSupervisor } from '../io/systemd';
import { COMMAND_STATE_RECORD } from '../commands-in/persistence';
import { IDENTITY_STATE_RECORD } from '../drivers/bound-identities';

/** The kernel's id of this boot, or '' when it cannot be read (then nothing is taken as the same boot). */
function bootId(): string {
  try {
    return readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
  } catch {
    return '';
  }
}

/** What `runAgent` may be given instead of its defaults. */
export interface RunAgentOptions {
  /**
   * Builds the NEWS2 scorer, given the agent's logger; default: the native addon's
   * `scoreNews2`. The only other caller is the single-fault test's entry point
   * (test/support/fault-agent.ts), which passes a scorer that fails on purpose.
   */
  createScorer?: (logger: Logger) => News2Scorer;
}

export async function runAgent(configFile: string, options: RunAgentOptions = {}): Promise<number> {
  const config = loadConfig(configFile); // throws ConfigError listing every problem
  const logger = createLogger(config.log.level);
  logger.info('agent-starting', {
    gatewayId: config.gateway.gatewayId,
    bed: `${config.gateway.siteId}/${config.gateway.wardId}/${config.gateway.bedId}`,
    interfaces: config.interfaces.map((i) => `${i.id}:${i.driver}:${'path' in i ? i.path : `${i.host}:${i.port}`}`),
  });
  // The durable queue is opened before anything can be accepted; a queue that cannot be
  // opened (disk, permissions, another agent holding its lock) stops the start-up.
  const queueStore = await LevelQueueStore.open(config.queue.dir);
  const outbox = await Outbox.open(queueStore, config.queue, systemClock, logger);
  // What else a restart must not lose is in the same store: the station's accepted commands
  // (manual inputs, replay ids) and the learned device identities.
  const saved = new Map<string, Uint8Array>();
  for (const record of [COMMAND_STATE_RECORD, IDENTITY_STATE_RECORD]) {
    const bytes = await queueStore.loadState(record);
    if (bytes !== undefined) saved.set(record, bytes);
  }
  const durableState = { store: queueStore, bootId: bootId(), saved };
  // The native addon must load before anything is accepted (throws NativeError NATIVE_LOAD).
  const nativeVersion = coreVersion();
  const supervisor = systemdSupervisor(logger);
  const connect = (will: SessionWill, hooks: SessionHooks) => connectMqttSession(config, outbox, systemClock, logger, will, hooks);
  const scorer = options.createScorer?.(logger) ?? scoreNews2;
  const agent = startAgent({ config, clock: systemClock, logger, scorer, connect, supervisor, durableState });
  // Ready: config valid, addon loaded, durable queue open, drivers started. The broker need
  // not be reachable: accepted data waits in the queue.
  supervisor.ready(`streaming ${config.interfaces.length} interface(s)`);
  logger.info('agent-ready', { nativeVersion, watchdogIntervalMs: supervisor.watchdogIntervalMs });
  await new Promise<void>((resolve) => {
    const stop = (signal: string): void => {
      logger.info('agent-stopping', { signal });
      void agent.stop('shutdown').finally(resolve);
    };
    process.once('SIGINT', () => stop('SIGINT'));
    process.once('SIGTERM', () => stop('SIGTERM'));
  });
  return 0;
}
