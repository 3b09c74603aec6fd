/**
 * Consumers of one process joining their group together (`processor.parallelism`):
 * the assigner alone (kafkajs's round robin, one wait at a first generation lacking some of
 * them), then two sources on the real broker, whose `group.initial.rebalance.delay.ms` is 0,
 * the second joining 100 ms after the first.
 */
import type { Cluster, GroupMember, GroupMemberAssignment, Logger, PartitionMetadata } from 'kafkajs';
import { afterEach, describe, expect, it } from 'vitest';
import { ensureTopics, joinTogetherAssigner, kafkaSource, type AssignmentChange, type JoinTogether } from '../../src/kafka/index.js';
import { membersWithToken } from '../../src/kafka/join-together.js';
import { AssignerProtocol, PartitionAssigners } from '../../src/kafka/kafkajs.js';
import { brokers, unique, waitFor } from './helpers.js';

const PARTITIONS = 4;
const cleanup: (() => Promise<void>)[] = [];
afterEach(async () => {
  await Promise.allSettled(cleanup.splice(0).map((close) => close()));
});

describe('joinTogetherAssigner', () => {
  const topics = ['a', 'b'];
  /** A cluster of two topics whose coordinator describes the group in `states` one after another (the last one then on). */
  const clusterOf = (states: string[] = ['CompletingRebalance']): { cluster: Cluster; polls: () => number } => {
    let polls = 0;
    const coordinator = { describeGroups: () => Promise.resolve({ groups: [{ groupId: 'g', state: states[Math.min(polls++, states.length - 1)] }] }) };
    const cluster = {
      findTopicPartitionMetadata: (topic: string) => Array.from({ length: topic === 'a' ? 5 : 3 }, (_, partitionId) => ({ partitionId }) as PartitionMetadata),
      findGroupCoordinator: () => Promise.resolve(coordinator),
    } as unknown as Cluster;
    return { cluster, polls: () => polls };
  };
  const config = { cluster: clusterOf().cluster, groupId: 'g', logger: {} as Logger };
  const member = (memberId: string, userData?: string): GroupMember => ({
    memberId,
    memberMetadata: AssignerProtocol.MemberMetadata.encode({ version: 0, topics, userData: Buffer.from(userData ?? '') }),
  });
  const together = (count: number): JoinTogether => ({ token: 'process-1', count, barrier: () => Promise.resolve(), graceMs: 150 });
  const decoded = (assignment: GroupMemberAssignment[]): unknown => assignment.map((a) => ({ memberId: a.memberId, ...AssignerProtocol.MemberAssignment.decode(a.memberAssignment) }));

  it("subscribes under kafkajs's round-robin protocol with the token as user data", () => {
    const assigner = joinTogetherAssigner(together(2))(config);
    const roundRobin = PartitionAssigners.roundRobin(config);
    const { name, metadata } = assigner.protocol({ topics });
    expect(name).toBe(roundRobin.protocol({ topics }).name);
    expect(AssignerProtocol.MemberMetadata.decode(metadata)).toEqual({ version: roundRobin.version, topics, userData: Buffer.from('process-1') });
  });

  it('counts the members carrying the token, whatever else the group holds', () => {
    const foreign: GroupMember = { memberId: 'java', memberMetadata: Buffer.from([0xff]) };
    expect(membersWithToken([member('m1', 'process-1'), member('m2'), member('m3', 'process-2'), foreign, member('m4', 'process-1')], 'process-1')).toBe(2);
  });

  it("assigns as kafkajs's round robin does, waiting once (the whole grace, no next generation coming) when its first generation lacks some of them", async () => {
    const assigner = joinTogetherAssigner(together(3))(config);
    const roundRobin = PartitionAssigners.roundRobin(config);
    const alone = [member('m2', 'process-1'), member('other')];
    let t0 = performance.now();
    const first = await assigner.assign({ members: alone, topics });
    expect(performance.now() - t0).toBeGreaterThanOrEqual(140);
    expect(decoded(first)).toEqual(decoded(await roundRobin.assign({ members: alone, topics })));
    // Its later generations are assigned at once, complete or not.
    t0 = performance.now();
    const later = await assigner.assign({ members: alone, topics });
    expect(performance.now() - t0).toBeLessThan(100);
    expect(decoded(later)).toEqual(decoded(first));
  });

  it('stops waiting as soon as the coordinator prepares the next generation', async () => {
    const { cluster, polls } = clusterOf(['CompletingRebalance', 'CompletingRebalance', 'PreparingRebalance']);
    const assigner = joinTogetherAssigner({ ...together(2), graceMs: 5_000 })({ ...config, cluster });
    const t0 = performance.now();
    await assigner.assign({ members: [member('m1', 'process-1')], topics });
    expect(performance.now() - t0).toBeLessThan(1_000);
    expect(polls()).toBe(3);
  });

  it('does not wait when every one of them is in its first generation', async () => {
    const assigner = joinTogetherAssigner(together(2))(config);
    const members = [member('m1', 'process-1'), member('m3'), member('m2', 'process-1')];
    const t0 = performance.now();
    const assignment = await assigner.assign({ members, topics });
    expect(performance.now() - t0).toBeLessThan(100);
    expect(decoded(assignment)).toEqual(decoded(await PartitionAssigners.roundRobin(config).assign({ members, topics })));
  });
});

describe('consumers joining together on the broker', () => {
  /** Two sources in one group, the second's barrier passing 100 ms after the first's; the assignment changes each saw. */
  async function joinTwo(graceMs?: number): Promise<AssignmentChange[][]> {
    const topic = unique('together');
    await ensureTopics({ brokers: brokers() }, [{ topic, numPartitions: PARTITIONS }]);
    const groupId = unique('together-group');
    const token = unique('process');
    let firstJoining: () => void = () => undefined;
    const firstJoins = new Promise<void>((resolve) => (firstJoining = resolve));
    const barriers = [
      () => {
        firstJoining();
        return Promise.resolve();
      },
      () => firstJoins.then(() => new Promise<void>((resolve) => setTimeout(resolve, 100))),
    ];
    const changes: AssignmentChange[][] = [[], []];
    barriers.forEach((barrier, i) => {
      const source = kafkaSource({ brokers: brokers(), groupId, topics: [topic], together: { token, count: 2, barrier, graceMs } });
      cleanup.push(() => source.stop(0));
      source.assignments.subscribe((change) => changes[i]!.push(change));
      source.records.subscribe();
    });
    return changes;
  }

  it('a member joining 100 ms after its sibling lands in the same first generation: neither starts with every partition', async () => {
    const changes = await joinTwo();
    await waitFor('both members assigned', () => changes.every((c) => c.length > 0), 20_000);
    const firsts = changes.map((c) => c[0]!.current.map((tp) => tp.partition));
    expect(firsts.map((f) => f.length)).toEqual([2, 2]);
    expect([...firsts[0]!, ...firsts[1]!].sort()).toEqual([0, 1, 2, 3]);
    // Nothing was taken back: the first assignment each got is the one it keeps.
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(changes.map((c) => c.length)).toEqual([1, 1]);
  });

  it('without the wait the broker completes the first generation with the first member alone, which gets every partition', async () => {
    const changes = await joinTwo(0);
    await waitFor('the first member assigned', () => changes[0]!.length > 0, 20_000);
    expect(changes[0]![0]!.current).toHaveLength(PARTITIONS);
  });
});
