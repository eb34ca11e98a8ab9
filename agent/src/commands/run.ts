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
import { coreVersion, panicForTest, scoreNews2 } from '../native/addon';
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

export async function runAgent(configFile: string): Promise<number> {
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
  const agent = startAgent({ config, clock: systemClock, logger, scorer: faultInjectedScorer(logger), connect, supervisor, durableState });
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

/**
 * The NEWS2 scorer, normally the native addon's. For the single-fault tests only, the
 * environment variable VIGIL_FAULT_INJECT=native-panic makes every second call panic inside
 * the real addon (through its panicForTest export), so that the containment of a native
 * failure is shown on the real agent process. It is announced loudly at start-up and
 * inert when unset.
 */
function faultInjectedScorer(logger: Logger, env: NodeJS.ProcessEnv = process.env): News2Scorer {
  if (env.VIGIL_FAULT_INJECT !== 'native-panic') return scoreNews2;
  logger.error('fault-injection-active', { fault: 'native-panic', detail: 'test harness only: every second NEWS2 call panics' });
  let calls = 0;
  return (input) => {
    calls += 1;
    if (calls % 2 === 0) panicForTest('injected by VIGIL_FAULT_INJECT=native-panic');
    return scoreNews2(input);
  };
}
