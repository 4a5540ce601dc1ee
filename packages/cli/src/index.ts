// Library surface of the CLI, for tests and for tools that want lint/status without a process.
export { buildCli, USAGE, EXIT_OK, EXIT_FINDINGS, EXIT_USAGE } from './cli.js';
export type { Cli, CliDeps } from './cli.js';
export { lintFiles, formatFinding } from './lint.js';
export type { Finding, LintInput, LintOptions, LintResult } from './lint.js';
export { parseCompose } from './compose.js';
export type { ComposeFile, ComposeService, ComposeNetwork, LabelEntry } from './compose.js';
export { interpolate } from './interpolate.js';
export { collectStatus, formatStatus } from './status.js';
export type { Route, StatusReport } from './status.js';
export { fetchCore, execCore, CoreUnreachable, IN_CONTAINER_SCRIPT } from './core-client.js';
export type { CoreClient, CoreResponse } from './core-client.js';
export { socketDocker, dockerTarget, demux, DockerError } from './docker-socket.js';
export type { DockerAccess, ExecResult } from './docker-socket.js';
