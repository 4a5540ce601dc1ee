// Label keys and values never reach the operator's terminal as control sequences (issue 10): a key
// carrying ESC ] (OSC) or CSI sequences, CR, BEL or a bidi override is printed as \u escapes.
import { formatStatus } from '../src/index.js';
import { run } from './helpers.js';

const ESC = '\u001b';
const NASTY = `com.docker.lb.hosts${ESC}]0;pwned${'\u0007'}${ESC}[2J\r\u202e`;
// eslint-disable-next-line no-control-regex -- finding control characters is the point
const hasControl = (s: string) => /[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/.test(s);

test('signalbox lint prints a label key with escape sequences as escapes', async () => {
  const text = `services:\n  web:\n    deploy:\n      labels:\n        ${JSON.stringify(`${NASTY}`)}: "a.example.com"\n        com.docker.lb.port: "80"\n`;
  const r = await run(['lint', 's.yml'], { files: { 's.yml': text } });
  expect(r.stdout).toContain('\\u001b]0;pwned\\u0007\\u001b[2J\\u000d\\u202e');
  expect(hasControl(r.stdout)).toBe(false);
});

test('signalbox status: keys, names and hosts from labels are escaped in every line', () => {
  const out = formatStatus({
    routes: [{ extension: 'default', cluster: '', kind: 'http', host: `x${ESC}[31m.test`, path: '/', tls: false, services: [`web${ESC}[0m`], servers: 1 }],
    services: [
      {
        id: '1',
        name: `bad${ESC}c`,
        cluster: '',
        status: 'disabled',
        hosts: [],
        servers: 0,
        errors: [{ code: 'ERR_LABEL_UNKNOWN', severity: 'error', key: NASTY, message: `unknown label ${NASTY}` }],
        warnings: [],
      },
    ],
  });
  expect(hasControl(out)).toBe(false);
  expect(out).toContain('com.docker.lb.hosts\\u001b]0;pwned\\u0007');
  expect(out).toContain('bad\\u001bc');
});
