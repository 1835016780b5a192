import assert from 'node:assert/strict';
import { eventLine } from '../../src/cli/commands/events';
import { LogDemuxer, splitLogLine } from '../../src/cli/commands/service-read';
import { servicePretty } from '../../src/cli/commands/pretty';
import type { DService, DTask } from '../../src/cli/docker-types';
import { checkTemplate, formatInspect, formatRows, renderTemplate } from '../../src/cli/format';
import { countReplicas, markSelf, nodeColumns, nodeRow, serviceColumns, serviceRow, taskColumns, taskRows } from '../../src/cli/views';

const service: DService = {
  ID: 'abcdefghijklmnopqrstuvwxy', Version: { Index: 7 },
  Spec: { Name: 'web', Labels: { tier: 'front' }, TaskTemplate: { ContainerSpec: { Image: 'busybox:latest@sha256:0123' } }, Mode: { Replicated: { Replicas: 3 } }, EndpointSpec: { Ports: [{ Protocol: 'tcp', TargetPort: 80, PublishedPort: 8080 }] } },
};

const task = (id: string, slot: number, state: string, desired: string, at: string, err = ''): DTask => ({
  ID: id, ServiceID: service.ID, Slot: slot, NodeID: 'n1', DesiredState: desired, Spec: { ContainerSpec: { Image: 'busybox:latest@sha256:0123' } },
  Status: { State: state, Timestamp: at, ...(err === '' ? {} : { Err: err }) },
});

