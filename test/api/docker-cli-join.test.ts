import assert from 'node:assert/strict';
import { DockerCli, tableRows } from './docker-client';
import { ShoaldProcess } from './shoald-process';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** docker swarm join / leave and node rm through the local API of two real shoalds on loopback. */
describe('the docker CLI joins a second shoald to the swarm and removes it again', function () {
  this.timeout(300_000);
  const manager = new ShoaldProcess(1);
  const worker = new ShoaldProcess(2);
  let dm: DockerCli;
  let dw: DockerCli;
  let workerId = '';

  before(async () => {
    await manager.start();
    await worker.start();
    dm = new DockerCli(manager.socketPath);
    dw = new DockerCli(worker.socketPath);
  });

  after(async () => {
    await worker.cleanup();
    await manager.cleanup();
    dm?.cleanup();
    dw?.cleanup();
  });

  it('swarm join with the worker token makes the second node a ready worker', async () => {
    await dm.ok('swarm', 'init');
    const token = (await dm.ok('swarm', 'join-token', '-q', 'worker')).trim();
    const bad = await dw.run(['swarm', 'join', '--token', 'SWMTKN-1-nonsense', manager.grpcAddr]);
    assert.notEqual(bad.code, 0);
    assert.match(await dw.ok('info'), /Swarm: inactive/);
    const out = await dw.ok('swarm', 'join', '--token', token, manager.grpcAddr);
    assert.match(out, /This node joined a swarm as a worker\./);
    const info = await dw.ok('info');
    assert.match(info, /Swarm: active/);
    assert.match(info, /Is Manager: false/);
    workerId = /NodeID: (\w+)/.exec(info)![1];
    const end = Date.now() + 30_000;
    for (;;) {
      const rows = tableRows(await dm.ok('node', 'ls'));
      const w = rows.find((r) => r[0] === workerId);
      if (rows.length === 2 && w !== undefined && w[2] === 'Ready') {
        assert.equal(w[3], 'Active');
        assert.equal(w.length, 5, `a worker has no manager status: ${w.join(' | ')}`);
        break;
      }
      if (Date.now() > end) assert.fail(`the worker never showed as Ready:\n${rows.map((r) => r.join(' | ')).join('\n')}`);
      await sleep(500);
    }
  });

  it('a worker\'s API refuses control operations with Docker\'s message', async () => {
    const r = await dw.run(['node', 'ls']);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /This node is not a swarm manager\. Use "docker swarm init" or "docker swarm join" to connect this node to swarm and try again\./);
  });

  it('node rm refuses a node that is up; after swarm leave it goes down and node rm removes it', async () => {
    const up = await dm.run(['node', 'rm', workerId]);
    assert.notEqual(up.code, 0);
    assert.match(up.stderr, /not down/);
    assert.match(await dw.ok('swarm', 'leave'), /Node left the swarm\./);
    assert.match(await dw.ok('info'), /Swarm: inactive/);
    const end = Date.now() + 60_000;
    while (!(await dm.ok('node', 'ls')).split('\n').some((l) => l.startsWith(workerId) && /\bDown\b/.test(l))) {
      if (Date.now() > end) assert.fail(`the worker never showed as Down:\n${await dm.ok('node', 'ls')}`);
      await sleep(1000);
    }
    assert.equal((await dm.ok('node', 'rm', workerId)).trim(), workerId);
    assert.equal(tableRows(await dm.ok('node', 'ls')).length, 1);
  });
});
