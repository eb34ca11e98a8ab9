/** `vigil run --config <file>`: the agent process. */
import { systemClock } from '../clock';
import { loadConfig } from '../config';
import { createLogger } from '../log';
import { LevelQueueStore } from '../io/durable-queue';
import { startAgent } from '../main';
import { Outbox } from '../publish/outbox';
import { coreVersion, scoreNews2 } from '../native/addon';
import { systemdSupervisor } from '../io/systemd';

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
  const outbox = await Outbox.open(await LevelQueueStore.open(config.queue.dir), config.queue, systemClock, logger);
  // The native addon must load before anything is accepted (throws NativeError NATIVE_LOAD).
  const nativeVersion = coreVersion();
  const supervisor = systemdSupervisor(logger);
  const agent = startAgent({ config, clock: systemClock, logger, scorer: scoreNews2, outbox, supervisor });
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
