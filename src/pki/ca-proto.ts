import { existsSync } from 'node:fs';
import * as path from 'node:path';
import { loadPackageDefinition, type ServiceClientConstructor, type ServiceDefinition } from '@grpc/grpc-js';
import { loadSync } from '@grpc/proto-loader';

/** GetRootCACertificate response. */
export interface GetRootCaCertificateResponse {
  certificatePem: string;
}
/** Join request. */
export interface JoinRequest {
  token: string;
  csrPem: string;
  requestedRole: string;
}
/** Join response. */
export interface JoinResponse {
  nodeId: string;
  certificatePem: string;
  rootCaCertificatePem: string;
}
/** Renew request. */
export interface RenewRequest {
  csrPem: string;
}
/** Renew response. */
export interface RenewResponse {
  certificatePem: string;
  rootCaCertificatePem: string;
}

/** Fully-qualified name of the CA service, as the authorization policy lists it. */
export const caServiceName = 'shoal.ca.CA';

// proto/ sits at the package root; from src/pki or dist/src/pki, walk up (a few levels at most) to find it.
function findProto(file: string): string {
  let dir = __dirname;
  for (let i = 0; i < 5; i++) {
    const candidate = path.join(dir, 'proto', file);
    if (existsSync(candidate)) return candidate;
    dir = path.dirname(dir);
  }
  throw new Error(`proto/${file} not found above ${__dirname}`);
}

let cached: ServiceClientConstructor | undefined;

/** The generated client constructor for shoal.ca.CA; its `.service` is the server definition. */
export function caClientConstructor(): ServiceClientConstructor {
  if (cached === undefined) {
    const def = loadSync(findProto('ca.proto'), { keepCase: false, defaults: true, oneofs: true });
    const pkg = loadPackageDefinition(def) as unknown as { shoal: { ca: { CA: ServiceClientConstructor } } };
    cached = pkg.shoal.ca.CA;
  }
  return cached;
}

/** The shoal.ca.CA service definition for Server.addService. */
export function caServiceDefinition(): ServiceDefinition {
  return caClientConstructor().service;
}
