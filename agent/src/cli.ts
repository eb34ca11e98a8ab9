#!/usr/bin/env node
/**
 * `vigil`: the agent and its tools.
 *
 *   vigil run --config <file.json>          run the gateway agent
 *   vigil check-config --config <file.json> validate a config file and exit
 *   vigil config-schema                     the config file's JSON Schema (draft 2020-12)
 *   vigil --version | version [--json]      agent, addon, protocol, parameter table and profile versions
 *   vigil station --url mqtt://host:port    console view of the nurses' station [--json] [--refresh-ms N]
 *   vigil station ack|silence|observe|confirm-device ...   send a command to a bed's gateway
 *   vigil station serve ... | add-user ...   the ward board in a browser (docs/interfaces/station-web.md)
 *   vigil score news2                       JSON Lines in (stdin), one NEWS2 result per line out
 *   vigil decode pcd01|masimo-ascii|vigil-patch [file]  a device capture through the agent's decoding and controls
 *   vigil detect qrs <record>               beat sample indexes of a WFDB record (docs/signal-processing.md)
 *   vigil eval qrs|ppg [dir] [--json]       evaluation on MIT-BIH / BIDMC (docs/benchmarks.md)
 *   vigil eval qrs [dir] --peer gqrs --noise  ... beside PhysioNet's gqrs, and the noise stress test
 *
 * Exit codes: 0 ok, 1 runtime failure, 2 usage or configuration error.
 */
import { parseArgs } from 'node:util';
import { loadConfig } from './config';
import { VigilError, UsageError } from './errors';
import { createLogger } from './log';

const USAGE = `usage:
  vigil run --config <file.json>
  vigil check-config --config <file.json>
  vigil config-schema                    the config file's JSON Schema (for editors: "$schema")
  vigil --version | version [--json]     agent, native addon, protocol, parameter table, HL7 profile versions
  vigil station --url mqtt://host:port [--json] [--refresh-ms 1000] [--ca F --cert F --key F] [--client-id ID]
                [--station-id ID]   (confirm delivery to the gateways as station ID: delivery receipts)
  vigil station ack|silence|observe|confirm-device --url U --bed site/ward/bed --user NAME
                [--alarm ID] [--duration-sec N] [--consciousness A|C|V|P|U] [--on-oxygen true|false]
                [--spo2-scale 1|2] [--interface ID] [--gateway ID] [--json] [--ca F --cert F --key F]
  vigil station serve --url U [--ca-file F --cert-file F --key-file F] [--station-id ID] --users FILE
                --listen HOST:PORT (--tls-cert F --tls-key F | --insecure-http) [--session-ttl-ms N]
                [--allowed-origin URL]... [--silent-bed-ms 5000]   the ward board in a browser
  vigil station add-user --users FILE --name NAME [--display-name TEXT] [--beds site/ward/*[,...]]
                                         (password on stdin)
  vigil score news2   (JSON Lines on stdin)
  vigil decode pcd01|masimo-ascii|vigil-patch [file] [--utc-offset +HH:MM] [--patient-id ID]
               [--profile NAME|auto] [--conformance tolerant|pcd01-strict]   (pcd01)
                                         decode a device capture (file or stdin) to JSON Lines
  vigil detect qrs <record>              beat sample indexes of a WFDB record's first signal
  vigil eval qrs|ppg [dir] [--json]      evaluate on MIT-BIH (qrs) or BIDMC (ppg); dir defaults to ../shared/data/...
  vigil eval qrs [dir] [--peer gqrs [--python python3] [--venv build/peer-venv]] [--noise [--noise-seed N]] [--json]
                                         beside PhysioNet's gqrs (made in a Python venv, wfdb from PyPI);
                                         --noise: the NSTDB-style noise stress test
  vigil broker-acl --station NAME... [--gateway ID=site/ward/bed...] [--config vigil.json...]
                                         the ward broker's Mosquitto ACL on stdout
`;

function requireConfigFlag(args: string[]): string {
  const { values } = parseArgs({ args, options: { config: { type: 'string', short: 'c' } }, strict: true });
  if (!values.config) throw new UsageError('--config <file> is required');
  return values.config;
}

