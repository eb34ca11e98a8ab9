/**
 * The composition root, read as the system diagram. It builds each stage and wires them in
 * the order of the data path; every policy lives in the stage it names:
 *
 *   drivers (framing + decode)            drivers/<name>/
 *     -> observation flow                 pipeline/observation-flow.ts (validate, store, withdraw, score)
 *     -> link policy                      safety/link-policy.ts (what link events raise and withdraw)
 *     -> alarms                           safety/alarm-stage.ts over the catalogue safety/conditions.ts
 *     -> publisher -> sink (durable queue, MQTT)   publish/ (the sink is built by the process entry)
 *   station -> commands -> durable state  commands-in/, state/durable-state.ts
 *   supervision (watchdog gate, loop, queue, shedding)   safety/supervision.ts
 *
 * No module-level singletons: config, logger and clock are passed in.
 */
import type { Clock } from './clock';
import type { Config } from './config';
import { Counters } from './counters';
import type { DeviceDriver } from './drivers/driver';
import { createDriver } from './drivers/registry';
import { agentEffects } from './commands-in/effects';
import { ManualObservations } from './commands-in/manual';
import { CommandStage } from './commands-in/stage';
import type { Logger } from './log';
import type { ParameterCode } from './model/parameters';
import { PARAMETERS, PARAMETER_TABLE_VERSION } from './model/parameters';
import { ObservationFlow } from './pipeline/observation-flow';
import { gatewayStatus } from './publish/gateway-status';
import type { AgentSink, SessionHooks, SessionWill } from './publish/mqtt-session';
import type { MessageSink } from './publish/publisher';
import { Publisher } from './publish/publisher';
import { LoadShedder } from './publish/shedding';
import type { CommandResultMsg, GatewayStatusMsg } from './proto/codec';
import type { Supervisor } from './io/systemd';
import { AlarmStage } from './safety/alarm-stage';
import { AlarmBook } from './safety/alarms';
import { withNews2Priorities } from './safety/conditions';
import { LinkPolicy } from './safety/link-policy';
import { Supervision } from './safety/supervision';
import type { ProgressGate } from './safety/watchdog';
import type { News2Scorer } from './scoring/news2-stage';
import { News2Stage } from './scoring/news2-stage';
import { VitalsStore } from './scoring/vitals';
import type { SavedState } from './state/durable-state';
import { DurableState } from './state/durable-state';
import { bounded } from './stop';
import { ValidationStage } from './validation/stage';

export const SOFTWARE_VERSION = '0.1.0';

export interface AgentDeps {
  config: Config;
  clock: Clock;
  logger: Logger;
  scorer: News2Scorer;
  /** Builds the broker session (publish/mqtt-session.ts in the process entry; a fake sink in tests). */
  connect: (will: SessionWill, hooks: SessionHooks) => AgentSink;
  /** Period of the safety tick (staleness, quiet time). */
  tickMs?: number;
  /** systemd (Type=notify, WatchdogSec=); absent when not supervised. */
  supervisor?: Supervisor;
  /** Drivers built by the caller (integration tests); default: one per configured interface. */
  drivers?: DeviceDriver[];
  /** The durable state store and what an earlier run left (state/durable-state.ts); memory only without. */
  durableState?: SavedState;
}

export interface RunningAgent {
  publisher: Publisher;
  stop(reason: string): Promise<void>;
  /** Runs one safety tick now (tests drive it with a fake clock). */
  tick(): void;
  statusMessage(online: boolean, reason: string): GatewayStatusMsg;
  /** The progress gate behind the systemd watchdog. */
  gate: ProgressGate;
  /** Handles a command payload from the station and publishes its result (tests call it directly). */
  handleCommand(payload: Uint8Array): CommandResultMsg;
}

