import { eventsView, mainView, userDirective } from '../../src/render/main-view.js';
import { tuning } from './fixtures.js';

describe('userDirective', () => {
  it('quotes user and group and rejects more words', () => {
    expect(userDirective(' www-data  www-data ')).toBe('"www-data" "www-data"');
    expect(userDirective('')).toBeNull();
    expect(() => userDirective('a b c')).toThrow('invalid User');
  });
});

describe('mainView', () => {
  it('maps 0 to auto and to no limit, /dev/stderr to stderr, and empty paths to none', () => {
    const view = mainView(tuning({ WorkerProcesses: 0, RLimitNoFile: 0, ErrorLogPath: ' /dev/stderr ', PidPath: '', WorkerShutdownTimeout: '', GlobalOptions: ['a;', ' '] }), ['"/m.so"']);
    expect(view).toEqual({
      loadModules: ['"/m.so"'],
      user: '"www-data"',
      workerProcesses: 'auto',
      workerRlimitNofile: null,
      pid: null,
      errorLog: 'stderr',
      workerShutdownTimeout: null,
      options: ['a;'],
    });
  });

  it('rejects a negative or fractional worker count', () => {
    expect(() => mainView(tuning({ WorkerProcesses: -1 }), [])).toThrow('invalid WorkerProcesses: -1');
    expect(() => mainView(tuning({ RLimitNoFile: 1.5 }), [])).toThrow('invalid RLimitNoFile: 1.5');
    expect(mainView(tuning({ WorkerProcesses: 4, ErrorLogPath: '/var/log/e.log' }), [])).toMatchObject({ workerProcesses: '4', errorLog: '"/var/log/e.log"' });
  });

  it('takes worker connections from MaxConnections', () => {
    expect(eventsView(tuning({ MaxConnections: 4096 }))).toEqual({ workerConnections: 4096 });
    expect(() => eventsView(tuning({ MaxConnections: 0 }))).toThrow('MaxConnections');
  });
});
