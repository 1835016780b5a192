import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { InvalidArgumentError } from '../types/errors';
import { toBase36 } from './ids';
import { nodeRoles, type NodeRole } from './node-role';
import { certificateDigest } from './root-ca';

const prefix = 'SWMTKN-1-';
/** base36 width of a SHA-256 digest (36^50 > 2^256). */
const digestChars = 50;
/** Bytes of secret in a token: 128 bits, at least what the issue asks. */
const secretBytes = 16;
/** base36 width of the secret (36^25 > 2^128). */
const secretChars = 25;
/** Longest string we treat as a token at all; anything longer is refused before hashing. */
export const joinTokenCharsMax = 256;

const tokenPattern = new RegExp(`^${prefix}([0-9a-z]{${digestChars}})-([0-9a-z]{${secretChars}})$`);

/** The two parts of a join token. */
export interface ParsedJoinToken {
  /** base36 SHA-256 of the root CA certificate the joining node must see. */
  caDigest: string;
  secret: string;
}

/** The base36 digest of a CA certificate, as it appears in a join token. */
export function caDigestOf(caCertPem: string): string {
  return toBase36(certificateDigest(caCertPem), digestChars);
}

/** A fresh token `SWMTKN-1-<CA digest>-<128-bit secret>` for the CA. */
export function newJoinToken(caCertPem: string): string {
  return `${prefix}${caDigestOf(caCertPem)}-${toBase36(randomBytes(secretBytes), secretChars)}`;
}

/** Splits a token into its parts; throws InvalidArgumentError (without echoing the secret) if malformed. */
export function parseJoinToken(token: string): ParsedJoinToken {
  const m = token.length <= joinTokenCharsMax ? tokenPattern.exec(token) : null;
  if (m === null) {
    throw new InvalidArgumentError(`join token is malformed: expected ${prefix}<${digestChars} base36>-<${secretChars} base36>`, {
      hint: 'copy the whole token printed by `shoal swarm join-token worker|manager`',
    });
  }
  return { caDigest: m[1], secret: m[2] };
}

// Hash first so both sides have the same length whatever the caller sent; then compare in constant time.
function sameSecret(a: string, b: string): boolean {
  return timingSafeEqual(createHash('sha256').update(a).digest(), createHash('sha256').update(b).digest());
}

/** The cluster's current worker and manager join tokens; rotating one makes the old one useless for new joins. */
export class JoinTokens {
  private readonly tokens: Record<NodeRole, string>;

  constructor(private readonly caCertPem: string, tokens?: Record<NodeRole, string>) {
    this.tokens = tokens ?? { manager: newJoinToken(caCertPem), worker: newJoinToken(caCertPem) };
    for (const role of nodeRoles) {
      if (parseJoinToken(this.tokens[role]).caDigest !== caDigestOf(caCertPem)) {
        throw new InvalidArgumentError(`the ${role} join token does not pin this cluster's root CA`);
      }
    }
  }

  /** The token that joins a node with this role. */
  current(role: NodeRole): string {
    return this.tokens[role];
  }

  /** Replaces the token for role with a new random one and returns it; joined nodes are unaffected. */
  rotate(role: NodeRole): string {
    this.tokens[role] = newJoinToken(this.caCertPem);
    return this.tokens[role];
  }

  /** The role a presented token grants, or undefined; every stored token is compared, each in constant time. */
  roleOf(token: string): NodeRole | undefined {
    if (token.length > joinTokenCharsMax) return undefined;
    let found: NodeRole | undefined;
    for (const role of nodeRoles) {
      if (sameSecret(token, this.tokens[role])) found = role;
    }
    return found;
  }
}