describe('shoal CLI: tables, json and templates', () => {
  it('prints service ls with docker\'s columns, counting replicas from tasks', () => {
    const tasks = [task('t1', 1, 'running', 'running', '2026-01-01T00:00:00Z'), task('t2', 2, 'running', 'running', '2026-01-01T00:00:00Z'), task('t3', 3, 'preparing', 'running', '2026-01-01T00:00:00Z')];
    const row = serviceRow(service, countReplicas([service], tasks).get(service.ID));
    assert.deepEqual(row, { ID: 'abcdefghijkl', Name: 'web', Mode: 'replicated', Replicas: '2/3', Image: 'busybox:latest', Ports: '*:8080->80/tcp' });
    assert.equal(formatRows([row], serviceColumns, {}),
      'ID             NAME   MODE         REPLICAS   IMAGE            PORTS\n'
      + 'abcdefghijkl   web    replicated   2/3        busybox:latest   *:8080->80/tcp\n');
    assert.equal(serviceRow({ ...service, ServiceStatus: { RunningTasks: 3, DesiredTasks: 3 } }, undefined).Replicas, '3/3');
  });

  it('prints json lines, -q, Go-like templates and table templates', () => {
    const rows = [{ ID: 'a1', Name: 'web', Replicas: '1/1' }, { ID: 'b2', Name: 'db', Replicas: '0/1' }];
    assert.equal(formatRows(rows, serviceColumns, { format: 'json' }), '{"ID":"a1","Name":"web","Replicas":"1/1"}\n{"ID":"b2","Name":"db","Replicas":"0/1"}\n');
    assert.equal(formatRows(rows, serviceColumns, { quiet: true }), 'a1\nb2\n');
    assert.equal(formatRows(rows, serviceColumns, { format: '{{.Name}}: {{.Replicas}}' }), 'web: 1/1\ndb: 0/1\n');
    assert.equal(formatRows(rows, serviceColumns, { format: 'table {{.Name}}\\t{{.Replicas}}' }), 'NAME   REPLICAS\nweb    1/1\ndb     0/1\n');
    assert.equal(renderTemplate('{{.Spec.Name}} {{json .Spec.Labels}} {{index .Spec.Labels "tier"}} {{upper .Spec.Name}}', service), 'web {"tier":"front"} front WEB');
    assert.equal(renderTemplate('{{.Spec.Labels}}', service), 'map[tier:front]');
    assert.throws(() => checkTemplate('{{range .X}}'), /unsupported action \{\{range \.X\}\}/);
    assert.throws(() => checkTemplate('{{.Name | printf}}'), /unsupported action/);
  });

  it('prints inspect as docker\'s indented JSON array, or a template per object', () => {
    assert.equal(formatInspect([{ ID: 'x' }], undefined), '[\n    {\n        "ID": "x"\n    }\n]\n');
    assert.equal(formatInspect([service, service], '{{.ID}}'), `${service.ID}\n${service.ID}\n`);
    assert.match(servicePretty(service), /^\nID:\s+abcdefghijklmnopqrstuvwxy\nName:\s+web\n/);
  });

  it('prints service ps with the history of each slot under its current task', () => {
    const tasks = [
      task('aaaaaaaaaaaaaaaaaaaaaaaaa', 1, 'shutdown', 'shutdown', '2026-01-01T00:00:00Z'),
      task('bbbbbbbbbbbbbbbbbbbbbbbbb', 1, 'running', 'running', '2026-01-01T00:00:55Z'),
      task('ccccccccccccccccccccccccc', 2, 'failed', 'shutdown', '2026-01-01T00:00:50Z', 'task: non-zero exit (1) and a very long explanation'),
    ];
    const rows = taskRows(tasks, new Map([[service.ID, 'web']]), new Map([['n1', 'host1']]), Date.parse('2026-01-01T00:01:00Z'), false);
    assert.deepEqual(rows.map((r) => r.Name), ['web.1', ' \\_ web.1', 'web.2']);
    assert.deepEqual(rows[0], { ID: 'bbbbbbbbbbbb', Name: 'web.1', Image: 'busybox:latest', Node: 'host1', DesiredState: 'Running', CurrentState: 'Running 5 seconds ago', Error: '', Ports: '' });
    assert.equal(rows[2].Error, '"task: non-zero exit (1) and …"');
    const header = formatRows(rows, taskColumns, {}).split('\n')[0];
    assert.match(header, /^ID\s+NAME\s+IMAGE\s+NODE\s+DESIRED STATE\s+CURRENT STATE\s+ERROR\s+PORTS$/);
    assert.equal(taskRows(tasks, new Map(), new Map(), 0, true)[2].Error, '"task: non-zero exit (1) and a very long explanation"');
    // A replaced task that reported SHUTDOWN after its replacement started stays under it: the newest created task leads.
    const replaced = [
      { ...task('bbbbbbbbbbbbbbbbbbbbbbbbb', 1, 'running', 'running', '2026-01-01T00:00:40Z'), CreatedAt: '2026-01-01T00:00:30Z' },
      { ...task('aaaaaaaaaaaaaaaaaaaaaaaaa', 1, 'shutdown', 'shutdown', '2026-01-01T00:00:50Z'), CreatedAt: '2026-01-01T00:00:00Z' },
    ];
    assert.deepEqual(taskRows(replaced, new Map([[service.ID, 'web']]), new Map(), 0, false).map((r) => [r.ID, r.Name]), [['bbbbbbbbbbbb', 'web.1'], ['aaaaaaaaaaaa', ' \\_ web.1']]);
  });

  it('prints node ls with a star on this node and the leader\'s manager status', () => {
    const node = { ID: 'n1', Version: { Index: 1 }, Spec: { Role: 'manager' as const, Availability: 'active' as const }, Description: { Hostname: 'h1', Engine: { EngineVersion: '0.1.0' } }, Status: { State: 'ready' }, ManagerStatus: { Leader: true, Reachability: 'reachable' } };
    const rows = markSelf([nodeRow(node, 'n1'), nodeRow({ ...node, ID: 'n2', ManagerStatus: undefined, Description: { Hostname: 'h2' }, Status: { State: 'down' } }, 'n1')]);
    const text = formatRows(rows, nodeColumns, {});
    assert.equal(formatRows([nodeRow(node, 'n1')], nodeColumns, { format: '{{.ID}} {{.Self}}' }), 'n1 true\n');
    assert.equal(text, 'ID     HOSTNAME   STATUS   AVAILABILITY   MANAGER STATUS   ENGINE VERSION\nn1 *   h1         Ready    Active         Leader           0.1.0\nn2     h2         Down     Active\n');
  });

  it('prints events as docker does', () => {
    const e = { Type: 'service', Action: 'create', Actor: { ID: 'svc1', Attributes: { name: 'web', image: 'busybox' } }, time: 1767225600, timeNano: 1767225600123456000 };
    assert.equal(eventLine(e), '2026-01-01T00:00:00.123456000Z service create svc1 (image=busybox, name=web)');
    assert.equal(eventLine({ ...e, timeNano: 1767225600737 * 1e6 }), '2026-01-01T00:00:00.737000000Z service create svc1 (image=busybox, name=web)');
    assert.equal(eventLine({ ...e, timeNano: undefined }), '2026-01-01T00:00:00.000000000Z service create svc1 (image=busybox, name=web)');
  });

  it('reads docker\'s multiplexed log stream and the details attributes', () => {
    const frame = (stream: number, text: string): Buffer => {
      const h = Buffer.alloc(8);
      h[0] = stream;
      h.writeUInt32BE(Buffer.byteLength(text), 4);
      return Buffer.concat([h, Buffer.from(text)]);
    };
    const d = new LogDemuxer();
    const both = Buffer.concat([frame(1, 'hello\n'), frame(2, 'oops\n')]);
    assert.deepEqual(d.push(both.subarray(0, 10)), [], 'half a frame waits for the rest');
    assert.deepEqual(d.push(both.subarray(10)), [{ stream: 'stdout', text: 'hello\n' }, { stream: 'stderr', text: 'oops\n' }]);
    assert.deepEqual(new LogDemuxer().push(Buffer.from('plain text\n')), [{ stream: 'stdout', text: 'plain text\n' }]);
    assert.deepEqual(splitLogLine('com.docker.swarm.node.id=n1,com.docker.swarm.service.id=s1,com.docker.swarm.task.id=t1 hello world', false), { time: '', taskId: 't1', nodeId: 'n1', message: 'hello world' });
    assert.deepEqual(splitLogLine('2026-01-01T00:00:00Z com.docker.swarm.task.id=t1 hi', true), { time: '2026-01-01T00:00:00Z', taskId: 't1', nodeId: '', message: 'hi' });
    assert.deepEqual(splitLogLine('just a line', false), { time: '', taskId: '', nodeId: '', message: 'just a line' });
  });
});
