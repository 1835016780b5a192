/* eslint-disable @typescript-eslint/no-unsafe-member-access, @typescript-eslint/no-unsafe-assignment, @typescript-eslint/no-unsafe-argument, @typescript-eslint/no-unsafe-return -- the tests walk Docker JSON field by field */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import type * as http from 'node:http';
import * as os from 'node:os';
import * as path from 'node:path';
import type { ApiBackend, ControlOps, EngineInfo, LocalSwarmState } from '../../src/api/backend';
import { createApiServer, listenUnix } from '../../src/api/server';
import { LocalBackend } from '../../src/cli/local-backend';
import { FailedPreconditionError } from '../../src/types/errors';
import { createHash } from 'node:crypto';
import { gzipSync } from 'node:zlib';
import { buildBusyboxImage, busyboxRootfsTar, busyboxRunConfig } from '../runtime/fixtures/busybox-image';
import { pushToRegistry, startRegistry, type TestRegistry } from '../runtime/fixtures/registry';
import { CliEnv } from '../cli/cli-harness';
import { call, demux, type ApiResponse } from './http-client';
import { DockerCli, tableRows } from './docker-client';

type J = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

/** A node outside any swarm whose containers and images are the real runtime and image store. */
class LocalOnlyBackend implements ApiBackend {
  constructor(readonly containers: LocalBackend, private readonly dataRoot: string) {}
  async engine(): Promise<EngineInfo> {
    const all = await this.containers.listContainers();
    const running = all.filter((c) => c.status === 'running').length;
    return { version: '0.1.0-test', hostname: os.hostname(), os: 'linux', kernelVersion: os.release(), architecture: os.machine(), ncpu: os.cpus().length, memTotal: os.totalmem(),
      dataRoot: this.dataRoot, containersRunning: running, containersStopped: all.length - running, images: (await this.containers.listImages()).length, cgroupVersion: '2' };
  }
  swarmState(): LocalSwarmState {
    return { state: 'inactive', nodeId: '', nodeAddr: '', clusterId: '', controlAvailable: false, error: '', remoteManagers: [] };
  }
  swarmInit(): Promise<string> { return Promise.reject(new FailedPreconditionError('not in this test')); }
  swarmJoin(): Promise<void> { return Promise.reject(new FailedPreconditionError('not in this test')); }
  swarmLeave(): Promise<void> { return Promise.reject(new FailedPreconditionError('this node is not part of a swarm')); }
  control(): ControlOps { throw new FailedPreconditionError('this node is not a swarm manager'); }
  serviceLogs(): AsyncIterable<never> { throw new FailedPreconditionError('this node is not a swarm manager'); }
  events(): AsyncIterable<never> { throw new FailedPreconditionError('this node is not a swarm manager'); }
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

describe('local API: single containers and images over the real runtime', function () {
  this.timeout(120_000);
  let env: CliEnv;
  let local: LocalBackend;
  let server: http.Server;
  let dir: string;
  let sock: string;
  let image: { dir: string; tarball: string };
  let docker: DockerCli;
  let reg: TestRegistry | undefined;
  const started = Math.floor(Date.now() / 1000) - 1;
  const api = (method: string, p: string, body?: unknown): Promise<ApiResponse> => call(sock, method, p, body);
  const json = (r: ApiResponse): J => r.json as J;

  before(async function () {
    if (process.getuid?.() !== 0) throw new Error('these tests run real containers (namespaces, cgroups, mounts): run them as root');
    env = new CliEnv(7);
    local = await LocalBackend.open({ dataRoot: env.root, bridgeName: env.bridgeName, bridgeSubnet: env.bridgeSubnet, cgroupParent: env.cgroupParent, ipForward: false });
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'shoal-api-ctr-'));
    sock = path.join(dir, 'shoal.sock');
    server = createApiServer(new LocalOnlyBackend(local, env.root), { engineVersion: '0.1.0-test', tmpDir: dir });
    await listenUnix(server, sock);
    image = await buildBusyboxImage({ reference: 'busybox:latest' });
    docker = new DockerCli(sock);
  });

  after(async () => {
    if (server !== undefined) {
      await new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeAllConnections();
    }
    local?.close();
    await env?.cleanup();
    docker?.cleanup();
    await reg?.stop();
    if (image !== undefined) fs.rmSync(image.dir, { recursive: true, force: true });
    if (dir !== undefined) fs.rmSync(dir, { recursive: true, force: true });
  });

