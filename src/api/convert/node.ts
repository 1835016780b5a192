import type { Node, NodeSpec } from '../../types/objects';
import { InvalidArgumentError } from '../../types/errors';
import { optEnum, optObj, optStr, optStrMap, type JsonObject } from './check';
import { dockerVersion, isoTime } from './time';

/** Docker's architecture names as `uname -m` gives them (Docker reports x86_64, aarch64). */
function capitalized(s: string): string {
  return s.length === 0 ? s : s[0].toUpperCase() + s.slice(1);
}

/** The engine labels a node's agent reports (`shoald --label`), when its description carries them. */
export function engineLabelsOf(n: Node): Readonly<Record<string, string>> {
  return n.description.labels ?? {};
}

/**
 * The address part of host:port (`[v6]:port` too): Docker's Node.Status.Addr is the node's IP
 * alone, while shoal keeps the agent's port with it (the managers reach its logs service there).
 */
export function addrHost(addr: string): string {
  const v6 = /^\[([^\]]+)\]:\d+$/.exec(addr);
  if (v6 !== null) return v6[1];
  const m = /^([^:]+):\d+$/.exec(addr);
  return m === null ? addr : m[1];
}

/** shoal's node as Docker's Node object; `engine.version` is the shoald version reported for it. */
export function nodeToDocker(n: Node, engine: { version: string } = { version: '' }): JsonObject {
  const out: JsonObject = {
    ID: n.id,
    Version: dockerVersion(n.meta.version),
    CreatedAt: isoTime(n.meta.createdAt),
    UpdatedAt: isoTime(n.meta.updatedAt),
    Spec: { Name: n.spec.name, Labels: { ...n.spec.labels }, Role: n.spec.role, Availability: n.spec.availability },
    Description: {
      Hostname: n.description.hostname,
      Platform: { Architecture: n.description.platform.architecture, OS: n.description.platform.os },
      Resources: { NanoCPUs: n.description.resources.nanoCPUs, MemoryBytes: n.description.resources.memoryBytes },
      Engine: { EngineVersion: engine.version, Labels: { ...engineLabelsOf(n) } },
    },
    Status: { State: n.status.state, Addr: addrHost(n.status.addr), ...(n.status.message !== '' ? { Message: n.status.message } : {}) },
  };
  if (n.managerStatus !== undefined) {
    out.ManagerStatus = { Leader: n.managerStatus.leader, Reachability: n.managerStatus.reachability, Addr: n.managerStatus.addr };
  }
  return out;
}

/** The node's status as `docker node ls` prints it ("Ready"). */
export function nodeStateTitle(n: Node): string {
  return capitalized(n.status.state);
}

/** A Docker NodeSpec (`POST /nodes/{id}/update`) as a shoal spec; Docker replaces the whole spec. */
export function nodeSpecFromDocker(body: unknown): Partial<NodeSpec> {
  const s = optObj(body, 'Spec');
  if (s === undefined) throw new InvalidArgumentError(`Spec: expected a node spec object, got ${JSON.stringify(body)}`);
  const out: { -readonly [K in keyof NodeSpec]?: NodeSpec[K] } = {};
  const name = optStr(s.Name, 'Spec.Name');
  const labels = optStrMap(s.Labels, 'Spec.Labels');
  const role = optEnum(s.Role, 'Spec.Role', ['worker', 'manager'] as const);
  const availability = optEnum(s.Availability, 'Spec.Availability', ['active', 'pause', 'drain'] as const);
  if (name !== undefined) out.name = name;
  out.labels = labels ?? {};
  if (role !== undefined) out.role = role;
  if (availability !== undefined) out.availability = availability;
  return out;
}
