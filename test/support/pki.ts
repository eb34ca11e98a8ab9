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
import { brokerAcl } from '../../agent/src/publish/broker-acl';
import type { AclGateway } from '../../agent/src/publish/broker-acl';

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

export type { AclGateway } from '../../agent/src/publish/broker-acl';

/**
 * The Mosquitto ACL of docs/interfaces/mqtt.md (Security), as the agent writes it
 * (`vigil broker-acl`, agent/src/publish/broker-acl.ts): the tests' brokers apply the very rules a
 * site's broker gets. Identities are certificate common names, which are also the client ids: list
 * every station-side process (view, command tool, observer) by its own name.
 */
export function vigilAcl(gateways: readonly AclGateway[], stations: readonly string[]): string {
  return brokerAcl({ gateways, stations });
}
