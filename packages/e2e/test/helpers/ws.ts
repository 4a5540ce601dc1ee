// WebSocket client helpers for e2e tests: connect through the proxy with a Host header, echo round trips.
import WebSocket from 'ws';
import { HTTP_PORT } from './swarm.js';

export interface OpenSocket {
  ws: WebSocket;
  /** Headers of the 101 response (the demo app adds x-demo-task). */
  upgradeHeaders: Record<string, string | string[] | undefined>;
  /** Sends `text` and resolves with the next message, or rejects after `timeoutMs`. */
  echo(text: string, timeoutMs?: number): Promise<string>;
  close(): void;
}

/** Opens ws://127.0.0.1:<port><path> with `Host: host`; rejects on a non-101 answer (with its status). */
export function openSocket(host: string, path: string, port = HTTP_PORT, timeoutMs = 5000): Promise<OpenSocket> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`ws://127.0.0.1:${port}${path}`, { headers: { host }, handshakeTimeout: timeoutMs, perMessageDeflate: false });
    let upgradeHeaders: OpenSocket['upgradeHeaders'] = {};
    ws.on('upgrade', (res) => {
      upgradeHeaders = res.headers;
    });
    ws.once('unexpected-response', (_req, res) => {
      ws.terminate();
      reject(new Error(`websocket upgrade refused: HTTP ${res.statusCode}`));
    });
    ws.once('error', reject);
    ws.once('open', () => {
      ws.off('error', reject);
      ws.on('error', () => undefined); // reported through echo() failures
      resolve({
        ws,
        upgradeHeaders,
        echo: (text, ms = 5000) =>
          new Promise<string>((ok, fail) => {
            if (ws.readyState !== WebSocket.OPEN) {
              fail(new Error(`socket not open (readyState ${ws.readyState})`));
              return;
            }
            const timer = setTimeout(() => {
              cleanup();
              fail(new Error(`no echo within ${ms} ms`));
            }, ms);
            const onMessage = (data: WebSocket.RawData): void => {
              cleanup();
              ok(data.toString());
            };
            const onClose = (code: number): void => {
              cleanup();
              fail(new Error(`socket closed (${code}) before the echo`));
            };
            const cleanup = (): void => {
              clearTimeout(timer);
              ws.off('message', onMessage);
              ws.off('close', onClose);
            };
            ws.on('message', onMessage);
            ws.on('close', onClose);
            ws.send(text);
          }),
        close: () => ws.terminate(),
      });
    });
  });
}
