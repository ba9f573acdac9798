/** Long analyses run as server jobs: start, follow the progress, take the report. */

import { ApiError, api, get, post } from "./api.js";
import { on } from "./events.js";
import type { Job } from "./types.js";

/** How long to wait for a `job` event before asking the server (events may be off). */
const FALLBACK_MS = 3000;

/** `job` events heard while a job is followed, taken by {@link JobEvents.next}. Exported for tests. */
export class JobEvents {
  private heard: Partial<Job>[] = [];
  private wake: (() => void) | null = null;
  private closed = false;
  private readonly off: () => void;

  constructor() {
    this.off = on("job", (e) => {
      this.heard.push(e.data as Partial<Job>);
      this.wake?.();
    });
  }

  /** The newest event of job `id` heard since the last call, waiting `ms` at most (null: none). */
  async next(id: number, ms: number): Promise<Partial<Job> | null> {
    const deadline = Date.now() + ms;
    for (;;) {
      const mine = this.heard.filter((d) => d.id === id);
      this.heard = this.heard.filter((d) => d.id !== id);
      if (mine.length) return mine[mine.length - 1]!;
      const left = deadline - Date.now();
      if (left <= 0 || this.closed) return null;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(() => {
          this.wake = null;
          resolve();
        }, left);
        this.wake = () => {
          clearTimeout(timer);
          this.wake = null;
          resolve();
        };
      });
    }
  }

  /** Stops listening; a waiting {@link JobEvents.next} answers null at once. */
  close(): void {
    this.closed = true;
    this.off();
    this.wake?.();
  }
}

/**
 * Starts a job (`POST /jobs/<analysis>`), follows it by its `job` events (asking the
 * server when none come for a while) until it ends, and returns its report. `progress`
 * hears every step; aborting `signal` cancels the job on the server.
 */
export async function runJob<T>(analysis: string, body: unknown, progress: (j: Job) => void, signal: AbortSignal): Promise<T> {
  // Listening starts before the job does, so that a quick job's last event is not missed.
  const events = new JobEvents();
  let job: Job;
  try {
    job = await post<Job>(`/jobs/${analysis}`, body);
  } catch (e) {
    events.close();
    throw e;
  }
  const cancel = (): void => {
    void api("DELETE", `/jobs/${job.id}`).catch(() => {});
    events.close();
  };
  signal.addEventListener("abort", cancel);
  try {
    while (job.state === "running") {
      progress(job);
      const moved = await events.next(job.id, FALLBACK_MS);
      if (signal.aborted) throw new DOMException("left the page", "AbortError");
      if (moved?.state === "running") {
        job = { ...job, done: moved.done ?? job.done, total: moved.total ?? job.total, stage: moved.stage ?? job.stage };
      } else {
        // It ended (the report is not in the event) or nothing was heard: ask.
        job = await get<Job>(`/jobs/${job.id}`, signal);
      }
    }
  } finally {
    signal.removeEventListener("abort", cancel);
    events.close();
  }
  progress(job);
  if (job.state === "done") return job.result as T;
  const e = job.error;
  throw new ApiError(e?.status ?? 500, e?.code ?? job.state, e?.message ?? `the ${analysis} job ${job.state}`, e?.where ?? null);
}