  it('loads an image tarball (POST /images/load) and lists it (GET /images/json)', async () => {
    const r = await api('POST', '/v1.41/images/load?quiet=1', fs.readFileSync(image.tarball));
    assert.equal(r.status, 200, r.text);
    assert.deepEqual(r.text.trim().split('\n').map((l) => JSON.parse(l)), [{ stream: 'Loaded image: busybox:latest\n' }]);
    const imgs = json(await api('GET', '/v1.41/images/json')) as unknown as J[];
    assert.equal(imgs.length, 1);
    assert.deepEqual(imgs[0].RepoTags, ['busybox:latest']);
    assert.match(imgs[0].Id, /^sha256:[0-9a-f]{64}$/);
    assert.ok(imgs[0].Size > 0);
    const bad = await api('POST', '/v1.41/images/load', Buffer.from('this is not a tarball'));
    assert.ok(bad.status >= 400, bad.text);
    assert.equal(fs.readdirSync(dir).filter((f) => f.startsWith('shoal-load-')).length, 0, 'the spooled upload is removed');
  });

  it('refuses a create body of the wrong shape naming the field, creating nothing', async () => {
    const cases: [unknown, string][] = [
      [{ Image: 5 }, 'Image: expected string, got 5'],
      [{ Image: 'busybox', Cmd: [1] }, 'Cmd[0]: expected string, got 1'],
      [{ Image: 'busybox', HostConfig: { Memory: 'lots' } }, 'HostConfig.Memory: expected integer, got "lots"'],
      [{ Image: 'busybox', HostConfig: { PortBindings: { '80/tcp': [{ HostPort: 'x' }] } } }, 'HostConfig.PortBindings.80/tcp[0].HostPort: expected a port number, got "x"'],
      [{}, 'Image: an image is required'],
    ];
    for (const [body, msg] of cases) {
      const r = await api('POST', '/v1.41/containers/create', body);
      assert.equal(r.status, 400, r.text);
      assert.equal(json(r).message, msg);
    }
    const missing = await api('POST', '/v1.41/containers/create', { Image: 'nosuch:image' });
    assert.equal(missing.status, 404, missing.text);
    assert.deepEqual(json(await api('GET', '/v1.41/containers/json?all=1')), []);
  });

  it('creates, starts, waits for, shows the logs of, inspects, lists and removes a container', async () => {
    const r = await api('POST', '/v1.41/containers/create?name=hello', {
      Image: 'busybox:latest', Cmd: ['sh', '-c', 'echo out; echo err >&2; echo $GREETING; exit 3'], Env: ['GREETING=hi'], WorkingDir: '/tmp', HostConfig: { Memory: 64 * 2 ** 20, NanoCpus: 5e8 },
    });
    assert.equal(r.status, 201, r.text);
    const id = json(r).Id as string;
    assert.equal((await api('POST', `/v1.41/containers/hello/start`)).status, 204);
    const w = await api('POST', `/v1.41/containers/${id}/wait`);
    assert.deepEqual(w.json, { StatusCode: 3, Error: null });
    const logs = demux((await api('GET', `/v1.41/containers/${id}/logs?stdout=1&stderr=1`)).body);
    assert.deepEqual(logs.filter((f) => f.stream === 1).map((f) => f.text), ['out\n', 'hi\n']);
    assert.deepEqual(logs.filter((f) => f.stream === 2).map((f) => f.text), ['err\n']);
    const ts = demux((await api('GET', `/v1.41/containers/hello/logs?stdout=1&stderr=1&timestamps=1&tail=1`)).body);
    assert.equal(ts.length, 1);
    assert.match(ts[0].text, /^\d{4}-\d\d-\d\dT\S+Z (hi|err)\n$/);
    const insp = json(await api('GET', `/v1.41/containers/${id.slice(0, 12)}/json`));
    assert.equal(insp.Id, id);
    assert.equal(insp.Name, '/hello');
    assert.equal(insp.State.Status, 'exited');
    assert.equal(insp.State.ExitCode, 3);
    assert.equal(insp.State.Running, false);
    assert.equal(insp.HostConfig.Memory, 64 * 2 ** 20);
    assert.equal(insp.HostConfig.NanoCpus, 5e8);
    assert.equal(insp.Config.WorkingDir, '/tmp');
    assert.ok((insp.Config.Env as string[]).includes('GREETING=hi'));
    assert.deepEqual(json(await api('GET', '/v1.41/containers/json')), []);
    const all = json(await api('GET', '/v1.41/containers/json?all=true')) as unknown as J[];
    assert.equal(all.length, 1);
    assert.deepEqual(all[0].Names, ['/hello']);
    assert.equal(all[0].State, 'exited');
    assert.match(all[0].Status, /^Exited \(3\) /);
    assert.equal((await api('DELETE', `/v1.41/containers/${id}`)).status, 204);
    assert.equal((await api('GET', `/v1.41/containers/${id}/json`)).status, 404);
  });

