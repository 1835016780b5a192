import { taskStateName, type Task } from '../../types/objects';
import type { JsonObject } from './check';
import { taskSpecToDocker } from './service';
import { dockerVersion, isoTime } from './time';

/** shoal's task as Docker's Task object; states by their lower-case names. */
export function taskToDocker(t: Task): JsonObject {
  const st = t.status;
  const status: JsonObject = { Timestamp: isoTime(st.timestamp), State: taskStateName(st.state), Message: st.message, PortStatus: {} };
  if (st.err !== '') status.Err = st.err;
  if (st.containerId !== '' || st.pid !== 0 || st.exitCode !== 0) status.ContainerStatus = { ContainerID: st.containerId, PID: st.pid, ExitCode: st.exitCode };
  const out: JsonObject = {
    ID: t.id,
    Version: dockerVersion(t.meta.version),
    CreatedAt: isoTime(t.meta.createdAt),
    UpdatedAt: isoTime(t.meta.updatedAt),
    Labels: {},
    Spec: taskSpecToDocker(t.spec),
    ServiceID: t.serviceId,
    Status: status,
    DesiredState: taskStateName(t.desiredState),
  };
  if (t.slot > 0) out.Slot = t.slot;
  if (t.nodeId !== '') out.NodeID = t.nodeId;
  return out;
}
