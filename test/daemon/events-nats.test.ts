import assert from 'node:assert/strict';
import { connect, type NatsConnection } from 'nats';
import { NatsServer } from '../events/nats-server';
import { DaemonSet, waitFor } from './helpers';

describe('shoald --events-nats: the leader publishes the cluster\'s events', function () {
  this.timeout(60_000);
  let set: DaemonSet;
  let nats: NatsServer | undefined;
  let nc: NatsConnection | undefined;

  beforeEach(() => {
    set = new DaemonSet('nats');
  });

  afterEach(async () => {
    await nc?.close();
    const problems = await set.destroy();
    await nats?.close();
    assert.deepEqual(problems, []);
  });

  it('a service created on a manager with --events-nats reaches a NATS subscriber as shoal.<cluster>.service.create', async () => {
    nats = await NatsServer.start();
    const n1 = await set.start('n1', { eventsNats: nats.url });
    await n1.daemon.backend.swarmInit({ listenAddr: '', advertiseAddr: '', forceNewCluster: false });
    const clusterId = n1.daemon.backend.swarmState().clusterId;
    nc = await connect({ servers: nats.url });
    const subjects: string[] = [];
    const sub = nc.subscribe(`shoal.${clusterId}.service.>`);
    void (async () => { for await (const m of sub) subjects.push(m.subject); })();
    await nc.flush();
    await n1.daemon.backend.control().createService({ name: 'published', replicas: 0, task: { container: { image: 'busybox:latest', command: ['true'] } } });
    await waitFor(() => subjects.includes(`shoal.${clusterId}.service.create`), 'the service create event on NATS');
  });
});