  it('stops a running container with ?t= and removes one with --rm (AutoRemove) after it exits', async () => {
    const r = await api('POST', '/v1.41/containers/create?name=sleeper', { Image: 'busybox', Cmd: ['sleep', '100'] });
    const id = json(r).Id as string;
    assert.equal((await api('POST', `/v1.41/containers/${id}/start`)).status, 204);
    assert.equal((await api('POST', `/v1.41/containers/${id}/start`)).status, 304);
    assert.equal(json(await api('GET', `/v1.41/containers/${id}/json`)).State.Running, true);
    assert.equal((json(await api('GET', '/v1.41/containers/json')) as unknown as J[]).length, 1);
    assert.equal((await api('POST', `/v1.41/containers/${id}/stop?t=1`)).status, 204);
    const st = json(await api('GET', `/v1.41/containers/${id}/json`)).State;
    assert.equal(st.Status, 'exited');
    assert.equal((await api('POST', `/v1.41/containers/${id}/stop`)).status, 304);
    assert.equal((await api('DELETE', `/v1.41/containers/${id}?force=1`)).status, 204);
    const rm = json(await api('POST', '/v1.41/containers/create', { Image: 'busybox', Cmd: ['true'], HostConfig: { AutoRemove: true } })).Id as string;
    assert.equal((await api('POST', `/v1.41/containers/${rm}/start`)).status, 204);
    for (let i = 0; i < 100 && (await api('GET', `/v1.41/containers/${rm}/json`)).status === 200; i++) await sleep(50);
    assert.equal((await api('GET', `/v1.41/containers/${rm}/json`)).status, 404);
  });

  it('reports container and image events on /events, in Docker\'s shape and with its filters', async () => {
    const until = Math.ceil(Date.now() / 1000) + 1;
    const q = (f: Record<string, string[]>): string => `/v1.41/events?since=${started}&until=${until}&filters=${encodeURIComponent(JSON.stringify(f))}`;
    const lines = (r: ApiResponse): J[] => r.text.trim().split('\n').filter((l) => l !== '').map((l) => JSON.parse(l) as J);
    const hello = lines(await api('GET', q({ container: ['hello'] })));
    assert.deepEqual(hello.map((e) => e.Action), ['create', 'start', 'die', 'destroy']);
    for (const e of hello) {
      assert.equal(e.Type, 'container');
      assert.equal(e.scope, 'local');
      assert.equal(e.Actor.Attributes.name, 'hello');
      assert.equal(e.Actor.Attributes.image, 'busybox:latest');
      assert.ok(e.time >= started && e.timeNano >= e.time * 1e9);
    }
    assert.equal(hello[2].Actor.Attributes.exitCode, '3');
    const loads = lines(await api('GET', q({ type: ['image'] })));
    assert.deepEqual(loads.map((e) => [e.Action, e.Actor.Attributes.name]), [['load', 'busybox:latest']]);
    const dies = lines(await api('GET', q({ type: ['container'], event: ['die'] })));
    assert.ok(dies.length >= 3 && dies.every((e) => e.Action === 'die'));
    assert.equal((await api('GET', q({ scope: ['swarm'] }))).text, '');
    assert.equal((await api('GET', q({ type: ['service'] }))).text, '');
  });

