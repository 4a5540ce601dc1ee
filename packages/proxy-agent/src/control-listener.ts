// The agent's status on the control network, for core's dashboard: the address it listens on is the one
// this task uses to reach the extension, so the API is never bound on an app network, and every request
// but /v1/health must carry the proxy token (core holds it too). The loopback listener (swarm health check) stays as it is.
import { createSocket } from 'node:dgram';
import { lookup } from 'node:dns/promises';
import type { FastifyInstance } from 'fastify';
import { PROXY_TOKEN_SECRET_PREFIX, tokenCheckHook } from '@signalbox/protocol';

/** The local address the kernel picks to reach `url`'s host: this task's address on that network. */
export async function localAddressToward(url: string): Promise<string> {
  const { hostname, port } = new URL(url);
  const { address, family } = await lookup(hostname);
  const socket = createSocket(family === 6 ? 'udp6' : 'udp4');
  try {
    // A UDP "connect" sends nothing; it only chooses the route and the source address.
    await new Promise<void>((resolve, reject) => {
      socket.once('error', reject);
      socket.connect(Number(port) || 80, address, () => resolve());
    });
    return socket.address().address;
  } finally {
    socket.close();
  }
}

/** Every route but /v1/health answers 401 without `Authorization: Bearer <token>`. */
export function requireToken(app: FastifyInstance, token: string): void {
  app.addHook('onRequest', tokenCheckHook(token, undefined, PROXY_TOKEN_SECRET_PREFIX));
}
