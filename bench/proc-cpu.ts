/**
 * CPU time of other processes and of their threads, from Linux's `/proc` (user + system,
 * in seconds): what the scale phase of bench:kafka uses to show where the two cores went.
 * Undefined where `/proc` does not have it (another OS, a process already gone).
 */
import { readdirSync, readFileSync } from 'node:fs';

/** Clock ticks per second of `/proc/<pid>/stat` (USER_HZ, 100 on Linux builds). */
const TICKS_PER_SECOND = 100;

function statSeconds(path: string): number | undefined {
  try {
    const stat = readFileSync(path, 'utf8');
    // Fields after the command name (which may hold spaces) in parentheses: utime is the 12th, stime the 13th.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / TICKS_PER_SECOND;
  } catch {
    return undefined;
  }
}

/** CPU seconds of process `pid`, all its threads. */
export const processCpuSeconds = (pid: number): number | undefined => statSeconds(`/proc/${pid}/stat`);

/** CPU seconds of each thread of process `pid`, by thread id (the main thread's is `pid`). */
export function threadCpuSeconds(pid: number): Map<number, number> | undefined {
  try {
    const threads = new Map<number, number>();
    for (const tid of readdirSync(`/proc/${pid}/task`)) {
      const seconds = statSeconds(`/proc/${pid}/task/${tid}/stat`);
      if (seconds !== undefined) threads.set(Number(tid), seconds);
    }
    return threads;
  } catch {
    return undefined;
  }
}

/** The pid the local broker's script recorded (`npm run kafka:up`), if that broker runs. */
export function localBrokerPid(): number | undefined {
  try {
    const pid = Number(readFileSync('.cache/kafka/kafka.pid', 'utf8').trim());
    return processCpuSeconds(pid) === undefined ? undefined : pid;
  } catch {
    return undefined;
  }
}
