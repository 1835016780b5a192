/**
 * Calls the control API (shoal.control.Control/ListNodes) of a manager with a node's own
 * certificate and key, as a process on that node could, and prints {"code": grpc status,
 * "details": ...}. Run inside a host's network namespace:
 *   node control-probe.js <certificates dir> <manager host:port>
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { ControlClientCtor } from '../../src/manager/controlapi/control-proto';
import { managerServerName } from '../../src/pki/tls-credentials';

const [certDir, addr] = process.argv.slice(2);
const read = (f: string): Buffer => fs.readFileSync(path.join(certDir, f));
// The server's certificate names a node, not a host: the chain to the cluster's root CA is what
// is checked here, as the daemon's own clients do.
const creds = grpc.credentials.createSsl(read('ca.crt'), read('node.key'), read('node.crt'), { checkServerIdentity: () => undefined });
const client = new ControlClientCtor(addr, creds, { 'grpc.ssl_target_name_override': managerServerName });
const deadline = new Date(Date.now() + 10_000);
(client as unknown as { ListNodes(req: object, opts: grpc.CallOptions, cb: (err: grpc.ServiceError | null) => void): void }).ListNodes({ roles: [], names: [] }, { deadline }, (err) => {
  console.log(JSON.stringify(err === null ? { code: 0 } : { code: err.code, details: err.details }));
  client.close();
});
