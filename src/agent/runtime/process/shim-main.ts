/**
 * Entry point of the process runtime's supervisor: `node shim-main.js <stateDir> <cgroupRoot>`. ProcessRuntime starts it
 * detached (its own session, stdio to <stateDir>/shim.log) when no supervisor answers on <stateDir>/shim.sock, so it
 * outlives the agent and keeps the containers it parents.
 */
import { ProcessShim } from './process-shim.js';
import { createLogger } from '../../../log/logger.js';

const log = createLogger('process-shim');
const [stateDir, cgroupRoot = 'skiff-kubepods'] = process.argv.slice(2);
if (stateDir === undefined) {
  log.error('usage: shim-main <stateDir> [cgroupRoot]');
  process.exit(2);
}
// Terminal and session signals are not for it: only `shutdown` over the socket (or SIGKILL) ends the supervisor.
for (const sig of ['SIGHUP', 'SIGINT', 'SIGPIPE'] as const) process.on(sig, () => undefined);
const shim = new ProcessShim({ stateDir, cgroupRoot });
process.on('SIGTERM', () => {
  log.info('SIGTERM: supervisor exits, containers keep running (a new supervisor re-adopts them)');
  void shim.close().then(() => process.exit(0));
});
shim.listen().then(
  () => log.info('process runtime supervisor ready', { stateDir, pid: process.pid, rootMode: shim.rootMode }),
  (err: unknown) => {
    log.error('cannot listen', { err, stateDir });
    process.exit(1);
  },
);