/** The stages of the data path, built in its order. */
function buildDataPath(deps: AgentDeps, counters: Counters) {
  const { config, clock, logger } = deps;
  const maxAgeMs = (p: ParameterCode): number => config.maxAgeMs[p] ?? PARAMETERS[p].defaultMaxAgeMs;
  const interfaceConfig = new Map(config.interfaces.map((i) => [i.id, i]));
  const drivers = deps.drivers ?? config.interfaces.map((itf) => createDriver(itf, config.patient, clock, logger));
  const interfaceIds = drivers.map((d) => d.interfaceId);
  const validation = new ValidationStage({ maxAgeMs: (spec) => maxAgeMs(spec.code), clockOffsetBoundMs: config.clockOffsetBoundMs, frozenWindowMs: config.safety.frozenWindowMs });
  const store = new VitalsStore(clock, maxAgeMs, (id) => interfaceConfig.get(id)?.scoreUnverified ?? false);
  const manual = new ManualObservations(clock, config.commands.manualMaxAgeMs);
  const news2 = new News2Stage(deps.scorer, store, clock, () => manual.spo2Scale() ?? config.patient.spo2Scale, interfaceIds, () => manual.inputs(), config.news2Priority);
  const sink = new LateSink();
  // Under overload the least important messages are not produced: extras, then vitals and scores, never alarms.
  const shedder = new LoadShedder(clock);
  const publisher = new Publisher(sink, { ...config.gateway }, clock, logger, shedder);
  const alarms = new AlarmStage(new AlarmBook(clock, withNews2Priorities(config.alarms.news2TriggerPriority)), (m) => void publisher.alarm(m), logger);
  const flow = new ObservationFlow({ clock, logger, counters, validation, store, manual, news2, alarms, output: publisher, maxAgeMs });
  return { drivers, interfaceIds, interfaceConfig, validation, manual, sink, shedder, publisher, alarms, flow };
}
type DataPath = ReturnType<typeof buildDataPath>;

/** The station's commands, and what a restart must keep of them and of the drivers. */
function buildCommands(deps: AgentDeps, counters: Counters, p: DataPath) {
  const { config, clock, logger } = deps;
  const commands = new CommandStage({ ...config.gateway }, config.commands, clock, logger, agentEffects({
    alarms: p.alarms.book, drivers: p.drivers, manual: p.manual, logger,
    publishObservation: (m) => void p.publisher.observationMsg(m),
    publishAlarm: (m) => void p.publisher.alarm(m),
    rescore: () => p.flow.rescore(),
    clearAlarm: (key, source) => p.alarms.clear(key, source),
  }));
  const durable = new DurableState({ clock, logger, counters, alarms: p.alarms, commands, manual: p.manual, drivers: p.drivers, state: deps.durableState });
  const handleCommand = (payload: Uint8Array): CommandResultMsg => {
    const result = commands.handle(payload);
    durable.answer(result, (r) => void p.publisher.commandResult(r));
    return result;
  };
  return { commands, durable, handleCommand };
}

/** Supervision of the gateway, and the status message every stage contributes to. */
function buildSupervision(deps: AgentDeps, counters: Counters, p: DataPath, commands: CommandStage) {
  const { config, clock, logger } = deps;
  const snapshots = () => p.drivers.map((d) => d.snapshot());
  const supervision = new Supervision({
    clock, logger, counters, alarms: p.alarms, shedder: p.shedder, supervisor: deps.supervisor,
    eventLoopStallMs: config.safety.eventLoopStallMs,
    heartbeatIntervalMs: config.mqtt.heartbeatIntervalMs,
    quietTimeMs: (id) => p.interfaceConfig.get(id)?.quietTimeMs ?? 3000,
    supervised: {
      interfaces: snapshots,
      published: () => p.publisher.counters.published,
      connected: () => p.sink.connected,
      backlog: () => p.sink.target?.backlog ?? 0,
      queueConditions: () => p.sink.target?.conditions?.() ?? null,
      superviseAlarmDelivery: () => p.sink.target?.superviseAlarms?.() ?? null,
    },
  });
  const startedWallMs = clock.wallMs();
  const statusMessage = (online: boolean, reason: string): GatewayStatusMsg =>
    gatewayStatus({
      interfaces: snapshots,
      health: (id) => p.validation.health(id),
      counters: () => [counters.snapshot(), p.publisher.statusCounters(), p.sink.target?.counters?.() ?? {}, commands.counters(), supervision.counters(), p.shedder.counters()],
      startedWallMs,
      heartbeatIntervalMs: config.mqtt.heartbeatIntervalMs,
      softwareVersion: `${SOFTWARE_VERSION} (parameters v${PARAMETER_TABLE_VERSION})`,
    }, online, reason);
  return { supervision, statusMessage };
}

