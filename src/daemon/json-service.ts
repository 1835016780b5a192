import * as grpc from '@grpc/grpc-js';
import { grpcStatusOf } from '../types/grpc-status';
import { typedErrorOf } from './typed-errors';

const json = {
  serialize: (v: unknown): Buffer => Buffer.from(JSON.stringify(v ?? {})),
  deserialize: (b: Buffer): unknown => (b.length === 0 ? {} : JSON.parse(b.toString('utf8'))),
};

/** A gRPC service of unary methods whose messages are JSON documents (small daemon-to-daemon calls). */
export function jsonServiceDefinition(service: string, methods: readonly string[]): grpc.ServiceDefinition {
  return Object.fromEntries(methods.map((m) => [m, {
    path: `/${service}/${m}`,
    requestStream: false,
    responseStream: false,
    requestSerialize: json.serialize,
    requestDeserialize: json.deserialize,
    responseSerialize: json.serialize,
    responseDeserialize: json.deserialize,
    originalName: m,
  }]));
}

/** A unary handler from an async function; every failure goes through the one error-to-status mapping. */
export function jsonHandler<Req, Res>(fn: (req: Req, call: grpc.ServerUnaryCall<Req, Res>) => Promise<Res>): grpc.handleUnaryCall<Req, Res> {
  return (call, cb) => {
    fn(call.request, call).then((v) => cb(null, v), (err: unknown) => cb({ ...grpcStatusOf(err), metadata: new grpc.Metadata() }));
  };
}

/** One call of a JSON service on a short-lived client, with a deadline; failures come back typed. */
export async function callJson<Res>(def: grpc.ServiceDefinition, address: string, creds: grpc.ChannelCredentials, options: grpc.ChannelOptions, method: string, req: unknown, timeoutMs: number): Promise<Res> {
  const Client = grpc.makeGenericClientConstructor(def, 'json');
  const client = new Client(address, creds, options);
  try {
    return await new Promise<Res>((resolve, reject) => {
      const fn = (client as unknown as Record<string, (r: unknown, o: grpc.CallOptions, cb: (e: grpc.ServiceError | null, v: Res) => void) => void>)[method];
      fn.call(client, req, { deadline: Date.now() + timeoutMs }, (err, v) => (err === null ? resolve(v) : reject(typedErrorOf(err, `${method} at ${address}`))));
    });
  } finally {
    client.close();
  }
}
