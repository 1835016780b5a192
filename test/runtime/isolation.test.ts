import assert from 'node:assert/strict';
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { ContainerRuntime } from '../../src/runtime/container-runtime';
import { busyboxLayer, leftovers, runToEnd, testEnv, TestEnv, waitForLine } from './helpers';

function hashTree(dir: string): string {
  const h = crypto.createHash('sha256');
  const walk = (d: string): void => {
    for (const e of fs.readdirSync(d, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
      const p = path.join(d, e.name);
      h.update(p);
      if (e.isDirectory()) walk(p);
      else if (e.isFile()) h.update(fs.readFileSync(p));
      else if (e.isSymbolicLink()) h.update(fs.readlinkSync(p));
    }
  };
  walk(dir);
  return h.digest('hex');
}

describe('runtime: isolation (namespaces, rootfs, privileges)', function () {
  this.timeout(30_000);
  let env: TestEnv;
  let rt: ContainerRuntime;

  before(async () => {
    env = testEnv('iso');
    rt = await env.open();
  });

  after(async () => {
    for (const c of rt.list()) await rt.remove(c.id, { force: true });
    rt.close({ stopShimServer: true });
    env.cleanup();
  });

  it('runs the command as PID 1 and shows no host process', async () => {
    const { state, out } = await runToEnd(rt, { cmd: ['sh', '-c', 'echo $$; ls /proc | grep -E "^[0-9]+$" | wc -l'] });
    assert.equal(state.exitCode, 0);
    assert.equal(out[0], '1');
    // sh, ls, grep and wc at most: none of the host's hundreds of processes.
    assert.ok(Number(out[1]) <= 4, `container sees ${out[1]} processes`);
  });

  it('gives the container its own hostname, /etc/hostname and /etc/hosts', async () => {
    const { out } = await runToEnd(rt, { cmd: ['sh', '-c', 'hostname; cat /etc/hostname; grep -c "box-one" /etc/hosts; grep -c "^nameserver 127\\." /etc/resolv.conf'], hostname: 'box-one' });
    assert.deepEqual(out, ['box-one', 'box-one', '1', '0']);
  });

  it('shows only the container\'s own mounts in /proc/self/mountinfo', async () => {
    const { out } = await runToEnd(rt, { cmd: ['cat', '/proc/self/mountinfo'], mounts: [{ type: 'tmpfs', target: '/scratch' }] });
    const points = out.map((l) => l.split(' ')[4]);
    assert.ok(points.includes('/') && points.includes('/proc') && points.includes('/dev') && points.includes('/sys') && points.includes('/scratch'));
    const allowed = /^\/(proc|dev|sys|scratch|etc\/hosts$|etc\/hostname$|etc\/resolv\.conf$)?(\/|$)/;
    for (const p of points) assert.match(p, allowed, `unexpected mount point ${p}`);
    assert.ok(!out.some((l) => l.includes('/sys/fs/cgroup') || l.includes(' /work')), 'a host mount leaked in');
  });

  it('keeps every write in the upper dir: the layer and the host are untouched', async () => {
    const lower = busyboxLayer();
    const before = hashTree(lower);
    const script = [
      'echo new > /etc/new-file && echo wrote-etc',
      'echo junk > /bin/busybox.junk && rm /bin/cat && echo changed-bin',
      'echo 1 > /proc/sys/kernel/hostname 2>/dev/null || echo proc-sys-ro',
      'touch /sys/x 2>/dev/null || echo sys-ro',
      'mount -t tmpfs t /mnt 2>/dev/null || echo mount-refused',
      'echo c > /proc/sysrq-trigger 2>/dev/null || echo sysrq-refused',
    ].join('; ');
    const { out, id } = await runToEnd(rt, { cmd: ['sh', '-c', script] });
    assert.deepEqual(out, ['wrote-etc', 'changed-bin', 'proc-sys-ro', 'sys-ro', 'mount-refused', 'sysrq-refused']);
    assert.equal(hashTree(lower), before, 'the lower layer changed');
    const upper = path.join(env.root, 'containers', id, 'upper');
    assert.equal(fs.readFileSync(path.join(upper, 'etc', 'new-file'), 'utf8'), 'new\n');
  });

  it('refuses every write with a read-only root filesystem, but not on a tmpfs mount', async () => {
    const { out } = await runToEnd(rt, {
      cmd: ['sh', '-c', 'touch /etc/x 2>/dev/null || echo root-ro; touch /tmp/x && echo tmp-ok'],
      readOnlyRootfs: true,
      mounts: [{ type: 'tmpfs', target: '/tmp' }],
    });
    assert.deepEqual(out, ['root-ro', 'tmp-ok']);
  });

  it('cuts capabilities to Docker\'s default set, sets no_new_privs and a seccomp filter', async () => {
    const { out } = await runToEnd(rt, { cmd: ['sh', '-c', 'grep -E "^(CapEff|CapBnd|NoNewPrivs|Seccomp):" /proc/self/status; unshare -n true 2>/dev/null || echo unshare-refused'] });
    assert.deepEqual(out, ['CapEff:\t00000000a80425fb', 'CapBnd:\t00000000a80425fb', 'NoNewPrivs:\t1', 'Seccomp:\t2', 'unshare-refused']);
  });

  it('runs as the given user and groups with no effective capabilities', async () => {
    const { out } = await runToEnd(rt, { cmd: ['sh', '-c', 'id -u; id -g; id -G; grep CapEff /proc/self/status'], uid: 1000, gid: 1001, groups: [1002, 1003] });
    assert.deepEqual(out, ['1000', '1001', '1001 1002 1003', 'CapEff:\t0000000000000000']);
  });

  it('resolves a user name and its groups from the image, and refuses an unknown one', async () => {
    const { out } = await runToEnd(rt, { cmd: ['sh', '-c', 'id -u; id -g; id -G'], user: 'nobody' });
    assert.deepEqual(out, ['65534', '65534', '65534 100']);
    const byNames = await runToEnd(rt, { cmd: ['sh', '-c', 'id -u; id -g'], user: 'nobody:root' });
    assert.deepEqual(byNames.out, ['65534', '0']);
    const id = await rt.create({ layerDirs: [busyboxLayer()], config: { network: 'none', cmd: ['true'], user: 'nosuchuser' } });
    await assert.rejects(rt.start(id), /user "nosuchuser" is not in the image's \/etc\/passwd/);
  });

  it('passes environment and working dir, and provides the standard device nodes', async () => {
    const { out } = await runToEnd(rt, {
      cmd: ['sh', '-c', 'echo $GREETING; pwd; echo $(ls /dev); head -c 4 /dev/zero | wc -c'],
      env: ['GREETING=hello there'],
      workingDir: '/etc',
    });
    assert.equal(out[0], 'hello there');
    assert.equal(out[1], '/etc');
    for (const d of ['null', 'zero', 'full', 'random', 'urandom', 'tty', 'pts', 'shm', 'ptmx']) assert.ok(out[2].split(' ').includes(d), `missing /dev/${d}`);
    assert.equal(out[3], '4');
  });

  it('records the exit code, and refuses to start a command that does not exist', async () => {
    const { state } = await runToEnd(rt, { cmd: ['sh', '-c', 'exit 42'] });
    assert.equal(state.status, 'exited');
    assert.equal(state.exitCode, 42);
    const id = await rt.create({ layerDirs: [busyboxLayer()], config: { cmd: ['/no/such/binary'], network: 'none' } });
    await assert.rejects(rt.start(id), /exec: No such file or directory/);
    assert.equal(rt.inspect(id).status, 'created');
  });

  it('closes every host file descriptor before exec', async () => {
    const keep = fs.openSync('/dev/null', 'r');
    try {
      const { out } = await runToEnd(rt, { cmd: ['ls', '/proc/self/fd'] });
      // 0, 1, 2 and the one ls opened to read the directory.
      assert.deepEqual(out.map(Number).filter((n) => n > 3), []);
    } finally {
      fs.closeSync(keep);
    }
  });

  it('with init, PID 1 reaps orphans and forwards signals to the command', async () => {
    const id = await rt.create({ layerDirs: [busyboxLayer()], config: { network: 'none', init: true, cmd: ['sh', '-c', 'trap "echo term; exit 3" TERM; (sleep 0.05 &); echo pid $$; echo ready; while :; do sleep 0.05; done'] } });
    await rt.start(id);
    await waitForLine(rt, id, 'ready');
    const st = await rt.stop(id, 5000);
    assert.equal(st.exitCode, 3);
    const lines: string[] = [];
    for await (const e of rt.logs(id)) lines.push(e.line);
    assert.notEqual(lines[0], 'pid 1', 'the command should not be PID 1 under init');
    assert.ok(lines.includes('term'));
  });

  it('validates the config and names the bad field', async () => {
    await assert.rejects(rt.create({ layerDirs: [busyboxLayer()], config: { cmd: [] } }), /config.cmd/);
    await assert.rejects(rt.create({ layerDirs: ['relative'], config: { cmd: ['true'] } }), /layer dir/);
    await assert.rejects(rt.create({ layerDirs: [busyboxLayer()], config: { cmd: ['true'], env: ['NOEQUALS'] } }), /config.env/);
    await assert.rejects(rt.create({ layerDirs: [busyboxLayer()], config: { cmd: ['true'], limits: { memoryBytes: 10 } } }), /memoryBytes/);
    await assert.rejects(rt.create({ layerDirs: [busyboxLayer()], config: { cmd: ['true'], mounts: [{ type: 'tmpfs', target: '../x' }] } }), /mount target/);
  });

  it('leaves no mount, cgroup, process or directory behind after remove', async () => {
    for (const c of rt.list()) await rt.remove(c.id, { force: true });
    await rt.settle();
    rt.close({ stopShimServer: true });
    assert.deepEqual(leftovers(env), []);
  });
});
