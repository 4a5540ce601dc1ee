// TLS helpers for e2e tests: Docker secrets holding certificates (made by @signalbox/test-support),
// and HTTPS / raw TLS clients aimed at the proxy's published TLS port with a chosen SNI.
import https from 'node:https';
import tls from 'node:tls';
import { docker } from './swarm.js';

export const HTTPS_PORT = Number(process.env.SIGNALBOX_HTTPS_PORT ?? 8443);

/** Creates (or replaces, when unused) a Docker secret; returns its id. */
export async function createSecret(name: string, data: string): Promise<string> {
  await removeSecret(name);
  const s = (await docker.createSecret({
    Name: name,
    Data: Buffer.from(data, 'utf8').toString('base64'),
    Labels: { 'com.signalbox.test': 'e2e' },
  } as never)) as { id: string };
  return s.id;
}

/** Removes a secret; true when it is gone (false while a service still uses it). */
export async function removeSecret(name: string): Promise<boolean> {
  try {
    await docker.getSecret(name).remove();
    return true;
  } catch (e) {
    const code = (e as { statusCode?: number }).statusCode;
    if (code === 404) return true;
    if (code === 400 || code === 409) return false; // in use
    throw e;
  }
}

export interface TlsPeer {
  subjectCN: string | undefined;
  subjectAltName: string | undefined;
  fingerprint256: string;
}

function peerOf(socket: tls.TLSSocket): TlsPeer {
  const c = socket.getPeerCertificate();
  const cn = c.subject?.CN;
  return { subjectCN: Array.isArray(cn) ? cn[0] : cn, subjectAltName: c.subjectaltname, fingerprint256: c.fingerprint256 };
}

/** A bare TLS handshake with SNI `servername`; resolves with the peer certificate, rejects when refused. */
export function tlsHandshake(servername: string, port = HTTPS_PORT): Promise<TlsPeer> {
  return new Promise((resolve, reject) => {
    const socket = tls.connect({ host: '127.0.0.1', port, servername, rejectUnauthorized: false, timeout: 5000 }, () => {
      const peer = peerOf(socket);
      socket.end();
      resolve(peer);
    });
    socket.on('timeout', () => socket.destroy(new Error('TLS handshake timed out')));
    socket.on('error', reject);
  });
}

export interface HttpsResult {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
  peer: TlsPeer;
}

/** GET over TLS to the proxy with SNI and Host = `host` (certificate not verified: it is self-signed). */
export function httpsGet(host: string, reqPath = '/', headers: Record<string, string> = {}, port = HTTPS_PORT): Promise<HttpsResult> {
  return new Promise((resolve, reject) => {
    const req = https.request(
      { host: '127.0.0.1', port, servername: host, path: reqPath, method: 'GET', headers: { host, ...headers }, agent: false, rejectUnauthorized: false, timeout: 5000 },
      (res) => {
        const peer = peerOf(res.socket as tls.TLSSocket);
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (body += c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body, peer }));
      },
    );
    req.on('timeout', () => req.destroy(new Error('request timed out')));
    req.on('error', reject);
    req.end();
  });
}