  it('serves the docker CLI: load, images, run (attached, --rm, -d), wait, logs, ps -a, rm, events', async () => {
    const out = await docker.ok('load', '-i', image.tarball);
    assert.match(out, /Loaded image: busybox:latest/);
    assert.deepEqual(tableRows(await docker.ok('images')).map((r) => r.slice(0, 2)), [['busybox', 'latest']]);
    const id = (await docker.ok('run', '-d', '--name', 'dk', 'busybox', 'sh', '-c', 'echo from-docker')).trim();
    assert.match(id, /^[0-9a-f]+$/);
    assert.equal((await docker.ok('wait', 'dk')).trim(), '0');
    assert.equal(await docker.ok('logs', 'dk'), 'from-docker\n');
    const ps = tableRows(await docker.ok('ps', '-a'));
    assert.equal(ps.length, 1, JSON.stringify(ps));
    assert.equal(ps[0][ps[0].length - 1], 'dk');
    assert.match(await docker.ok('info'), /Containers: 1\n\s+Running: 0[\s\S]*Images: 1/);
    assert.equal((await docker.ok('rm', 'dk')).trim(), 'dk');
    assert.deepEqual(tableRows(await docker.ok('ps', '-a')), []);
    // docker run without -d: attach (output only), start, wait; --rm removes it afterwards.
    const attached = await docker.run(['run', '--rm', '--name', 'att', 'busybox', 'sh', '-c', 'echo out; echo err >&2; exit 4']);
    assert.deepEqual([attached.code, attached.stdout, attached.stderr], [4, 'out\n', 'err\n']);
    for (let i = 0; i < 100 && (await docker.run(['inspect', 'att'])).code === 0; i++) await sleep(50);
    assert.notEqual((await docker.run(['inspect', 'att'])).code, 0, 'the --rm container is removed');
    const slow = await docker.run(['run', '--name', 'slow', 'busybox', 'sh', '-c', 'echo a; sleep 1; echo b >&2; echo c']);
    assert.deepEqual([slow.code, slow.stdout, slow.stderr], [0, 'a\nc\n', 'b\n']);
    assert.equal((await docker.ok('rm', 'slow')).trim(), 'slow');
    const tty = await docker.run(['run', '-t', 'busybox', 'true']);
    assert.notEqual(tty.code, 0);
    assert.match(tty.stderr, /a TTY is not supported by shoal/);
    const exec = await docker.run(['exec', 'dk', 'true']);
    assert.notEqual(exec.code, 0);
    const ev = await docker.ok('events', '--since', String(started), '--until', String(Math.ceil(Date.now() / 1000) + 1), '--filter', 'container=dk', '--format', '{{.Type}} {{.Action}} {{.Actor.Attributes.name}}');
    assert.deepEqual(ev.trim().split('\n'), ['container create dk', 'container start dk', 'container die dk', 'container destroy dk']);
  });

  it('pulls from a registry (docker pull), inspects, imports and removes images (docker image inspect, import, rmi)', async () => {
    reg = await startRegistry('none');
    const sha = (b: Buffer): string => `sha256:${createHash('sha256').update(b).digest('hex')}`;
    const tar = await busyboxRootfsTar();
    const layer = gzipSync(tar);
    const config = Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', config: { ...busyboxRunConfig, Cmd: ['echo', 'pulled-default'] }, rootfs: { type: 'layers', diff_ids: [sha(tar)] } }));
    const manifest = Buffer.from(JSON.stringify({
      schemaVersion: 2, mediaType: 'application/vnd.oci.image.manifest.v1+json',
      config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: sha(config), size: config.length },
      layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest: sha(layer), size: layer.length }],
    }));
    await pushToRegistry(reg, 'team/apibox', [layer, config], [{ body: manifest, mediaType: 'application/vnd.oci.image.manifest.v1+json', ref: 'v1' }]);
    const ref = `${reg.host}/team/apibox:v1`;
    const pulled = await docker.ok('pull', ref);
    assert.match(pulled, new RegExp(`Status: Downloaded newer image for ${ref.replace(/\./g, '\\.')}`));
    const missing = await docker.run(['pull', `${reg.host}/team/nothing:v1`]);
    assert.notEqual(missing.code, 0);
    assert.match(missing.stderr, /team\/nothing/);
    assert.equal((await docker.ok('run', '--rm', ref)).trim(), 'pulled-default');
    const insp = JSON.parse(await docker.ok('image', 'inspect', ref)) as { Id: string; RepoTags: string[]; Config: { Cmd: string[] } }[];
    assert.equal(insp[0].Id, sha(config));
    assert.deepEqual(insp[0].RepoTags, [ref]);
    assert.deepEqual(insp[0].Config.Cmd, ['echo', 'pulled-default']);
    const rootfs = path.join(image.dir, 'rootfs.tar');
    fs.writeFileSync(rootfs, tar);
    const imported = await docker.ok('import', rootfs, 'imported:v1');
    assert.match(imported.trim(), /^sha256:[0-9a-f]{64}$/);
    assert.equal((await docker.ok('run', '--rm', 'imported:v1', 'echo', 'from-import')).trim(), 'from-import');
    const rmi = await docker.ok('rmi', ref);
    assert.match(rmi, new RegExp(`Untagged: ${ref.replace(/\./g, '\\.')}`));
    assert.match(rmi, /Deleted: sha256:[0-9a-f]{64}/);
    assert.equal((await docker.run(['image', 'inspect', ref])).code, 1);
    assert.match(await docker.ok('rmi', 'imported:v1'), /Untagged: imported:v1/);
    const exec = await call(sock, 'POST', '/v1.41/containers/anything/exec', { Cmd: ['true'] });
    assert.equal(exec.status, 501);
    assert.match(json(exec).message, /exec is not supported by shoal/);
  });
});
