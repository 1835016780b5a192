import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { must, sleep } from './harness/exec';
import { Host } from './harness/host';
import { listNetns } from './harness/netns';
import { EchoServer, roundTrip, startEcho } from './harness/probe';
import { TestRun } from './harness/test-run';
import { udpDelivered } from './harness/udp';

const fakeDaemon = path.join(__dirname, 'harness', 'fake-shoald.js');

describe('cluster harness (no shoald needed)', function () {
  this.timeout(120_000);
  let t: TestRun;
  let echo: EchoServer;

  before(async () => {
    t = TestRun.create(3);
    echo = await startEcho(t.hosts[0], 7007);
  });
  after(() => {
    t?.teardown();
  });

  it('creates 3 hosts, each in its own namespace with its own address on the test subnet', () => {
    const [h1, h2, h3] = t.hosts;
    assert.deepEqual([h1.ip, h2.ip, h3.ip], [11, 12, 13].map((n) => `10.213.${t.net.k}.${n}`));
    for (const h of t.hosts) assert.ok(listNetns().includes(h.ns), `${h.ns} exists`);
    assert.ok(listNetns().includes(t.net.switchNs));
    assert.ok(!fs.readdirSync('/sys/class/net').some((l) => l.startsWith(t.net.prefix)), 'nothing is created in the root namespace');
  });

  it('inside a host, /sys shows its own links, the hostname is its name, and the cgroup hierarchies are there', async () => {
    const h2 = t.hosts[1];
    const r = await h2.exec('sh', ['-c', 'ls /sys/class/net; hostname; ls /sys/fs/cgroup']);
    const [links, rest] = [r.stdout.split('\n').slice(0, 2), r.stdout.split('\n').slice(2)];
    assert.deepEqual(links.sort(), ['eth0', 'lo'], r.stdout + r.stderr);
    assert.equal(rest[0], 'h2');
    const cgroups = rest.slice(1).filter((l) => l !== '');
    assert.deepEqual(cgroups.sort(), fs.readdirSync('/sys/fs/cgroup').sort());
  });

  it('a TCP echo server in one host is reached from the others by its address', async () => {
    for (const from of t.hosts.slice(1)) {
      const r = await roundTrip(from, echo.host.ip, echo.port);
      assert.ok(r.ok, `${from.name} -> ${echo.host.name}: ${r.error}`);
    }
  });

  it('cut takes a host off the network and heal brings it back', async () => {
    const [h1, h2] = t.hosts;
    await h1.cut();
    const cut = await roundTrip(h2, h1.ip, echo.port, { timeoutMs: 1500 });
    assert.equal(cut.ok, false, 'unreachable while cut');
    await h1.heal();
    const healed = await roundTrip(h2, h1.ip, echo.port);
    assert.ok(healed.ok, `reachable after heal: ${healed.error}`);
  });

  it('drop both ways isolates a host from the subnet; heal removes the rules', async () => {
    const [h1, h2, h3] = t.hosts;
    await h1.drop('both');
    for (const from of [h2, h3]) assert.equal((await roundTrip(from, h1.ip, echo.port, { timeoutMs: 1500 })).ok, false);
    assert.equal(await udpDelivered(h1, h2, 7101), 0, 'nothing leaves h1');
    await h1.heal();
    assert.ok((await roundTrip(h2, h1.ip, echo.port)).ok);
    assert.equal(await udpDelivered(h1, h2, 7102), 5);
  });

  it('a one-way drop stops one direction only, and only towards the peer named', async () => {
    const [h1, h2, h3] = t.hosts;
    await h1.drop('in', h2);
    assert.equal(await udpDelivered(h2, h1, 7103), 0, 'h2 -> h1 dropped');
    assert.equal(await udpDelivered(h1, h2, 7104), 5, 'h1 -> h2 still delivered');
    assert.equal(await udpDelivered(h3, h1, 7105), 5, 'h3 -> h1 untouched');
    await h1.heal();
    await h1.drop('out');
    assert.equal(await udpDelivered(h1, h2, 7106), 0, 'h1 -> h2 dropped');
    assert.equal(await udpDelivered(h2, h1, 7107), 5, 'h2 -> h1 still delivered');
    await h1.heal();
    assert.equal(await udpDelivered(h2, h1, 7108), 5);
    assert.equal(await udpDelivered(h1, h2, 7109), 5);
  });

  it('packet loss makes exchanges fail, and heal restores them all', async () => {
    const [h1, h2] = t.hosts;
    await h1.impair({ lossPercent: 60 });
    const lossy = [];
    for (let i = 0; i < 8; i++) lossy.push(await roundTrip(h2, h1.ip, echo.port, { timeoutMs: 700 }));
    await h1.heal();
    assert.ok(lossy.some((r) => !r.ok), `with 60% loss some of 8 exchanges time out: ${JSON.stringify(lossy)}`);
    for (let i = 0; i < 4; i++) assert.ok((await roundTrip(h2, h1.ip, echo.port)).ok);
  });

  it('latency (netem) or a rate limit (tbf, where the kernel has no netem) slows the link observably', async () => {
    const [h1, h2] = t.hosts;
    const bytes = 100_000;
    try {
      await h1.impair({ delayMs: 300 });
      const r = await roundTrip(h2, h1.ip, echo.port, { timeoutMs: 10_000 });
      await h1.heal();
      assert.ok(r.ok && r.ms! >= 300, `a 300 ms delay shows in the round trip: ${JSON.stringify(r)}`);
    } catch (e) {
      if (!(e instanceof Error) || !e.message.includes('no sch_netem')) throw e;
      await h1.impair({ rateKbit: 800 });
      const slow = await roundTrip(h2, h1.ip, echo.port, { bytes, timeoutMs: 20_000 });
      await h1.heal();
      // 100 kB back through 800 kbit/s takes 1 s at the least.
      assert.ok(slow.ok && slow.ms! >= 900, `rate-limited echo of 100 kB: ${JSON.stringify(slow)}`);
    }
    const fast = await roundTrip(h2, h1.ip, echo.port, { bytes, timeoutMs: 10_000 });
    assert.ok(fast.ok, `after heal: ${fast.error}`);
  });

  it('kill -9 takes the daemon and only it; restart brings it back; teardown finds what it left', async () => {
    const h3 = t.hosts[2];
    await h3.startDaemon([], { main: fakeDaemon });
    const pid = h3.daemonPid!;
    const childPid = Number((await h3.api('GET', '/child')).text);
    assert.ok(childPid > 0);
    await h3.kill9();
    assert.equal(h3.daemonPid, undefined);
    assert.equal(running(pid), false, 'the daemon is gone');
    assert.equal(running(childPid), true, 'its child lives on (kill -9 of one process)');
    assert.ok(await echoStillUp(t.hosts[1], echo), 'other processes in other hosts are untouched');
    await h3.restart();
    assert.notEqual(h3.daemonPid, pid);
    assert.equal((await h3.api('GET', '/_ping')).text, 'OK');
  });

  it('teardown leaves no process, namespace, link, mount or directory behind', async () => {
    const h3 = t.hosts[2];
    const childPid = Number((await h3.api('GET', '/child')).text);
    // a mount under the run's directory, as container root filesystems are
    const mnt = path.join(h3.dir, 'mnt');
    fs.mkdirSync(mnt);
    await must('mount', ['-t', 'tmpfs', 'shltst', mnt]);
    assert.ok(t.leftovers().length > 0, 'before teardown the run has things to remove');
    t.teardown();
    assert.deepEqual(t.leftovers(), []);
    await sleep(50);
    assert.equal(running(childPid), false, 'the orphaned child was killed');
    assert.ok(!listNetns().some((n) => n.startsWith(`${t.net.prefix}-`)));
  });
});

async function echoStillUp(from: Host, echo: EchoServer): Promise<boolean> {
  return (await roundTrip(from, echo.host.ip, echo.port)).ok;
}

/** Whether a process exists and is not a zombie (killed orphans may wait long for a reaper). */
function running(pid: number): boolean {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}
