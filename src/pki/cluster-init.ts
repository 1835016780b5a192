import type { Clock } from '../types/clock';
import type { IssuedCredentials } from './ca-client';
import { createCsr, verifyCsr } from './csr';
import { newId } from './ids';
import { JoinTokens } from './join-token';
import { generateKeyPair } from './keys';
import { checkNodeMaterial } from './node-identity';
import type { NodeRole } from './node-role';
import { nodeCertValidity, RootCA, type Validity } from './root-ca';

/** Everything `swarm init` creates for security: the CA, both join tokens and the first manager's credentials. */
export interface ClusterPki {
  rootCa: RootCA;
  tokens: JoinTokens;
  firstManager: IssuedCredentials;
}

/** Issues credentials on a manager itself (the first manager at init, tests); the key is made here too. */
export async function issueLocal(rootCa: RootCA, subject: { nodeId?: string; role: NodeRole }, validity: Validity): Promise<IssuedCredentials> {
  const keys = await generateKeyPair();
  // Through a CSR like any other node, so the local path exercises the same checks.
  const publicKeyPem = verifyCsr(createCsr(keys));
  const nodeId = subject.nodeId ?? newId();
  const certPem = rootCa.issue(publicKeyPem, { nodeId, role: subject.role, clusterId: rootCa.clusterId }, validity);
  const material = { certPem, keyPem: keys.privateKeyPem, caCertPem: rootCa.certPem };
  return { material, info: checkNodeMaterial(material) };
}

/** Creates a new cluster's PKI at `swarm init`: a 20-year root CA, fresh join tokens, a manager certificate. */
export async function initClusterPki(opts: { clock: Clock; certValidityMs?: number }): Promise<ClusterPki> {
  const rootCa = await RootCA.create(newId(), opts.clock.now());
  const firstManager = await issueLocal(rootCa, { role: 'manager' }, nodeCertValidity(opts.clock.now(), opts.certValidityMs));
  return { rootCa, tokens: new JoinTokens(rootCa.certPem), firstManager };
}
