/**
 * A throw-away PKI for the tests, made at test time with the `openssl` command: a CA,
 * a broker certificate for 127.0.0.1 and localhost (subjectAltName: the client checks the
 * host name against it), and a client certificate per gateway and per station whose
 * common name is the MQTT identity (Mosquitto `use_identity_as_username`, and the client id
 * with `use_username_as_clientid`: one certificate per client process). Keys are EC
 * P-256 (fast to make), certificates valid for two days. Nothing here is ever used
 * outside the tests and `make run`'s one-machine demo (test/support/run-local.ts).
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface CertFiles {
  certFile: string;
  keyFile: string;
}

export interface Pki {
  dir: string;
  caFile: string;
  broker: CertFiles;
  /** Client certificates by common name. */
  clients: Map<string, CertFiles>;
  /** The files a client `name` connects with: { caFile, certFile, keyFile }. */
  clientTls(name: string): { caFile: string; certFile: string; keyFile: string };
  /** A certificate with this common name signed by a different CA (must be refused). */
  rogue: CertFiles;
  /** A broker certificate from the right CA for another host name (the client's host name check must refuse it). */
  wrongHost: CertFiles;
  remove(): void;
}

function openssl(args: string[], cwd: string): void {
  execFileSync('openssl', args, { cwd, stdio: ['ignore', 'ignore', 'pipe'] });
}

const EC = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes'];

function makeCa(dir: string, name: string): { crt: string; key: string } {
  const crt = join(dir, `${name}.crt`);
  const key = join(dir, `${name}.key`);
  openssl(
    ['req', '-x509', ...EC, '-keyout', key, '-out', crt, '-days', '2', '-subj', `/CN=${name}`,
      '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign'],
    dir,
  );
  return { crt, key };
}

function makeLeaf(dir: string, ca: { crt: string; key: string }, file: string, cn: string, ext: string): CertFiles {
  const keyFile = join(dir, `${file}.key`);
  const csr = join(dir, `${file}.csr`);
  const certFile = join(dir, `${file}.crt`);
  const extFile = join(dir, `${file}.ext`);
  writeFileSync(extFile, `${ext}\n`);
  openssl(['req', ...EC, '-keyout', keyFile, '-out', csr, '-subj', `/CN=${cn}`], dir);
  openssl(
    ['x509', '-req', '-in', csr, '-CA', ca.crt, '-CAkey', ca.key, '-CAcreateserial', '-out', certFile, '-days', '2', '-extfile', extFile],
    dir,
  );
  return { certFile, keyFile };
}

/** Makes the PKI: one client certificate per name in `clients` (gateway ids, station identities). */
export function createPki(clients: readonly string[]): Pki {
  const dir = mkdtempSync(join(tmpdir(), 'vigil-pki-'));
  const ca = makeCa(dir, 'vigil-test-ca');
  const broker = makeLeaf(dir, ca, 'broker', 'localhost', [
    'basicConstraints=CA:FALSE',
    'keyUsage=critical,digitalSignature',
    'extendedKeyUsage=serverAuth',
    'subjectAltName=IP:127.0.0.1,DNS:localhost',
  ].join('\n'));
  const wrongHost = makeLeaf(dir, ca, 'wrong-host', 'broker.elsewhere.example', [
    'basicConstraints=CA:FALSE',
    'keyUsage=critical,digitalSignature',
    'extendedKeyUsage=serverAuth',
    'subjectAltName=DNS:broker.elsewhere.example',
  ].join('\n'));
  const clientExt = ['basicConstraints=CA:FALSE', 'keyUsage=critical,digitalSignature', 'extendedKeyUsage=clientAuth'].join('\n');
  const map = new Map<string, CertFiles>();
  for (const name of clients) map.set(name, makeLeaf(dir, ca, `client-${name}`, name, clientExt));
  const other = makeCa(dir, 'rogue-ca');
  const rogue = makeLeaf(dir, other, 'rogue', clients[0] ?? 'rogue', clientExt);
  return {
    dir,
    caFile: ca.crt,
    broker,
    clients: map,
    clientTls(name: string) {
      const c = map.get(name);
      if (!c) throw new Error(`no client certificate for ${name}`);
      return { caFile: ca.crt, ...c };
    },
    rogue,
    wrongHost,
    remove() {
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/**
 * The station-side identities of the tests, one per client process: the broker makes a
 * certificate's common name the MQTT client id (`use_username_as_clientid`, docs/interfaces/mqtt.md
 * Security), so two processes connected with one certificate would take each other's session.
 * Each is listed in the ACL as a station (`vigilAcl(..., Object.values(STATIONS))`).
 */
export const STATIONS = {
  /** The console station view (`vigil station`), or a raw client standing for it. */
  view: 'station',
  /** The station's command tool (`vigil station ack|silence|observe|confirm-device`). */
  cli: 'station-cli',
  /** The tests' subscriber (test/support/observer.ts), seeing what a station would. */
  observer: 'station-observer',
} as const;

export interface AclGateway {
  gatewayId: string;
  siteId: string;
  wardId: string;
  bedId: string;
}

/**
 * The Mosquitto ACL of docs/interfaces/mqtt.md (Security): a gateway may publish only
 * the message types of its own bed and read only its bed's command and receipt topics; a station
 * reads everything and writes commands, and delivery receipts under its own name. Identities are certificate common names, which are
 * also the client ids: list every station-side process (view, command tool, observer) by its own name.
 */
export function vigilAcl(gateways: readonly AclGateway[], stations: readonly string[]): string {
  const lines = ['# Vigil ACL: identities are client certificate common names (use_identity_as_username), also the client ids (use_username_as_clientid).'];
  for (const s of stations) {
    // A station writes receipts only under its own name (the gateway checks the payload names it too).
    lines.push('', `user ${s}`, 'topic read vigil/v1/#', 'topic write vigil/v1/+/+/+/cmd', `topic write vigil/v1/+/+/+/receipt/${s}`);
  }
  for (const g of gateways) {
    const bed = `vigil/v1/${g.siteId}/${g.wardId}/${g.bedId}`;
    lines.push(
      '',
      `user ${g.gatewayId}`,
      `topic write ${bed}/status`,
      `topic write ${bed}/obs/#`,
      `topic write ${bed}/score`,
      `topic write ${bed}/alarm/#`,
      `topic write ${bed}/cmd-result`,
      `topic read ${bed}/cmd`,
      `topic read ${bed}/receipt/#`,
    );
  }
  return `${lines.join('\n')}\n`;
}
