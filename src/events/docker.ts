import type { ShoalEvent } from './event';

/** An event in the JSON shape of Docker's `/events` stream (swarm scope). */
export interface DockerEvent {
  readonly Type: string;
  readonly Action: string;
  readonly Actor: { readonly ID: string; readonly Attributes: Readonly<Record<string, string>> };
  readonly scope: 'swarm';
  readonly time: number;
  readonly timeNano: number;
}

/** Docker's shape of an event: seconds in `time`, nanoseconds in `timeNano`; our id and index ride in the attributes. */
export function toDockerEvent(e: ShoalEvent): DockerEvent {
  const ms = Math.floor(e.time);
  return {
    Type: e.type,
    Action: e.action,
    Actor: { ID: e.objectId, Attributes: { ...e.attributes, 'shoal.event.id': e.id, 'shoal.raft.index': String(e.index) } },
    scope: 'swarm',
    time: Math.floor(ms / 1000),
    timeNano: ms * 1_000_000,
  };
}
