import { Membership } from './tracker';
import type { ConfChange, ConfChangeSingle } from './types';

/** Encodes a ConfChange as the data of a confChange entry. */
export function encodeConfChange(cc: ConfChange): Uint8Array {
  return new TextEncoder().encode(JSON.stringify({ changes: cc.changes, transition: cc.transition ?? 'auto' }));
}

/** Decodes the data of a confChange entry. */
export function decodeConfChange(data: Uint8Array): ConfChange {
  return JSON.parse(new TextDecoder().decode(data)) as ConfChange;
}

/** Why a membership change cannot be applied to a configuration, or null if it can. */
export function confChangeError(m: Membership, cc: ConfChange): string | null {
  if (cc.changes.length === 0) return m.isJoint() ? null : 'not in a joint configuration: nothing to leave';
  if (m.isJoint()) return 'a joint configuration must be left before the next change';
  for (const ch of cc.changes) {
    if (!Number.isSafeInteger(ch.nodeId) || ch.nodeId <= 0) return `node id must be a positive integer, got ${ch.nodeId}`;
  }
  const next = applyChanges(m.clone(), cc.changes);
  if (next.voters.size === 0 && m.voters.size > 0) return 'removing every voter would leave the cluster without a quorum';
  return null;
}

/** True when the change must go through joint consensus (more than one voter changes, or asked). */
export function needsJoint(m: Membership, cc: ConfChange): boolean {
  if (m.voters.size === 0) return false; // bootstrap from nothing
  if (cc.transition === 'joint' || cc.transition === 'explicit') return true;
  const next = applyChanges(m.clone(), cc.changes);
  let delta = 0;
  for (const id of next.voters) if (!m.voters.has(id)) delta++;
  for (const id of m.voters) if (!next.voters.has(id)) delta++;
  return delta > 1;
}

/** Applies single changes to the incoming half of a configuration. */
function applyChanges(m: Membership, changes: readonly ConfChangeSingle[]): Membership {
  for (const ch of changes) {
    switch (ch.type) {
      case 'addVoter':
        m.learners.delete(ch.nodeId);
        m.learnersNext.delete(ch.nodeId);
        m.voters.add(ch.nodeId);
        break;
      case 'addLearner':
        m.voters.delete(ch.nodeId);
        // A voter of the outgoing half stays a voter there; it becomes a learner on leaving.
        if (m.votersOutgoing.has(ch.nodeId)) m.learnersNext.add(ch.nodeId);
        else m.learners.add(ch.nodeId);
        break;
      case 'removeNode':
        m.voters.delete(ch.nodeId);
        m.learners.delete(ch.nodeId);
        m.learnersNext.delete(ch.nodeId);
        break;
    }
  }
  return m;
}

/**
 * The configuration after a committed change: a simple change at once, a larger one by entering
 * a joint configuration (thesis §4.3), and an empty change by leaving it. Returns the
 * configuration unchanged (and the reason) when the change is invalid, the same on every node.
 */
export function applyConfChange(m: Membership, cc: ConfChange): { next: Membership; error: string | null } {
  const error = confChangeError(m, cc);
  if (error !== null) return { next: m, error };
  if (cc.changes.length === 0) {
    const next = m.clone();
    next.votersOutgoing.clear();
    for (const id of next.learnersNext) next.learners.add(id);
    next.learnersNext.clear();
    next.autoLeave = false;
    return { next, error: null };
  }
  if (!needsJoint(m, cc)) return { next: applyChanges(m.clone(), cc.changes), error: null };
  const joint = m.clone();
  joint.votersOutgoing = new Set(m.voters);
  applyChanges(joint, cc.changes);
  joint.autoLeave = cc.transition !== 'explicit';
  return { next: joint, error: null };
}
