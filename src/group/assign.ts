import kafkajs from 'kafkajs';
import type { PartitionAssigner } from 'kafkajs';

const { AssignerProtocol } = kafkajs;

/**
 * How a group's tables map onto the partitions of its assignment topic: sorted by name,
 * partition i is table i, so every member started with the same --table list (in any order)
 * reads the same map.
 */
export function tablesByPartition(tables: readonly string[]): string[] {
  return [...new Set(tables)].sort();
}

export interface Member {
  id: string;
  /** The partitions it runs now (it told the group when it joined). */
  owned: number[];
}

/**
 * Who runs which partition: as even as it can be (no member more than one above another), and
 * moving as few as that allows: a member keeps what it runs up to its share, and what is left
 * goes to those with least. Pure, and the same for the same input (members by id).
 */
export function stickyAssign(partitions: readonly number[], members: readonly Member[]): Map<string, number[]> {
  const sorted = [...members].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  const out = new Map<string, number[]>(sorted.map((m) => [m.id, []]));
  if (sorted.length === 0) return out;
  const base = Math.floor(partitions.length / sorted.length);
  let bigger = partitions.length % sorted.length; // how many members may have base + 1
  const valid = new Set(partitions);
  const taken = new Set<number>();
  // Those that run most keep first, so that a member's share of base + 1 goes where it saves a move.
  for (const m of [...sorted].sort((a, b) => b.owned.length - a.owned.length)) {
    const keep = m.owned.filter((p) => valid.has(p) && !taken.has(p)).sort((a, b) => a - b);
    let cap = base;
    if (keep.length > base && bigger > 0) {
      cap = base + 1;
      bigger -= 1;
    }
    for (const p of keep.slice(0, cap)) {
      out.get(m.id)!.push(p);
      taken.add(p);
    }
  }
  for (const p of partitions) {
    if (taken.has(p)) continue;
    // The member with least (by id among equals), within its share.
    let best: string | undefined;
    for (const m of sorted) {
      const n = out.get(m.id)!.length;
      const cap = n < base ? base : bigger > 0 ? base + 1 : base;
      if (n >= cap) continue;
      if (best === undefined || n < out.get(best)!.length) best = m.id;
    }
    best ??= sorted[0]!.id;
    if (out.get(best)!.length === base) bigger -= 1;
    out.get(best)!.push(p);
    taken.add(p);
  }
  for (const list of out.values()) list.sort((a, b) => a - b);
  return out;
}

/**
 * A kafkajs partition assigner for the assignment topic: each member tells, when it joins, the
 * partitions it runs; the group's leader keeps them where they are as far as an even share
 * allows (stickyAssign). Tables that stay with their member keep running through a rebalance.
 */
export function stickyTablesAssigner(owned: () => number[]): PartitionAssigner {
  return ({ cluster }) => ({
    name: 'NowpipeStickyTables',
    version: 1,
    async assign({ members, topics }) {
      const topic = topics[0]!;
      const partitions = cluster.findTopicPartitionMetadata(topic).map((m) => m.partitionId);
      const plan = stickyAssign(
        partitions,
        members.map((m) => {
          let mine: number[] = [];
          try {
            const meta = AssignerProtocol.MemberMetadata.decode(m.memberMetadata);
            const parsed = JSON.parse(meta?.userData?.toString() || '{}') as { owned?: unknown };
            if (Array.isArray(parsed.owned)) mine = parsed.owned.filter((p): p is number => Number.isInteger(p));
          } catch {
            // A member that says nothing owns nothing.
          }
          return { id: m.memberId, owned: mine };
        }),
      );
      return members.map((m) => ({
        memberId: m.memberId,
        memberAssignment: AssignerProtocol.MemberAssignment.encode({ version: 1, assignment: { [topic]: plan.get(m.memberId) ?? [] }, userData: Buffer.alloc(0) }),
      }));
    },
    protocol({ topics }) {
      return {
        name: 'NowpipeStickyTables',
        metadata: AssignerProtocol.MemberMetadata.encode({ version: 1, topics, userData: Buffer.from(JSON.stringify({ owned: owned() })) }),
      };
    },
  });
}
