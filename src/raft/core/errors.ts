import { ShoalError } from '../../types/errors';

/** A proposal the core would not take: not the leader, a transfer under way, or a change pending. */
export class ProposalDroppedError extends ShoalError {
  constructor(message: string) {
    super('Unavailable', message, { hint: 'retry on the current leader' });
  }
}
