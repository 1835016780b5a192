import * as path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { loadSync } from '@grpc/proto-loader';

/** proto/ relative to this file, in src/ and in dist/src/ alike. */
function protoDir(): string {
  const up = __dirname.includes(`${path.sep}dist${path.sep}`) ? '../../../..' : '../../..';
  return path.resolve(__dirname, up, 'proto');
}

/** The generated client constructor of shoal.control.Control (its `.service` is the server definition). */
export const ControlClientCtor = (grpc.loadPackageDefinition(loadSync(path.join(protoDir(), 'control.proto'), {
  longs: Number, defaults: true, keepCase: false,
})) as unknown as { shoal: { control: { Control: grpc.ServiceClientConstructor } } }).shoal.control.Control;

/** The control API's method names, as the proto spells them. */
export const CONTROL_METHODS = [
  'CreateService', 'GetService', 'ListServices', 'UpdateService', 'RemoveService', 'GetTask', 'ListTasks',
  'GetNode', 'ListNodes', 'UpdateNode', 'RemoveNode', 'GetCluster', 'UpdateCluster',
] as const;

/** One control API method name. */
export type ControlMethod = (typeof CONTROL_METHODS)[number];
