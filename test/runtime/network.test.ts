import assert from 'node:assert/strict';
import * as dgram from 'node:dgram';
import * as fs from 'node:fs';
import * as net from 'node:net';
import { BridgeNetwork } from '../../src/runtime/bridge-network';
import { ContainerRuntime } from '../../src/runtime/container-runtime';
import { runCommand } from '../../src/runtime/run-command';
import { bridgeRuntime, busyboxLayer, leftovers, output, runToEnd, udpRecvLayer, type BridgeRuntime, type TestEnv } from './helpers';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Reads what a TCP server on 127.0.0.1:port sends, retrying while the container's listener comes up. */
async function readFromHostPort(port: number): Promise<string> {
  for (let i = 0; i < 50; i++) {
    const got = await new Promise<string>((resolve) => {
      let data = '';
      const s = net.connect({ host: '127.0.0.1', port });
      s.setEncoding('utf8');
      s.on('data', (d: string) => { data += d; });
      s.on('error', () => resolve(''));
      s.on('close', () => resolve(data));
    });
    if (got !== '') return got;
    await sleep(50);
  }
  return '';
}

describe('runtime: bridge networking, published ports, none and host modes', function () {
  this.timeout(60_000);
  let f: BridgeRuntime | undefined;
  let env: TestEnv;
  let rt: ContainerRuntime;
  let bridge: BridgeNetwork;
  const tag = process.pid % 10000;
  const hostPort = 20000 + (process.pid % 20000);

  before(async () => {
    f = await bridgeRuntime('net', `shtb${tag}`, `10.231.${process.pid % 250}.0/24`);
    ({ env, rt, bridge } = f);
  });

  after(async () => {
    await f?.close();
  });

  it('gives each container its address on the bridge, and two containers reach each other', async () => {
    const server = await rt.create({ layerDirs: [busyboxLayer()], config: { cmd: ['nc', '-l', '-p', '7000', '-e', 'sh', '-c', 'read l; echo "$l" >&2'] } });
    await rt.start(server);
    const ip = rt.inspect(server).network!.ip!;
    assert.match(ip, new RegExp(`^10\\.231\\.${process.pid % 250}\\.\\d+$`));
    const { state, out } = await runToEnd(rt, {
      network: 'bridge',
      cmd: ['sh', '-c', `ip -4 addr show eth0 | grep -o "inet [0-9./]*"; ping -c 1 -W 2 ${ip} >/dev/null && echo ping-ok; for i in 1 2 3 4 5; do echo hello-peer | nc ${ip} 7000 && break; sleep 0.1; done`],
    });
    assert.equal(state.exitCode, 0);
    assert.match(out[0], /^inet 10\.231\.\d+\.\d+\/24$/);
    assert.notEqual(out[0], `inet ${ip}/24`, 'two containers got the same address');
    assert.equal(out[1], 'ping-ok');
    assert.equal((await rt.wait(server)).exitCode, 0);
    assert.deepEqual((await output(rt, server)).err, ['hello-peer']);
  });

  it('makes a published TCP port reachable from the host', async () => {
    const id = await rt.create({ layerDirs: [busyboxLayer()], config: { cmd: ['sh', '-c', 'echo hi-from-container | nc -l -p 80'], ports: [{ hostPort, containerPort: 80, protocol: 'tcp' }] } });
    await rt.start(id);
    assert.equal(await readFromHostPort(hostPort), 'hi-from-container\n');
    await rt.stop(id, 0);
  });

  it('makes a published UDP port reachable from the host', async () => {
    const id = await rt.create({ layerDirs: [busyboxLayer(), udpRecvLayer()], config: { cmd: ['udp-recv', '5353'], ports: [{ hostPort: hostPort + 2, containerPort: 5353, protocol: 'udp' }] } });
    await rt.start(id);
    const sock = dgram.createSocket('udp4');
    try {
      let got: string[] = [];
      for (let i = 0; i < 40 && !got.includes('ping-udp'); i++) {
        sock.send('ping-udp\n', hostPort + 2, '127.0.0.1');
        await sleep(50);
        got = (await output(rt, id)).out;
      }
      assert.ok(got.includes('ping-udp'), `container got: ${JSON.stringify(got)}`);
    } finally {
      sock.close();
      await rt.stop(id, 0);
    }
  });

  it('after a crash, port rules and veths of containers that no longer run are removed at the next open', async () => {
    const id = await rt.create({ layerDirs: [busyboxLayer()], config: { cmd: ['sleep', '100'], ports: [{ hostPort: hostPort + 3, containerPort: 80, protocol: 'tcp' }] } });
    await rt.start(id);
    const pid = rt.inspect(id).pid!;
    rt.close({ stopShimServer: true });
    // The daemon "crashes": no teardown runs; the container dies while it is down.
    process.kill(pid, 'SIGKILL');
    await sleep(200);
    const before = await runCommand('iptables', ['-w', '-t', 'nat', '-S', bridge.chain]);
    assert.ok(before.includes(`shoal:${id}`), 'the rule should still be there before recovery');
    const fresh = new BridgeNetwork({ name: bridge.name, subnet: `10.231.${process.pid % 250}.0/24` });
    rt = await env.open({ network: fresh });
    f!.rt = rt;
    assert.equal(rt.inspect(id).status, 'exited');
    await rt.settle();
    const after = await runCommand('iptables', ['-w', '-t', 'nat', '-S', bridge.chain]);
    assert.ok(!after.includes(`shoal:${id}`), after);
  });

  it('refuses a host port already published or held by a host process, with a clear error', async () => {
    const id = await rt.create({ layerDirs: [busyboxLayer()], config: { cmd: ['sleep', '100'], ports: [{ hostPort, containerPort: 80, protocol: 'tcp' }] } });
    await rt.start(id);
    const second = await rt.create({ layerDirs: [busyboxLayer()], config: { cmd: ['true'], ports: [{ hostPort, containerPort: 81, protocol: 'tcp' }] } });
    await assert.rejects(rt.start(second), /host port \d+\/tcp is already published by container/);
    await rt.stop(id, 0);
    const holder = net.createServer();
    await new Promise<void>((r) => holder.listen(hostPort + 1, '127.0.0.1', r));
    try {
      const third = await rt.create({ layerDirs: [busyboxLayer()], config: { cmd: ['true'], ports: [{ hostPort: hostPort + 1, containerPort: 80, protocol: 'tcp' }] } });
      await assert.rejects(rt.start(third), /already in use on this host/);
    } finally {
      holder.close();
    }
  });

  it('network none has only loopback, network host shares the host\'s interfaces', async () => {
    const none = await runToEnd(rt, { network: 'none', cmd: ['sh', '-c', 'ls /sys/class/net; ping -c 1 -W 1 127.0.0.1 >/dev/null && echo lo-ok'] });
    assert.deepEqual(none.out, ['lo', 'lo-ok']);
    const host = await runToEnd(rt, { network: 'host', cmd: ['ls', '/sys/class/net'] });
    assert.ok(host.out.includes(bridge.name), `host mode should see ${bridge.name}: ${host.out.join(' ')}`);
  });

  it('leaves no veth or port rule behind once the containers are removed', async () => {
    for (const c of rt.list()) await rt.remove(c.id, { force: true });
    await rt.settle();
    rt.close({ stopShimServer: true });
    assert.deepEqual(leftovers(env), []);
    const links = await runCommand('ip', ['-o', 'link', 'show', 'master', bridge.name]);
    assert.equal(links.trim(), '');
    const rules = await runCommand('iptables', ['-w', '-t', 'nat', '-S', bridge.chain]);
    assert.ok(!rules.includes('shoal:'), rules);
  });

  it('destroying the bridge removes the bridge, its chain and its base rules', async () => {
    await bridge.destroy();
    assert.ok(!fs.existsSync(`/sys/class/net/${bridge.name}`));
    const all = await runCommand('iptables-save', []);
    assert.ok(!all.includes(bridge.name), 'iptables still mentions the bridge');
  });
});
