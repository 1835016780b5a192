import type { ManagerStatus } from '../types/objects';
import type { LogMember } from './replicated-log';
import type { StoreAction } from './store/actions';
import type { MemoryStore } from './store/memory-store';

/**
 * What the leader writes so each manager Node shows who leads and who answers (`node ls`'s
 * MANAGER STATUS): leader true only for the leader itself, reachability from the Raft members'
 * recent acknowledgements, 'unreachable' for a raft id that is no longer a member. A node that was
 * demoted and has left the Raft group loses its managerStatus. One transaction, so a leader
 * change shows as one change of both nodes. Pure: (store, Raft view) -> actions.
 */
export function managerStatusActions(view: MemoryStore, selfRaftId: number, members: readonly LogMember[]): StoreAction[] {
  const byId = new Map(members.map((m) => [m.raftId, m]));
  const out: StoreAction[] = [];
  for (const n of view.nodes()) {
    const ms = n.managerStatus;
    if (ms === undefined || ms.raftId === 0) continue;
    const member = byId.get(ms.raftId);
    if (member === undefined && n.spec.role === 'worker') {
      const { managerStatus: _dropped, ...rest } = n;
      out.push({ op: 'update', target: { kind: 'node', object: rest } });
      continue;
    }
    const leader = ms.raftId === selfRaftId;
    const reachability: ManagerStatus['reachability'] = leader || member?.reachable === true ? 'reachable' : 'unreachable';
    if (ms.leader === leader && ms.reachability === reachability) continue;
    out.push({ op: 'patch', kind: 'node', id: n.id, expectedVersion: n.meta.version, fields: { managerStatus: { ...ms, leader, reachability } } });
  }
  return out;
}
