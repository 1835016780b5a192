import assert from 'node:assert/strict';
import { systemClock } from '../../src/types/clock';
import { ShoalError } from '../../src/types/errors';
import { initClusterPki, type ClusterPki } from '../../src/pki/cluster-init';
import { caDigestOf, JoinTokens, newJoinToken, parseJoinToken } from '../../src/pki/join-token';
import { certificateDigest } from '../../src/pki/root-ca';

describe('PKI: join tokens', function () {
  let pki: ClusterPki;

  before(async function () {
    pki = await initClusterPki({ clock: systemClock });
  });

  it('have the form SWMTKN-1-<digest of the root CA certificate>-<128-bit secret>', function () {
    const token = pki.tokens.current('worker');
    assert.match(token, /^SWMTKN-1-[0-9a-z]{50}-[0-9a-z]{25}$/);
    const { caDigest, secret } = parseJoinToken(token);
    assert.equal(caDigest, caDigestOf(pki.rootCa.certPem));
    assert.equal(BigInt(`0x${certificateDigest(pki.rootCa.certPem).toString('hex')}`).toString(36).padStart(50, '0'), caDigest);
    assert.equal(secret.length, 25); // 36^25 > 2^128
  });

  it('differ for workers and managers, and each fresh token has a fresh secret', function () {
    const secrets = new Set([pki.tokens.current('worker'), pki.tokens.current('manager'), newJoinToken(pki.rootCa.certPem), newJoinToken(pki.rootCa.certPem)].map((t) => parseJoinToken(t).secret));
    assert.equal(secrets.size, 4);
  });

  it('grant the role they were made for, and nothing for a near miss', function () {
    const tokens = new JoinTokens(pki.rootCa.certPem);
    assert.equal(tokens.roleOf(tokens.current('worker')), 'worker');
    assert.equal(tokens.roleOf(tokens.current('manager')), 'manager');
    const w = tokens.current('worker');
    const flipped = w.slice(0, -1) + (w.endsWith('0') ? '1' : '0');
    assert.equal(tokens.roleOf(flipped), undefined);
    assert.equal(tokens.roleOf(''), undefined);
    assert.equal(tokens.roleOf(`${w}x`), undefined);
    assert.equal(tokens.roleOf('x'.repeat(10_000)), undefined);
  });

  it('rotation replaces only the rotated role: the old token grants nothing, the other role is unchanged', function () {
    const tokens = new JoinTokens(pki.rootCa.certPem);
    const [oldWorker, manager] = [tokens.current('worker'), tokens.current('manager')];
    const fresh = tokens.rotate('worker');
    assert.equal(tokens.roleOf(oldWorker), undefined);
    assert.equal(tokens.roleOf(fresh), 'worker');
    assert.equal(tokens.roleOf(manager), 'manager');
    assert.equal(parseJoinToken(fresh).caDigest, parseJoinToken(oldWorker).caDigest, 'the CA is the same');
  });

  it('refuses malformed tokens with InvalidArgument, without echoing them', function () {
    for (const bad of ['', 'SWMTKN-1-abc-def', 'SWMTKN-2-' + 'a'.repeat(50) + '-' + 'b'.repeat(25), 'SWMTKN-1-' + 'A'.repeat(50) + '-' + 'b'.repeat(25)]) {
      assert.throws(() => parseJoinToken(bad), (err: unknown) => ShoalError.is(err, 'InvalidArgument') && (bad === '' || !err.message.includes(bad)));
    }
  });

  it('cannot be loaded for a CA they do not pin', async function () {
    const other = await initClusterPki({ clock: systemClock });
    assert.throws(
      () => new JoinTokens(pki.rootCa.certPem, { worker: other.tokens.current('worker'), manager: pki.tokens.current('manager') }),
      (err: unknown) => ShoalError.is(err, 'InvalidArgument'),
    );
  });
});
