/**
 * Consumers of one process that join their group together (`processor.parallelism`'s
 * worker threads, src/parallel): kafkajs's round-robin assignment, plus one wait that keeps
 * the first of them to join from starting alone.
 *
 * They join at once (`barrier`), yet a coordinator with `group.initial.rebalance.delay.ms`
 * at 0 (Confluent's images, this project's local broker) completes a new group's first
 * generation with the first JoinGroup that reaches it: that member got every partition,
 * and the others' joins, milliseconds later, started a rebalance it noticed only at its
 * next heartbeat (3 s by default), after which the tasks it gave up restored from the state
 * topic. In `bench:kafka`'s scale phase that happened in about half of the runs of
 * `parallelism: 2`, which then took 1.1 s longer over 1M events.
 *
 * So the leader of a member's first generation, seeing fewer of them than were started,
 * waits before it assigns: until the coordinator, which their joins reach meanwhile,
 * prepares the next generation (DescribeGroups, polled), or `graceMs` at most. Its SyncGroup
 * is then refused (REBALANCE_IN_PROGRESS), upon which kafkajs joins again, now with them.
 * The members know each other by a token in their subscription's user data. The protocol's
 * name and the assignment are kafkajs's round robin, so members without the token (other
 * processes, earlier versions) share the group as before; a leader waits once, at its first
 * generation, not whenever a member is missing.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { Assigner, Cluster, GroupMember, PartitionAssigner } from 'kafkajs';
import { AssignerProtocol, PartitionAssigners } from './kafkajs.js';

export interface JoinTogether {
  /** The same for every one of them and for no other consumer (e.g. a random UUID per process). */
  readonly token: string;
  /** How many of them were started. */
  readonly count: number;
  /** Awaited once this one is set up, right before it joins the group: resolves when every one of them is. */
  readonly barrier: () => Promise<void>;
  /**
   * How long the leader of a first generation lacking some of them waits for their joins.
   * Default 500 ms: they are sent within milliseconds of each other, and a remote
   * coordinator needs two round trips for each (JoinGroup asks a new member to repeat it
   * with the member id it is given).
   */
  readonly graceMs?: number;
}

/** How often the waiting leader asks the coordinator whether the next generation is being prepared. */
const POLL_MS = 10;

/** Whether the coordinator is preparing the group's next generation: a member joined since this one formed. */
async function nextGenerationPrepared(cluster: Cluster, groupId: string): Promise<boolean> {
  const coordinator = await cluster.findGroupCoordinator({ groupId });
  const described = (await coordinator.describeGroups({ groupIds: [groupId] })) as { groups?: { state?: string }[] };
  return described.groups?.[0]?.state === 'PreparingRebalance';
}

/** Waits until the coordinator prepares the next generation of `groupId`, `graceMs` at most. */
async function awaitNextGeneration(cluster: Cluster, groupId: string, graceMs: number): Promise<void> {
  const until = Date.now() + graceMs;
  while (Date.now() < until) {
    // A failed poll (the coordinator moving) just waits on: the SyncGroup will tell.
    if (await nextGenerationPrepared(cluster, groupId).catch(() => false)) return;
    await sleep(Math.min(POLL_MS, until - Date.now()));
  }
}

/** The members of `members` whose subscription carries `token`. */
export function membersWithToken(members: readonly GroupMember[], token: string): number {
  let n = 0;
  for (const member of members) {
    try {
      if (AssignerProtocol.MemberMetadata.decode(member.memberMetadata)?.userData?.toString() === token) n++;
    } catch {
      // Another client's metadata: not one of them.
    }
  }
  return n;
}

/** kafkajs's round-robin assigner for consumers that join together (see the module's comment). */
export function joinTogetherAssigner(together: JoinTogether): PartitionAssigner {
  const userData = Buffer.from(together.token);
  const graceMs = together.graceMs ?? 500;
  return (config) => {
    const roundRobin: Assigner = PartitionAssigners.roundRobin(config);
    let first = true;
    return {
      name: roundRobin.name,
      version: roundRobin.version,
      async assign(group) {
        const wait = first && membersWithToken(group.members, together.token) < together.count;
        first = false;
        if (wait) await awaitNextGeneration(config.cluster, config.groupId, graceMs);
        return roundRobin.assign(group);
      },
      protocol({ topics }) {
        return { name: roundRobin.name, metadata: AssignerProtocol.MemberMetadata.encode({ version: roundRobin.version, topics, userData }) };
      },
    };
  };
}