export function startAgent(deps: AgentDeps): RunningAgent {
  const { config, clock, logger } = deps;
  const counters = new Counters();
  const p = buildDataPath(deps, counters);
  const { commands, durable, handleCommand } = buildCommands(deps, counters, p);
  const { supervision, statusMessage } = buildSupervision(deps, counters, p, commands);
  const links = new LinkPolicy({
    clock, logger, counters, alarms: p.alarms, flow: p.flow, interfaceIds: p.interfaceIds, rejectAlarm: config.rejectAlarm,
    countHealth: (id, name) => p.validation.count(id, name),
    statusChanged: (reason) => void p.publisher.status(statusMessage(true, reason)),
  });
  const resumed = durable.restore(); // before the drivers start and before any command

  // --- wiring: each driver's events to the stage that owns their policy --------------------
  for (const driver of p.drivers) {
    driver.on('observations', (emitted) => {
      supervision.driverProgressed(driver.interfaceId);
      p.flow.accept(driver.interfaceId, emitted);
    });
    driver.on('rejected', (r) => links.onRejected(r));
    driver.on('condition', (c) => links.onCondition(c));
    driver.on('link', (change) => links.onLink(change));
  }
  const tick = (): void => {
    supervision.tick();
    for (const d of p.drivers) d.tick();
    links.tick();
    durable.tick();
    p.flow.expire();
  };
  const announce = (reason: string): void => {
    void p.publisher.status(statusMessage(true, reason));
    for (const a of p.alarms.list()) void p.publisher.alarmReminder(a);
  };

  // --- start ---------------------------------------------------------------------------------
  p.sink.target = deps.connect(p.publisher.willMessage(statusMessage(false, 'last-will')), { connected: () => announce('connected'), command: handleCommand });
  if (resumed) p.flow.resumeManual(resumed);
  for (const d of p.drivers) d.start();
  const timers = [
    setInterval(tick, deps.tickMs ?? 250),
    setInterval(() => {
      announce('heartbeat');
      supervision.heartbeat();
    }, config.mqtt.heartbeatIntervalMs),
  ];
  supervision.start();

  let stopping: Promise<void> | null = null;
  const stop = (reason: string): Promise<void> =>
    (stopping ??= (async () => {
      deps.supervisor?.stopping();
      supervision.stop();
      for (const t of timers) clearInterval(t);
      // Each step is bounded: a port that does not close, or a broker gone mid-stop, must
      // not keep the agent from stopping. What was not delivered stays in the durable queue.
      await bounded(logger, 'drivers', Promise.all(p.drivers.map((d) => d.stop())));
      await bounded(logger, 'offline-status', p.publisher.status(statusMessage(false, reason)));
      await bounded(logger, 'mqtt-close', p.sink.target?.end(false) ?? Promise.resolve());
    })());
  return { publisher: p.publisher, tick, statusMessage, handleCommand, gate: supervision.gate, stop };
}

/**
 * The publisher's sink, connected after the stages exist (the last will is the status the
 * stages describe); until then a publish fails and is counted by the publisher.
 */
class LateSink implements MessageSink {
  target: AgentSink | null = null;

  publish(topic: string, payload: Uint8Array, options: Parameters<MessageSink['publish']>[2]): Promise<void> {
    return this.target ? this.target.publish(topic, payload, options) : Promise.reject(new Error('not connected'));
  }

  get connected(): boolean | undefined {
    return this.target?.connected;
  }
}
