// The checks of one config.toml key that its JSON Schema cannot express (addresses, durations, signals,
// constraints, the directive policy). Each key declaration in config-schema.ts names its check; config.ts
// runs it on every value that passed the schema and docs/configuration.md lists it, so a rule is written
// once. Rules that span keys are in config-rules.ts.
import { ERR_CONFIG_SEMANTIC } from './config-codes.js';
import { ERR_DIRECTIVE_FORBIDDEN, forbiddenDirectiveList, forbiddenDirectives } from './directive-policy.js';
import { durationMs } from './duration.js';

/** The codes a check beyond the schema reports. */
export type ConfigCheckCode = typeof ERR_CONFIG_SEMANTIC | typeof ERR_DIRECTIVE_FORBIDDEN;

/** One problem with a key's value; `index` names the list item at fault. */
export interface ConfigProblem {
  /** Completes "<key> …", e.g. "must be longer than 0". */
  message: string;
  index?: number;
}

/** A rule of one key, checked after the schema accepted its value. */
export interface ConfigKeyCheck<V> {
  /** The rule for docs/configuration.md, one sentence. */
  rule: string;
  code: ConfigCheckCode;
  problems(value: V): ConfigProblem[];
}

// ---------------------------------------------------------------------------------------------------------
// Checks of one key

const HOST = String.raw`(?:\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9_.-]+)`;
const LISTEN_ADDR = new RegExp(`^(?:${HOST})?:(\\d{1,5})$`);
const TCP_URL = new RegExp(`^tcp://${HOST}:(\\d{1,5})$`);
const UNIX_URL = /^unix:\/\/\/\S+$/;
const CONSTRAINT = /^\s*[A-Za-z0-9_.-]+\s*(?:==|!=)\s*\S.*$/;
const PLACEMENT = /^spread=[A-Za-z0-9_.-]+$/;

function validPort(digits: string | undefined): boolean {
  const n = Number(digits);
  return Number.isInteger(n) && n >= 1 && n <= 65535;
}

function isHttpUrl(s: string): boolean {
  try {
    const u = new URL(s);
    return (u.protocol === 'http:' || u.protocol === 'https:') && u.hostname !== '';
  } catch {
    return false;
  }
}

/** A check of a string value: one message when `valid` fails. */
function stringCheck(rule: string, valid: (v: string) => boolean, message: string): ConfigKeyCheck<string> {
  return { rule, code: ERR_CONFIG_SEMANTIC, problems: (v) => (valid(v) ? [] : [{ message }]) };
}

/** A check of each item of a list. */
function itemCheck(rule: string, code: ConfigCheckCode, problem: (item: string) => string | undefined): ConfigKeyCheck<readonly string[]> {
  return {
    rule,
    code,
    problems: (items) =>
      items.flatMap((item, index) => {
        const message = problem(item);
        return message === undefined ? [] : [{ message, index }];
      }),
  };
}

export const LISTEN_ADDRESS = stringCheck(
  'Must be [host]:port with a port from 1 to 65535.',
  (v) => validPort(LISTEN_ADDR.exec(v)?.[1]),
  'must be [host]:port with a port from 1 to 65535, e.g. ":8080"',
);

export const DOCKER_ENDPOINT = stringCheck('Must be unix:///path or tcp://host:port.', (v) => UNIX_URL.test(v) || validPort(TCP_URL.exec(v)?.[1]), 'must be unix:///path/to/socket or tcp://host:port');

export const OPTIONAL_HTTP_URL = stringCheck(
  'Must be empty or an http:// or https:// URL.',
  (v) => v === '' || isHttpUrl(v),
  'must be empty or an http:// or https:// URL, e.g. http://signalbox-core:8080',
);

/** A Go duration (3s, 500ms, 1m30s); never negative, and above 0 when `positive`. */
export function goDuration(positive: boolean): ConfigKeyCheck<string> {
  return {
    rule: `Must be a Go duration (3s, 500ms, 1m30s)${positive ? ' above 0' : ', not negative'}.`,
    code: ERR_CONFIG_SEMANTIC,
    problems(v) {
      const ms = durationMs(v);
      if (ms === undefined) return [{ message: 'must be a Go duration such as 3s, 500ms or 1m30s' }];
      if (ms < 0 || (positive && ms === 0)) return [{ message: positive ? 'must be longer than 0' : 'must not be negative' }];
      return [];
    },
  };
}
export const DURATION = goDuration(false);
export const POSITIVE_DURATION = goDuration(true);

/** Signals ProxyStopSignal accepts. */
export const PROXY_STOP_SIGNALS: readonly string[] = ['SIGQUIT', 'SIGTERM', 'SIGINT', 'SIGHUP', 'SIGUSR1', 'SIGUSR2', 'SIGKILL'];

export const STOP_SIGNAL = stringCheck(`Must be one of ${PROXY_STOP_SIGNALS.join(', ')}.`, (v) => PROXY_STOP_SIGNALS.includes(v), `is not a known signal; use one of ${PROXY_STOP_SIGNALS.join(', ')}`);

export const PLACEMENT_CONSTRAINTS = itemCheck('Each must be "<attribute>==<value>" or "<attribute>!=<value>".', ERR_CONFIG_SEMANTIC, (c) =>
  CONSTRAINT.test(c) ? undefined : 'must be "<attribute>==<value>" or "<attribute>!=<value>", e.g. node.role==manager',
);

export const PLACEMENT_PREFERENCES = itemCheck('Each must be "spread=<label path>".', ERR_CONFIG_SEMANTIC, (p) =>
  PLACEMENT.test(p) ? undefined : 'must be "spread=<label path>", e.g. spread=node.labels.zone',
);

/** The one directive policy (directive-policy.ts): the extension refuses the same list in what it renders. */
export const RAW_OPTIONS = itemCheck(
  `Lines may not use ${forbiddenDirectiveList(' or ')} directives: the extension refuses the same list in every config it renders (one policy, code \`ERR_DIRECTIVE_FORBIDDEN\`).`,
  ERR_DIRECTIVE_FORBIDDEN,
  (line) => {
    const bad = forbiddenDirectives(line)[0];
    return bad ? `uses ${bad.name}: directive not allowed in raw options` : undefined;
  },
);
