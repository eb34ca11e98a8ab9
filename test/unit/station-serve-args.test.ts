/**
 * Unit tests of `vigil station serve`'s options (parseServeArgs, agent/src/commands/station-serve.ts):
 * what the board may be started with, read as docs/interfaces/station-web.md says. Every refusal is
 * a UsageError (the CLI exits 2) that names the option; none starts a server.
 */
import t from 'tap';
import { UsageError } from '../../agent/src/errors';
import { parseServeArgs } from '../../agent/src/commands/station-serve';

const BROKER = ['--url', 'mqtts://broker:8883', '--ca-file', 'ca.pem', '--cert-file', 'station.pem', '--key-file', 'station.key'];
const WEB_TLS = ['--tls-cert', 'web.pem', '--tls-key', 'web.key'];
const BASE = [...BROKER, '--users', 'users.json', '--listen', '0.0.0.0:8443', ...WEB_TLS];

/** The message of the UsageError parseServeArgs throws, or a text saying it did not throw one. */
function refusal(args: string[]): string {
  try {
    parseServeArgs(args);
    return 'accepted';
  } catch (err) {
    return err instanceof UsageError ? err.message : `not a UsageError: ${String(err)}`;
  }
}

/** `args` without the option `name` and its value. */
function without(args: string[], name: string): string[] {
  const i = args.indexOf(name);
  return i < 0 ? args : [...args.slice(0, i), ...args.slice(i + 2)];
}

t.test('REQ-WEB-012 HAZ-016 the board is served over HTTPS with the web certificate, on the address given; the defaults are those station-web.md states', async (t) => {
  t.same(parseServeArgs(BASE), {
    url: 'mqtts://broker:8883',
    tls: { caFile: 'ca.pem', certFile: 'station.pem', keyFile: 'station.key' },
    stationId: undefined,
    usersFile: 'users.json',
    host: '0.0.0.0',
    port: 8443,
    web: { certFile: 'web.pem', keyFile: 'web.key' },
    sessionTtlMs: 28_800_000,
    allowedOrigins: [],
    silentBedMs: 5000,
  });
  const v6 = parseServeArgs([...without(BASE, '--listen'), '--listen', '[::]:443', '--station-id', 'station-ward7', '--allowed-origin', 'https://board.ward7:8443', '--allowed-origin', 'http://10.0.0.5', '--session-ttl-ms', '1000', '--silent-bed-ms', '100']);
  t.same([v6.host, v6.port], ['::', 443], 'an IPv6 address in brackets');
  t.equal(v6.stationId, 'station-ward7');
  t.same(v6.allowedOrigins, ['https://board.ward7:8443', 'http://10.0.0.5'], 'every --allowed-origin, in order');
  t.same([v6.sessionTtlMs, v6.silentBedMs], [1000, 100], 'the smallest values allowed');
});

t.test('REQ-WEB-012 HAZ-016 plain HTTP (--insecure-http) only on loopback and never with the web certificate; without it the certificate and key are both required', async (t) => {
  const plain = [...BROKER, '--users', 'users.json', '--insecure-http'];
  for (const host of ['127.0.0.1:8080', 'localhost:8080', '[::1]:8080']) {
    const o = parseServeArgs([...plain, '--listen', host]);
    t.equal(o.web, undefined, `${host}: plain HTTP on loopback`);
  }
  for (const host of ['0.0.0.0:8080', '10.0.0.5:8080', '[::]:8080', 'board.ward7:8080']) {
    t.match(refusal([...plain, '--listen', host]), /^--insecure-http listens on a loopback address only/, `${host}: refused off loopback`);
  }
  t.match(refusal([...plain, '--listen', '127.0.0.1:8080', '--tls-cert', 'web.pem']), /^--insecure-http and --tls-cert\/--tls-key exclude each other/, 'plain HTTP with a certificate: refused (which one was meant?)');
  t.match(refusal([...plain, '--listen', '127.0.0.1:8080', '--tls-key', 'web.key']), /^--insecure-http and --tls-cert\/--tls-key exclude each other/);
  t.match(refusal(without(BASE, '--tls-cert')), /^--tls-cert and --tls-key are required \(or --insecure-http on loopback\)/, 'HTTPS without its certificate: refused');
  t.match(refusal(without(BASE, '--tls-key')), /^--tls-cert and --tls-key are required/, 'HTTPS without its key: refused');
});

t.test('REQ-WEB-006 HAZ-016 the board does not start without a broker URL, a users file or a valid listen address', async (t) => {
  t.match(refusal(without(BASE, '--url')), /^--url is required\n/);
  t.match(refusal(without(BASE, '--users')), /^--users FILE is required\n/, 'no users file: no sessions to check, no board');
  t.match(refusal(without(BASE, '--listen')), /^--listen HOST:PORT is required/, 'no listen address');
  for (const listen of ['8443', '0.0.0.0', '0.0.0.0:', '0.0.0.0:65536', '0.0.0.0:123456', '::1:8443', '[::1]8443']) {
    t.match(refusal([...without(BASE, '--listen'), '--listen', listen]), /^--listen HOST:PORT is required \(e\.g\. 0\.0\.0\.0:8443, \[::1\]:8443\)/, `--listen ${listen}: refused`);
  }
  t.equal(parseServeArgs([...without(BASE, '--listen'), '--listen', '0.0.0.0:65535']).port, 65535, 'the highest port');
});

t.test('REQ-WEB-006 HAZ-016 a station id, an allowed origin, a session lifetime or a silence bound out of its rules is refused, never read as something else', async (t) => {
  for (const id of ['', 'station ward7', 'station/ward7', 'x'.repeat(65)]) {
    t.match(refusal([...BASE, '--station-id', id]), /^--station-id must be 1-64 letters, digits, - or _/, `--station-id ${JSON.stringify(id)}`);
  }
  for (const origin of ['https://board.ward7/', 'https://board.ward7/path', 'board.ward7', 'ftp://board.ward7', 'https://']) {
    t.match(refusal([...BASE, '--allowed-origin', 'https://ok.ward7', '--allowed-origin', origin]), /^--allowed-origin must be an origin: scheme:\/\/host\[:port\], no path/, `--allowed-origin ${origin}`);
  }
  for (const ttl of ['999', '0', '-1', '1.5', 'eight hours', '']) {
    t.match(refusal([...BASE, `--session-ttl-ms=${ttl}`]), /^--session-ttl-ms must be an integer >= 1000\n/, `--session-ttl-ms ${JSON.stringify(ttl)}`);
  }
  for (const silent of ['99', '0', '5s']) {
    t.match(refusal([...BASE, '--silent-bed-ms', silent]), /^--silent-bed-ms must be an integer >= 100\n/, `--silent-bed-ms ${JSON.stringify(silent)}`);
  }
  t.throws(() => parseServeArgs([...BASE, '--session-tll-ms', '1000']), { code: 'ERR_PARSE_ARGS_UNKNOWN_OPTION' }, 'a misspelt option is refused, not ignored');
});