export async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  try {
    switch (command) {
      case 'run': {
        const { runAgent } = await import('./commands/run.js');
        return await runAgent(requireConfigFlag(rest));
      }
      case 'check-config': {
        const config = loadConfig(requireConfigFlag(rest));
        process.stdout.write(`config ok: gateway ${config.gateway.gatewayId}, ${config.interfaces.length} interface(s)\n`);
        return 0;
      }
      case 'config-schema': {
        if (rest.length > 0) throw new UsageError('usage: vigil config-schema');
        const { configJsonSchema } = await import('./config.js');
        process.stdout.write(`${JSON.stringify(configJsonSchema(), null, 2)}\n`);
        return 0;
      }
      case '--version':
      case 'version': {
        const { values } = parseArgs({ args: rest, options: { json: { type: 'boolean', default: false } }, strict: true });
        const { runVersion } = await import('./commands/version.js');
        return runVersion({ json: values.json ?? false }, process.stdout, process.stderr);
      }
      case 'station':
        return await stationCommand(rest);
      case 'decode':
        return await decodeCommand(rest);
      case 'score': {
        if (rest[0] !== 'news2' || rest.length !== 1) throw new UsageError('usage: vigil score news2');
        const { runScoreNews2 } = await import('./commands/score-news2.js');
        return await runScoreNews2(process.stdin, process.stdout);
      }
      case 'detect': {
        if (rest[0] !== 'qrs' || rest.length !== 2 || !rest[1]) throw new UsageError('usage: vigil detect qrs <record>');
        const { runDetectQrs } = await import('./commands/detect-qrs.js');
        return await runDetectQrs(rest[1], process.stdout);
      }
      case 'eval':
        return await evalCommand(rest);
      case 'broker-acl': {
        const { runBrokerAcl } = await import('./commands/broker-acl.js');
        return runBrokerAcl(rest, process.stdout);
      }
      case undefined:
      case '-h':
      case '--help':
      case 'help':
        process.stdout.write(USAGE);
        return command === undefined ? 2 : 0;
      default:
        throw new UsageError(`unknown command "${command}"`);
    }
  } catch (err) {
    return exitCodeOf(err);
  }
}

/** The exit code of a failed command, after saying why on stderr; anything unexpected is rethrown. */
function exitCodeOf(err: unknown): number {
  if (err instanceof UsageError) {
    process.stderr.write(`vigil: ${err.message}\n${USAGE}`);
    return 2;
  }
  if (err instanceof VigilError) {
    process.stderr.write(`vigil: ${err.message}\n`);
    return err.code === 'CONFIG_INVALID' ? 2 : 1;
  }
  if (err instanceof TypeError && 'code' in err && String((err as { code: unknown }).code).startsWith('ERR_PARSE_ARGS')) {
    process.stderr.write(`vigil: ${err.message}\n${USAGE}`);
    return 2;
  }
  throw err;
}

/** `vigil station ...`: a command to a bed's gateway, or the console view. */
async function stationCommand(rest: string[]): Promise<number> {
  if (rest[0] === 'serve' || rest[0] === 'add-user') {
    // The ward board in a browser (docs/interfaces/station-web.md).
    const { runStationServe, runAddUser } = await import('./commands/station-serve.js');
    return rest[0] === 'serve' ? await runStationServe(rest.slice(1), createLogger('info')) : await runAddUser(rest.slice(1));
  }
  if (rest[0] !== undefined && !rest[0].startsWith('-')) {
    // A command to a bed's gateway: ack, silence, observe, confirm-device.
    const { runStationCommand } = await import('./commands/station.js');
    return await runStationCommand(rest[0], rest.slice(1), createLogger('warn'));
  }
  const { values } = parseArgs({
    args: rest,
    options: {
      url: { type: 'string' },
      json: { type: 'boolean', default: false },
      'refresh-ms': { type: 'string', default: '1000' },
      ca: { type: 'string' },
      cert: { type: 'string' },
      key: { type: 'string' },
      'client-id': { type: 'string' },
      'station-id': { type: 'string' },
    },
    strict: true,
  });
  if (!values.url) throw new UsageError('--url mqtt://host:port is required');
  const stationId = values['station-id'];
  if (stationId !== undefined && !/^[A-Za-z0-9_-]{1,64}$/.test(stationId)) {
    throw new UsageError('--station-id must be 1-64 letters, digits, - or _ (the station certificate\'s name)');
  }
  const refreshMs = Number(values['refresh-ms']);
  if (!Number.isInteger(refreshMs) || refreshMs < 100) throw new UsageError('--refresh-ms must be an integer >= 100');
  const { runStation } = await import('./commands/station.js');
  await runStation(
    {
      url: values.url,
      json: values.json ?? false,
      refreshMs,
      caFile: values.ca,
      certFile: values.cert,
      keyFile: values.key,
      clientId: values['client-id'],
      stationId,
    },
    createLogger('warn'),
  );
  return 0;
}

