import { InvalidArgumentError } from '../errors';

/** A placement constraint such as `node.labels.zone==b`, parsed. */
export interface Constraint {
  readonly key: string;
  readonly op: '==' | '!=';
  readonly value: string;
  /** The text it came from, for messages. */
  readonly text: string;
}

const KEYS = /^(node\.id|node\.hostname|node\.role|node\.labels\.[^\s=!]+|node\.platform\.(os|arch))$/;

/** Parses `key==value` or `key!=value`; the key is node.id, node.hostname, node.role, node.labels.X or node.platform.os|arch. */
export function parseConstraint(text: string): Constraint {
  if (typeof text !== 'string') throw new InvalidArgumentError('a constraint must be a string');
  const m = /^\s*([^=!\s]+)\s*(==|!=)\s*(\S.*?)\s*$/.exec(text);
  if (m === null) throw new InvalidArgumentError('must be <key>==<value> or <key>!=<value>');
  const key = m[1];
  if (!KEYS.test(key)) throw new InvalidArgumentError(`has unknown key ${key} (node.id, node.hostname, node.role, node.labels.<key>, node.platform.os, node.platform.arch)`);
  return { key, op: m[2] as '==' | '!=', value: m[3], text: `${key}${m[2]}${m[3]}` };
}
