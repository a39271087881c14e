import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';

const OPENSSL = '/usr/bin/openssl';

/** PEM files of a throwaway PKI, made with the openssl binary for one test file. */
export interface TestPki {
  /** The CA that signed the server's and the client's certificates. */
  ca: string;
  /** Another CA that signed nothing here (to show --ca adds to the trust, not replaces it). */
  otherCa: string;
  serverCert: string;
  serverKey: string;
  clientCert: string;
  clientKey: string;
}

function openssl(args: string[], cwd: string): void {
  execFileSync(OPENSSL, args, { cwd, stdio: ['ignore', 'ignore', 'pipe'] });
}

/** Makes a CA, a server certificate for 127.0.0.1/localhost and a client certificate in `dir`. */
export async function makePki(dir: string): Promise<TestPki> {
  if (!existsSync(OPENSSL)) throw new Error(`${OPENSSL} is missing: the TLS tests need the openssl binary (apt-get install openssl)`);
  const days = ['-days', '2'];
  const ca = (name: string) => openssl(['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', `${name}.key`, '-out', `${name}.pem`, ...days, '-subj', `/CN=nowpipe test ${name}`], dir);
  ca('ca');
  ca('other-ca');
  await writeFile(join(dir, 'server.ext'), 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n');
  await writeFile(join(dir, 'client.ext'), 'extendedKeyUsage=clientAuth\n');
  for (const who of ['server', 'client']) {
    openssl(['req', '-newkey', 'rsa:2048', '-nodes', '-keyout', `${who}.key`, '-out', `${who}.csr`, '-subj', `/CN=${who === 'server' ? '127.0.0.1' : 'nowpipe-client'}`], dir);
    openssl(['x509', '-req', '-in', `${who}.csr`, '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-out', `${who}.pem`, ...days, '-extfile', `${who}.ext`], dir);
  }
  const at = (f: string) => join(dir, f);
  return { ca: at('ca.pem'), otherCa: at('other-ca.pem'), serverCert: at('server.pem'), serverKey: at('server.key'), clientCert: at('client.pem'), clientKey: at('client.key') };
}