/** `vigil decode pcd01|masimo-ascii|vigil-patch [file]`. */
async function decodeCommand(rest: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: rest,
    options: { 'utc-offset': { type: 'string' }, 'patient-id': { type: 'string' }, profile: { type: 'string' }, conformance: { type: 'string' } },
    allowPositionals: true,
    strict: true,
  });
  const { isDecodeDriver, runDecode, DECODE_DRIVERS } = await import('./commands/decode.js');
  const [driver, file, ...extra] = positionals;
  if (driver === undefined || !isDecodeDriver(driver) || extra.length > 0) {
    throw new UsageError(`usage: vigil decode ${DECODE_DRIVERS.join('|')} [file] [--utc-offset +HH:MM] [--patient-id ID] [--profile NAME|auto] [--conformance tolerant|pcd01-strict]`);
  }
  const utcOffset = values['utc-offset'];
  if (utcOffset !== undefined && !/^[+-](0\d|1[0-4]):[0-5]\d$/.test(utcOffset)) {
    throw new UsageError('--utc-offset must be like "+00:00" or "-05:30"');
  }
  const { CONFORMANCE_LEVELS } = await import('./drivers/hl7-pcd01/conformance.js');
  const conformance = CONFORMANCE_LEVELS.find((c) => c === values.conformance);
  if (values.conformance !== undefined && conformance === undefined) throw new UsageError(`--conformance must be one of ${CONFORMANCE_LEVELS.join(', ')}`);
  const profile = values.profile;
  if (profile !== undefined && driver === 'pcd01') {
    const { hl7ProfileNames } = await import('./drivers/hl7-pcd01/profile.js');
    if (profile !== 'auto' && !hl7ProfileNames().includes(profile)) throw new UsageError(`--profile must be "auto" or one of ${hl7ProfileNames().join(', ')}`);
  }
  return await runDecode({ driver, file, utcOffset, patientId: values['patient-id'], profile, conformance }, process.stdin, process.stdout, process.stderr);
}

/** `vigil eval qrs|ppg [dir] [--json]`, and for qrs `--peer gqrs [--python P]`, `--noise [--noise-seed N]`. */
async function evalCommand(rest: string[]): Promise<number> {
  const [what, ...evalArgs] = rest;
  if (what !== 'qrs' && what !== 'ppg') throw new UsageError('usage: vigil eval qrs|ppg [dir] [--json]');
  const { values, positionals } = parseArgs({
    args: evalArgs,
    options: {
      json: { type: 'boolean', default: false },
      peer: { type: 'string' },
      python: { type: 'string' },
      venv: { type: 'string' },
      noise: { type: 'boolean', default: false },
      'noise-seed': { type: 'string' },
    },
    allowPositionals: true,
    strict: true,
  });
  const qrsOnly =
    values.peer !== undefined || values.python !== undefined || values.venv !== undefined || values.noise === true || values['noise-seed'] !== undefined;
  if (what === 'ppg' && qrsOnly) throw new UsageError('--peer, --python, --venv, --noise and --noise-seed are options of vigil eval qrs');
  if (values.peer !== undefined && values.peer !== 'gqrs') throw new UsageError('--peer must be gqrs');
  if ((values.python !== undefined || values.venv !== undefined) && values.peer === undefined) throw new UsageError('--python and --venv go with --peer gqrs');
  const noiseSeed = values['noise-seed'] === undefined ? undefined : Number(values['noise-seed']);
  if (noiseSeed !== undefined && !(Number.isInteger(noiseSeed) && noiseSeed >= 0)) throw new UsageError('--noise-seed must be a non-negative integer');
  if (positionals.length > 1) throw new UsageError('usage: vigil eval qrs|ppg [dir] [--json]');
  const { PROJECT_ROOT } = await import('./paths.js');
  const { join } = await import('node:path');
  const dir = positionals[0] ?? join(PROJECT_ROOT, '..', 'shared', 'data', what === 'qrs' ? 'mitdb' : 'bidmc');
  if (what === 'qrs') {
    const { runEvalQrs } = await import('./commands/eval-qrs.js');
    return await runEvalQrs(
      dir,
      {
        json: values.json ?? false,
        peer: values.peer === 'gqrs' ? 'gqrs' : undefined,
        python: values.python,
        venvDir: values.venv,
        noise: values.noise ?? false,
        noiseSeed,
        log: (line) => process.stderr.write(`vigil: ${line}\n`),
      },
      process.stdout,
    );
  }
  const { runEvalPpg } = await import('./commands/eval-ppg.js');
  return await runEvalPpg(dir, { json: values.json ?? false }, process.stdout);
}

if (require.main === module) {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (err: unknown) => {
      process.stderr.write(`vigil: unexpected failure: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
      process.exit(1);
    },
  );
}
