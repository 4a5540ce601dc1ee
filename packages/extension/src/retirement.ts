// The old task of the extension's start-first roll is named by core in the model
// (retiredExtensionTasks) once its replacement is healthy. It stops serving then, rather than when swarm
// stops its container seconds later: the proxies long-polling it reconnect to the new task, which can
// read the certificates the roll mounted.
import type { ClusterModel } from '@signalbox/model';

/** This task (SIGNALBOX_TASK_ID; '' when unset) is one core names as retired. */
export function isRetired(model: Pick<ClusterModel, 'retiredExtensionTasks'>, taskId: string): boolean {
  return taskId !== '' && (model.retiredExtensionTasks ?? []).includes(taskId);
}
