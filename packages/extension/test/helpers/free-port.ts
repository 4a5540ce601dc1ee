// Loopback ports for tests that start real listeners (nginx, pebble, the extension's API).
import { createServer } from 'node:net';

const handedOut = new Set<number>();

/**
 * A loopback port nothing listens on, never one this process was given before: the kernel may hand the
 * same ephemeral port to two binds in a row once the first is closed (seen: TargetPort = TargetSSLPort).
 */
export async function freePort(): Promise<number> {
  for (;;) {
    const port = await new Promise<number>((resolve, reject) => {
      const srv = createServer();
      srv.once('error', reject);
      srv.listen(0, '127.0.0.1', () => {
        const { port } = srv.address() as { port: number };
        srv.close(() => resolve(port));
      });
    });
    if (!handedOut.has(port)) {
      handedOut.add(port);
      return port;
    }
  }
}
