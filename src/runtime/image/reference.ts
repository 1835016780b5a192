import { InvalidArgumentError } from '../../types/errors';
import { isDigest, type Digest } from './digest';

/** A parsed image reference, `[registry/]repository[:tag][@digest]`. */
export interface ImageReference {
  /** Registry host[:port]; `docker.io` when none is given, as Docker does. */
  registry: string;
  /** Repository path as the registry knows it (`library/busybox` on Docker Hub). */
  repository: string;
  tag: string;
  digest: Digest | undefined;
  /** The familiar `name:tag` form under which the store keeps the image (`busybox:latest`). */
  name: string;
}

export const defaultRegistry = 'docker.io';
const hubAliases = new Set(['docker.io', 'index.docker.io', 'registry-1.docker.io']);
const componentRe = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/;
const tagRe = /^[\w][\w.-]{0,127}$/;
const domainRe = /^(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)(?:\.[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)*(?::\d{1,5})?$|^\[[0-9a-fA-F:]+\](?::\d{1,5})?$/;

/**
 * Parses and normalizes a reference the way Docker does: `busybox` is `busybox:latest`,
 * and `docker.io/library/busybox` and `library/busybox` are the same image as `busybox`.
 */
export function parseReference(input: string): ImageReference {
  const bad = (why: string): InvalidArgumentError =>
    new InvalidArgumentError(`invalid image reference ${JSON.stringify(input)}: ${why}`, { hint: 'use [registry/]name[:tag][@sha256:digest], e.g. busybox:latest' });
  if (input.length === 0 || input.length > 512) throw bad('empty or longer than 512 characters');
  let rest = input;
  let digest: Digest | undefined;
  const at = rest.indexOf('@');
  if (at >= 0) {
    const d = rest.slice(at + 1);
    if (!isDigest(d)) throw bad('the digest is not sha256:<64 hex digits>');
    digest = d;
    rest = rest.slice(0, at);
  }
  let tag: string | undefined;
  const colon = rest.lastIndexOf(':');
  if (colon > rest.lastIndexOf('/')) {
    tag = rest.slice(colon + 1);
    rest = rest.slice(0, colon);
    if (!tagRe.test(tag)) throw bad(`tag ${JSON.stringify(tag)} is not valid`);
  }
  const parts = rest.split('/');
  let registry = defaultRegistry;
  const first = parts[0];
  if (parts.length > 1 && (first.includes('.') || first.includes(':') || first === 'localhost' || first.startsWith('['))) {
    if (!domainRe.test(first)) throw bad(`registry ${JSON.stringify(first)} is not a host[:port]`);
    registry = hubAliases.has(first.toLowerCase()) ? defaultRegistry : first;
    parts.shift();
  }
  if (parts.length === 0 || parts.some((p) => !componentRe.test(p))) throw bad('the name must be lowercase letters, digits and separators');
  if (registry === defaultRegistry && parts.length === 1) parts.unshift('library');
  const repository = parts.join('/');
  const effectiveTag = tag ?? 'latest';
  return { registry, repository, tag: effectiveTag, digest, name: `${familiar(registry, repository)}:${effectiveTag}` };
}

/** The short name Docker shows: `busybox` for `docker.io/library/busybox`, `me/app` for Hub users. */
function familiar(registry: string, repository: string): string {
  if (registry !== defaultRegistry) return `${registry}/${repository}`;
  return repository.startsWith('library/') && repository.split('/').length === 2 ? repository.slice('library/'.length) : repository;
}

/** The store key for a reference string. */
export function normalizeReference(input: string): string {
  return parseReference(input).name;
}
