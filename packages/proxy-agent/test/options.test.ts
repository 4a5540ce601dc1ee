import { loadOptions, OptionsError } from '../src/options.js';
import { builtinConfig } from '../src/builtin.js';

describe('loadOptions', () => {
  it('has Interlock-compatible defaults and is frozen', () => {
    const o = loadOptions({});
    expect(o).toEqual({
      configPath: '/etc/nginx/nginx.conf',
      bootstrapPath: '/run/signalbox/bootstrap.conf',
      bootstrapConfigName: '',
      extensionUrl: undefined,
      pollWaitSeconds: 30,
      serviceName: '',
      agentHost: '127.0.0.1',
      agentPort: 8082,
      backendWaitMs: 10000,
      httpPort: 80,
      httpsPort: undefined,
      nginxBin: 'nginx',
      pidPath: '/var/run/proxy.pid',
      testTimeoutMs: 60000,
      tlsFrontDir: '/run/signalbox/tls-front',
      tlsFrontPort: 8084,
      taskId: '',
      maxDrainingGenerations: 0,
      logLevel: 'info',
      edgeUpstream: undefined,
      edgeResolver: '127.0.0.11',
      edgeHideInfoHeaders: false,
      edgePool: true,
      ndkModulePath: '/usr/lib/nginx/modules/ndk_http_module.so',
      luaModulePath: '/usr/lib/nginx/modules/ngx_http_lua_module.so',
      edgePeersPort: 8083,
      streamModulePath: '/usr/lib/nginx/modules/ngx_stream_module.so',
      drainMs: 0,
      lameDuckMs: 0,
      stateDir: '',
      tokenFile: '/run/secrets/signalbox-proxy-token',
      accessLogRelayPort: 5140,
    });
    expect(Object.isFrozen(o)).toBe(true);
  });

  it('SIGNALBOX_SESSION_HOLD_AFTER_MS: unset = no limit of its own; a whole number of ms otherwise', () => {
    expect(loadOptions({}).sessionHoldAfterMs).toBeUndefined();
    expect(loadOptions({ SIGNALBOX_SESSION_HOLD_AFTER_MS: '8000' }).sessionHoldAfterMs).toBe(8000);
    expect(() => loadOptions({ SIGNALBOX_SESSION_HOLD_AFTER_MS: '8s' })).toThrow(OptionsError);
  });

  it('reads the proxy token file; a task spec from before the proxy token names the API token file instead', () => {
    expect(loadOptions({ SIGNALBOX_PROXY_TOKEN_FILE: '/run/secrets/p' }).tokenFile).toBe('/run/secrets/p');
    expect(loadOptions({ SIGNALBOX_API_TOKEN_FILE: '/run/secrets/a' }).tokenFile).toBe('/run/secrets/a');
    expect(loadOptions({ SIGNALBOX_API_TOKEN_FILE: '/run/secrets/a', SIGNALBOX_PROXY_TOKEN_FILE: '/run/secrets/p' }).tokenFile).toBe('/run/secrets/p');
  });

  it('reads every variable', () => {
    const o = loadOptions({
      SIGNALBOX_CONFIG_PATH: '/x/nginx.conf',
      SIGNALBOX_BOOTSTRAP_CONFIG: '/y/b.conf',
      SIGNALBOX_BOOTSTRAP_CONFIG_NAME: 'signalbox-nginx-3',
      SIGNALBOX_EXTENSION_URL: 'http://signalbox-extension:8081/',
      SIGNALBOX_POLL_WAIT: '5',
      SIGNALBOX_AGENT_HOST: '127.0.0.1',
      SIGNALBOX_AGENT_PORT: '18082',
      SIGNALBOX_HTTP_PORT: '8080',
      SIGNALBOX_HTTPS_PORT: '8443',
      SIGNALBOX_NGINX_BIN: '/usr/sbin/nginx',
      SIGNALBOX_NGINX_PID_PATH: '/tmp/p.pid',
      SIGNALBOX_NGINX_TEST_TIMEOUT_MS: '2000',
      SIGNALBOX_MAX_DRAINING_GENERATIONS: '3',
      SIGNALBOX_ACCESS_LOG_RELAY_PORT: '0',
      SIGNALBOX_LOG_LEVEL: 'debug',
      SIGNALBOX_TASK_ID: 'k1xx3sv4a9qzt6ojl2z0vykp8',
    });
    expect(o).toMatchObject({
      taskId: 'k1xx3sv4a9qzt6ojl2z0vykp8',
      configPath: '/x/nginx.conf',
      extensionUrl: 'http://signalbox-extension:8081',
      pollWaitSeconds: 5,
      agentPort: 18082,
      httpPort: 8080,
      httpsPort: 8443,
      testTimeoutMs: 2000,
      maxDrainingGenerations: 3,
      accessLogRelayPort: 0,
      logLevel: 'debug',
    });
  });

  it.each([
    [{ SIGNALBOX_AGENT_PORT: 'eighty' }, /SIGNALBOX_AGENT_PORT: "eighty" is not a whole number/],
    [{ SIGNALBOX_HTTP_PORT: '70000' }, /SIGNALBOX_HTTP_PORT: 70000 is outside 1..65535/],
    [{ SIGNALBOX_CONFIG_PATH: 'nginx.conf' }, /SIGNALBOX_CONFIG_PATH: "nginx.conf" must be an absolute path/],
    [{ SIGNALBOX_EXTENSION_URL: 'signalbox-extension:8081' }, /SIGNALBOX_EXTENSION_URL/],
    [{ SIGNALBOX_EXTENSION_URL: 'ftp://x' }, /must be an http/],
    [{ SIGNALBOX_LOG_LEVEL: 'loud' }, /SIGNALBOX_LOG_LEVEL/],
    [{ SIGNALBOX_BOOTSTRAP_CONFIG: '/etc/nginx/nginx.conf' }, /must differ/],
    // An unexpanded template (the service was made by hand, not by core) is a clear error.
    [{ SIGNALBOX_TASK_ID: '{{.Task.ID}}' }, /SIGNALBOX_TASK_ID: "\{\{\.Task\.ID\}\}" is not a swarm task ID/],
    [{ SIGNALBOX_SERVICE_NAME: '{{.Service.Name}}' }, /SIGNALBOX_SERVICE_NAME: "\{\{\.Service\.Name\}\}" is not a swarm service name/],
    [{ SIGNALBOX_BACKEND_WAIT_MS: '-1' }, /SIGNALBOX_BACKEND_WAIT_MS/],
  ])('rejects %j', (env, message) => {
    expect(() => loadOptions(env)).toThrow(OptionsError);
    expect(() => loadOptions(env)).toThrow(message);
  });
});

describe('builtinConfig', () => {
  it('answers 503 on the HTTP port and 200 on /signalbox-health', () => {
    const text = builtinConfig({ httpPort: 8080, pidPath: '/tmp/p.pid' });
    expect(text).toContain('listen 8080 default_server;');
    expect(text).toContain('location = /signalbox-health');
    expect(text).toContain('return 503');
    expect(text).toContain('pid /tmp/p.pid;');
    expect(text).not.toContain('ssl');
  });

  it('rejects TLS handshakes on the HTTPS port when one is given', () => {
    expect(builtinConfig({ httpPort: 80, httpsPort: 443, pidPath: '/p' })).toContain('listen 443 ssl default_server;');
  });
});
