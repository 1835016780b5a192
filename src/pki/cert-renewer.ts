import type { Clock, TimerHandle } from '../types/clock';
import type { Random } from '../types/random';
import type { IssuedCredentials } from './ca-client';
import type { CertStore } from './cert-store';
import type { NodeCertificateInfo } from './node-certificate';
import type { NodeIdentity } from './node-identity';

/** Renewal happens at a random point in this fraction of the certificate's life (SwarmKit uses the same window). */
export const renewAtLifeFractionMin = 0.5;
/** Upper end of the renewal window. */
export const renewAtLifeFractionMax = 0.8;

/** When to renew a certificate, as a delay from nowMs: a random point between 50% and 80% of its life, or now if that has passed. */
export function renewalDelayMs(cert: Pick<NodeCertificateInfo, 'notBeforeMs' | 'notAfterMs'>, nowMs: number, random: Random): number {
  const lifeMs = cert.notAfterMs - cert.notBeforeMs;
  const fraction = renewAtLifeFractionMin + (renewAtLifeFractionMax - renewAtLifeFractionMin) * random.float();
  return Math.max(0, cert.notBeforeMs + lifeMs * fraction - nowMs);
}

/** Settings of a CertRenewer. */
export interface CertRenewerOptions {
  identity: NodeIdentity;
  /** One renewal attempt (normally renewCertificate against a manager's address). */
  renew: (identity: NodeIdentity) => Promise<IssuedCredentials>;
  /** Where the new key and certificate are saved before they are used; optional in tests. */
  store?: CertStore;
  /** Wall-clock time (epoch ms) and timers. */
  clock: Clock;
  random: Random;
  retryDelayMsMin?: number;
  retryDelayMsMax?: number;
  onRenewed?: (info: NodeCertificateInfo) => void;
  onError?: (err: unknown) => void;
}

/**
 * Keeps a node's certificate fresh: renews at a random point between 50% and 80% of its life (so
 * a fleet joined together does not renew together), retries failures with capped backoff, and on
 * demand after a promotion or demotion. Open connections are untouched; new ones use the new certificate.
 */
export class CertRenewer {
  private timer: TimerHandle | undefined;
  private inFlight: Promise<IssuedCredentials> | undefined;
  private failures = 0;
  private running = false;

  constructor(private readonly opts: CertRenewerOptions) {}

  /** Schedules the first renewal from the current certificate's validity. */
  start(): void {
    this.running = true;
    this.schedule(renewalDelayMs(this.opts.identity.info, this.opts.clock.now(), this.opts.random));
  }

  /** Cancels the pending renewal; an attempt in flight finishes but schedules nothing. */
  stop(): void {
    this.running = false;
    this.timer?.cancel();
    this.timer = undefined;
  }

  /** Renews at once (role change); joins an attempt already in flight. */
  renewNow(): Promise<IssuedCredentials> {
    this.inFlight ??= this.attempt().finally(() => {
      this.inFlight = undefined;
    });
    return this.inFlight;
  }

  private schedule(delayMs: number): void {
    this.timer?.cancel();
    if (!this.running) return;
    this.timer = this.opts.clock.setTimer(delayMs, () => {
      this.timer = undefined;
      this.renewNow().catch(() => undefined); // reported through onError and retried by attempt()
    });
  }

  private async attempt(): Promise<IssuedCredentials> {
    try {
      const issued = await this.opts.renew(this.opts.identity);
      // Saved before use: after a crash the node comes back with the key that matches its newest certificate.
      await this.opts.store?.saveNode(issued.material);
      this.opts.identity.update(issued.material);
      this.failures = 0;
      this.opts.onRenewed?.(issued.info);
      this.schedule(renewalDelayMs(issued.info, this.opts.clock.now(), this.opts.random));
      return issued;
    } catch (err) {
      this.failures++;
      this.opts.onError?.(err);
      this.schedule(this.retryDelayMs());
      throw err;
    }
  }

  // Exponential backoff with full jitter, capped; never past the moment the certificate expires.
  private retryDelayMs(): number {
    const min = this.opts.retryDelayMsMin ?? 1_000;
    const max = this.opts.retryDelayMsMax ?? 60_000;
    const ceiling = Math.min(max, min * 2 ** Math.min(this.failures, 30));
    const untilExpiry = this.opts.identity.info.notAfterMs - this.opts.clock.now();
    return Math.max(min, Math.min(min + this.opts.random.float() * (ceiling - min), untilExpiry));
  }
}
