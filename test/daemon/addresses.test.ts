import assert from 'node:assert/strict';
import { advertiseAddress, localDialAddress, parseHostPort } from '../../src/daemon/addresses';
import { ShoalError } from '../../src/types/errors';

describe('shoald: listen and advertise addresses', () => {
  const any = { host: '0.0.0.0', port: 0 };

  it('advertises the given address, its port defaulting to the bound one; an interface name stands for its IPv4 address', () => {
    assert.equal(advertiseAddress('10.0.0.1', any, 2377), '10.0.0.1:2377');
    assert.equal(advertiseAddress('10.0.0.1:4000', any, 2377), '10.0.0.1:4000');
    assert.equal(advertiseAddress('lo', any, 2377), '127.0.0.1:2377');
    assert.equal(advertiseAddress('lo:4000', any, 2377), '127.0.0.1:4000');
  });

  it('without one, advertises the listen host unless it is a wildcard; local processes dial loopback on a wildcard', () => {
    assert.equal(advertiseAddress('', { host: '127.0.0.2', port: 0 }, 5000), '127.0.0.2:5000');
    assert.match(advertiseAddress('', any, 5000), /^\d+\.\d+\.\d+\.\d+:5000$/);
    assert.equal(localDialAddress(any, 5000), '127.0.0.1:5000');
    assert.equal(localDialAddress({ host: '::', port: 0 }, 5000), '127.0.0.1:5000');
  });

  it('refuses a malformed host:port naming the field and the value', () => {
    assert.deepEqual(parseHostPort('listen address', '[::1]:2377'), { host: '::1', port: 2377 });
    for (const bad of ['2377', 'host:', 'host:99999', 'a b:1']) {
      assert.throws(() => parseHostPort('listen address', bad), (e: unknown) => ShoalError.is(e, 'InvalidArgument') && (e as Error).message.includes('listen address') && (e as Error).message.includes(JSON.stringify(bad)));
    }
  });
});
