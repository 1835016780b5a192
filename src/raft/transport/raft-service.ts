import type { ServiceDefinition } from '@grpc/grpc-js';

/** Fully-qualified name of the Raft transport service (managers only: see the authorization policy). */
export const raftServiceName = 'shoal.raft.Raft';

const bytes = {
  serialize: (b: Uint8Array): Buffer => Buffer.from(b.buffer, b.byteOffset, b.byteLength),
  deserialize: (b: Buffer): Uint8Array => b,
};

/**
 * proto/raft.proto's service, with messages carried as bytes that src/raft/wire/codec.ts
 * encodes and decodes: one protobuf pass, no intermediate plain objects.
 */
export const raftServiceDefinition: ServiceDefinition = {
  Stream: {
    path: `/${raftServiceName}/Stream`,
    requestStream: true,
    responseStream: false,
    requestSerialize: bytes.serialize,
    requestDeserialize: bytes.deserialize,
    responseSerialize: bytes.serialize,
    responseDeserialize: bytes.deserialize,
    originalName: 'stream',
  },
  InstallSnapshot: {
    path: `/${raftServiceName}/InstallSnapshot`,
    requestStream: true,
    responseStream: false,
    requestSerialize: bytes.serialize,
    requestDeserialize: bytes.deserialize,
    responseSerialize: bytes.serialize,
    responseDeserialize: bytes.deserialize,
    originalName: 'installSnapshot',
  },
};
