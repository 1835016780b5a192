import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import type { CommandContext } from '../../src/cli/command';
import type { ApiClient } from '../../src/cli/api-client';
import { nodeDemoteCommand, nodeUpdateCommand } from '../../src/cli/commands/node';
import { parseFlags } from '../../src/cli/flags';
import { ShoalError } from '../../src/types/errors';

/**
 * A node the managers keep writing (status, reachability): its version moves between the CLI's
 * read and its write. The CLI reads again and writes its spec change at the new version.
 */
function racingApi(bumpsBeforeWrite: number): { api: ApiClient; writes: { version: number; spec: unknown }[]; node: { ID: string; Version: { Index: number }; Spec: Record<string, unknown> } } {
  const node: { ID: string; Version: { Index: number }; Spec: Record<string, unknown> } = { ID: 'n1', Version: { Index: 10 }, Spec: { Role: 'manager', Availability: 'active', Labels: {} } };
  const writes: { version: number; spec: unknown }[] = [];
  let bumps = bumpsBeforeWrite;
  const api = {
    get: (p: string): Promise<unknown> => {
      assert.equal(p, '/nodes/n1');
      return Promise.resolve(structuredClone(node));
    },
    post: (p: string, body: Record<string, unknown>, q: { version: number }): Promise<unknown> => {
      assert.equal(p, '/nodes/n1/update');
      // The managers' own write lands between this read and this write.
      if (bumps > 0) {
        bumps--;
        node.Version.Index++;
      }
      if (q.version !== node.Version.Index) return Promise.reject(new ShoalError('Conflict', `update of node n1 refused: it was read at version ${q.version} but is now at version ${node.Version.Index}`));
      writes.push({ version: q.version, spec: body });
      node.Spec = { ...body };
      node.Version.Index++;
      return Promise.resolve(undefined);
    },
  } as unknown as ApiClient;
  return { api, writes, node };
}

function ctxOf(api: ApiClient): { ctx: CommandContext; out: () => string } {
  const stdout = new PassThrough();
  let text = '';
  stdout.on('data', (d: Buffer) => { text += d.toString('utf8'); });
  const ctx = { api: () => api, stdout, stderr: new PassThrough(), stdoutIsTTY: false, env: {}, cwd: '/', now: () => 0, onSignal: () => () => undefined } as unknown as CommandContext;
  return { ctx, out: () => text };
}

describe('shoal CLI: node spec changes survive the managers\' own writes to the node', () => {
  it('node demote reads again and writes at the new version when the node changed in between', async () => {
    const { api, writes, node } = racingApi(2);
    const { ctx, out } = ctxOf(api);
    assert.equal(await nodeDemoteCommand.run(ctx, parseFlags(['n1'], nodeDemoteCommand.flags, { command: 'node demote' })), 0);
    assert.deepEqual(writes.map((w) => w.version), [12]);
    assert.equal(node.Spec.Role, 'worker');
    assert.equal(out(), 'Manager n1 demoted in the swarm.\n');
    const again = ctxOf(api);
    await nodeDemoteCommand.run(again.ctx, parseFlags(['n1'], nodeDemoteCommand.flags, { command: 'node demote' }));
    assert.equal(again.out(), 'Node n1 is already a worker.\n');
  });

  it('node update keeps the user\'s change, and gives up with the conflict after five refusals', async () => {
    const ok = racingApi(1);
    await nodeUpdateCommand.run(ctxOf(ok.api).ctx, parseFlags(['--label-add', 'zone=a', 'n1'], nodeUpdateCommand.flags, { command: 'node update' }));
    assert.deepEqual(ok.node.Spec.Labels, { zone: 'a' });
    const busy = racingApi(99);
    await assert.rejects(nodeUpdateCommand.run(ctxOf(busy.api).ctx, parseFlags(['--availability', 'drain', 'n1'], nodeUpdateCommand.flags, { command: 'node update' })), (e: unknown) => ShoalError.is(e, 'Conflict'));
    assert.deepEqual(busy.writes, []);
  });
});
