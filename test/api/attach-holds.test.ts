import assert from 'node:assert/strict';
import { AttachHolds } from '../../src/api/attach-holds';

describe('attach holds', () => {
  it('a removal waits for every stream attached to the container by id or name, and no longer', async () => {
    const holds = new AttachHolds();
    let end1 = (): void => undefined;
    let end2 = (): void => undefined;
    holds.hold('abc', new Promise<void>((r) => { end1 = r; }));
    holds.hold('web', new Promise<void>((_r, reject) => { end2 = () => reject(new Error('client gone')); }));
    let released = false;
    const p = holds.released(['abc', 'web']).then(() => { released = true; });
    await new Promise((r) => setImmediate(r));
    assert.equal(released, false);
    end1();
    await new Promise((r) => setImmediate(r));
    assert.equal(released, false, 'the stream on the name still holds it');
    end2();
    await p;
    assert.equal(released, true);
    await holds.released(['abc', 'web', 'other']);
  });
});
