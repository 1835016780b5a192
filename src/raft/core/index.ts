/** The Raft core: a deterministic state machine (see RawNode and Ready). */
export { RawNode, type RaftStatus } from './raw-node';
export { ProposalDroppedError } from './errors';
export { encodeConfChange, decodeConfChange } from './conf-change';
export * from './types';
